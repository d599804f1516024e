"""Verification for anyone: `courtroom verify`, GET/POST /public/verify, and a hearing's exported
bundle checked offline by `courtroom verify-bundle` — which fails, naming the file, once any
file in it is altered."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

from conftest import assert_error
from test_evidence import form, make_pdf, make_picture, upload
from test_ledger import courtroom_cli

from courtroom.bundle import verify_bundle


async def test_deposited_file_verifies_and_a_changed_byte_does_not(server_factory, api_factory, tmp_path: Path) -> None:
    server = await server_factory()
    api = api_factory(server)
    hearing, (plaintiff,) = await api.hearing_with(("plaintiff", "张三"), case_number="(2026)京0491民初777号")
    pdf = make_pdf(2)
    exhibit = (await upload(api, hearing["id"], plaintiff["token"], pdf, "合同.pdf")).json
    original = tmp_path / "合同.pdf"
    original.write_bytes(pdf)
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(pdf[:100] + bytes([pdf[100] ^ 1]) + pdf[101:])

    # The command line, beside the running server.
    r = await courtroom_cli("verify", str(original), "--data", str(server.data_dir))
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert answer["deposited"] is True and answer["sha256"] == exhibit["sha256"]
    (entry,) = answer["entries"]
    assert entry["kind"] == "exhibit" and entry["hearing_id"] == hearing["id"]
    assert entry["case_number"] == "(2026)京0491民初777号" and entry["name"] == "原告证据1" and entry["wall_time"] > 0
    r = await courtroom_cli("verify", str(changed), "--data", str(server.data_dir))
    assert r.returncode == 1 and json.loads(r.stdout)["deposited"] is False
    r = await courtroom_cli("verify", str(tmp_path / "nothing.pdf"), "--data", str(server.data_dir))
    assert r.returncode == 2 and "Traceback" not in r.stderr

    # Over HTTP, for anyone: by hash and by upload.
    r = await api.request("GET", f"/public/verify?sha256={exhibit['sha256'].upper()}", None)
    assert r.status == 200 and r.json["deposited"] is True
    assert r.json["entries"] == [{"kind": "exhibit", "hearing_id": hearing["id"], "case_number": "(2026)京0491民初777号",
                                  "name": "原告证据1", "wall_time": entry["wall_time"], "seq": entry["seq"]}]
    r = await api.request("POST", "/public/verify", None, data=form(pdf, "any-name.bin"))
    assert r.status == 200 and r.json["deposited"] is True and r.json["sha256"] == exhibit["sha256"]
    r = await api.request("POST", "/public/verify", None, data=form(changed.read_bytes()))
    assert r.status == 200 and r.json == {"deposited": False, "sha256": hashlib.sha256(changed.read_bytes()).hexdigest(),
                                          "entries": [], "size": len(pdf)}
    r = await api.request("GET", f"/public/verify?sha256={hashlib.sha256(b'x').hexdigest()}", None)
    assert r.json["deposited"] is False
    for bad in ("", "?sha256=xyz", "?sha256=" + "g" * 64):
        assert_error(await api.request("GET", f"/public/verify{bad}", None), 400, "invalid_sha256")
    assert_error(await api.request("POST", "/public/verify", None, json={"sha256": exhibit["sha256"]}), 400)
    assert not (server.data_dir / "evidence" / "tmp").exists() or not list((server.data_dir / "evidence" / "tmp").iterdir())


async def test_exported_bundle_verifies_offline_and_catches_any_altered_file(server_factory, api_factory, tmp_path: Path) -> None:
    server = await server_factory()
    api = api_factory(server)
    hearing, (judge, plaintiff, defendant) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"))
    hid = hearing["id"]
    assert (await upload(api, hid, plaintiff["token"], make_pdf(2), "合同.pdf", label="买卖合同")).status == 201
    assert (await upload(api, hid, defendant["token"], make_picture("JPEG"), "收据.jpg")).status == 201
    assert (await api.act(hid, "open")).status == 200
    assert (await api.act(hid, "close", token=judge["token"])).status == 200
    # A party confirms the hearing record: its canonical text is deposited.
    r = await api.request("POST", f"/api/hearings/{hid}/record/confirm", plaintiff["token"], json={"decision": "confirm"})
    assert r.status == 201, r.text
    record_sha = r.json["record"]["sha256"]
    r = await api.request("GET", f"/public/verify?sha256={record_sha}", None)
    assert r.json["deposited"] and r.json["entries"][0]["kind"] == "transcript"
    await server.stop()

    # A record file deposited after closing (as the recorder does), then the hearing sealed again.
    from courtroom.admin import open_court
    from courtroom.config import Config
    from courtroom.ledger import Ledger

    court = open_court(Config(data_dir=server.data_dir))
    try:
        recording = server.data_dir / "recordings" / hid / "archive-000.mp4"
        recording.parent.mkdir(parents=True, exist_ok=True)
        recording.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 40)
        digest = hashlib.sha256(recording.read_bytes()).hexdigest()
        ledger = Ledger(court.store, server.data_dir)
        await court.db.run(ledger.deposit, "archive", hid, recording.name, digest, recording.stat().st_size)
        await court.update_extra(hid, record_files=[{"kind": "archive", "path": str(recording), "sha256": digest,
                                                     "size": recording.stat().st_size}])
        await court.db.run(ledger.seal, hid)
    finally:
        court.db.close()

    bundle = tmp_path / "bundle"
    r = await courtroom_cli("hearing", "export", hid, "--out", str(bundle), "--data", str(server.data_dir))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["root_seq"] is not None, summary  # sealed after its last deposit
    manifest = json.loads((bundle / "manifest.json").read_text())
    paths = {f["path"]: f for f in manifest["files"]}
    assert {"exhibits/plaintiff-1.pdf", "exhibits/defendant-1.jpg", "records/archive-000.mp4", "events.jsonl", "ledger.json"} <= set(paths)
    assert paths["exhibits/plaintiff-1.pdf"]["label"] == "原告证据1：买卖合同"
    assert all(f["ledger_seq"] is not None for f in manifest["files"] if f["kind"] not in ("ledger", "supplement"))
    assert paths["transcript/record-canonical.txt"]["kind"] == "transcript"
    assert paths["transcript/record-canonical.txt"]["sha256"] == record_sha

    # Checked on "another machine": a copy of the folder, with no database anywhere near it.
    elsewhere = tmp_path / "elsewhere" / "bundle"
    shutil.copytree(bundle, elsewhere)
    r = await courtroom_cli("verify-bundle", str(elsewhere), "--data", str(tmp_path / "no-pod"))
    assert r.returncode == 0, (r.stdout, r.stderr)
    report = json.loads(r.stdout)
    assert report["ok"] and report["root"] == manifest["root"] and report["problems"] == []

    # Any altered file fails the check, and the check names it.
    for name in sorted(paths):
        target = elsewhere / name
        original = target.read_bytes()
        flipped = bytearray(original or b"\n")
        flipped[len(flipped) // 2] ^= 0x01
        target.write_bytes(bytes(flipped))
        result = verify_bundle(elsewhere)
        assert not result.ok and any(p.startswith(f"{name}: altered") for p in result.problems), (name, result.problems)
        target.write_bytes(original)
    r = await courtroom_cli("verify-bundle", str(elsewhere))
    assert r.returncode == 0

    # A forged bundle that hides the change in the manifest too is still caught: the file no
    # longer matches its ledger entry.
    exhibit = elsewhere / "exhibits" / "plaintiff-1.pdf"
    exhibit.write_bytes(make_pdf(3))
    forged = json.loads((elsewhere / "manifest.json").read_text())
    for f in forged["files"]:
        if f["path"] == "exhibits/plaintiff-1.pdf":
            f["sha256"] = hashlib.sha256(exhibit.read_bytes()).hexdigest()
            f["size"] = exhibit.stat().st_size
    (elsewhere / "manifest.json").write_text(json.dumps(forged))
    r = await courtroom_cli("verify-bundle", str(elsewhere))
    assert r.returncode == 1 and "exhibits/plaintiff-1.pdf" in r.stderr and "ledger entry" in r.stderr

    # An extra file slipped in, and a file taken out.
    shutil.rmtree(elsewhere)
    shutil.copytree(bundle, elsewhere)
    (elsewhere / "exhibits" / "extra.pdf").write_bytes(b"%PDF-1.4")
    (elsewhere / "events.jsonl").unlink()
    problems = verify_bundle(elsewhere).problems
    assert any("exhibits/extra.pdf: not listed" in p for p in problems)
    assert any("events.jsonl: missing" in p for p in problems)

    # The same bundle as a zip.
    zipped = tmp_path / "bundle.zip"
    r = await courtroom_cli("hearing", "export", hid, "--out", str(zipped), "--data", str(server.data_dir))
    assert r.returncode == 0, r.stderr
    assert (await courtroom_cli("verify-bundle", str(zipped))).returncode == 0
    with zipfile.ZipFile(zipped) as z:
        names = set(z.namelist())
    assert "manifest.json" in names and "ledger.json" in names
    # Exporting an unknown hearing, or over a folder in use, fails cleanly.
    r = await courtroom_cli("hearing", "export", "nosuchhearing", "--out", str(tmp_path / "x"), "--data", str(server.data_dir))
    assert r.returncode == 1 and "Traceback" not in r.stderr
    r = await courtroom_cli("hearing", "export", hid, "--out", str(bundle), "--data", str(server.data_dir))
    assert r.returncode == 2 and "not an empty folder" in r.stderr
