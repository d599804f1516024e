"""Signed statements on the record: the pod's Ed25519 key, a bundle that `courtroom verify-bundle`
checks offline, and one changed byte in any signature or version that it names."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import shutil
import stat
import subprocess
from pathlib import Path

from PIL import Image

from courtroom import bundle
from courtroom.court import Actor, Court
from courtroom.signatures import KEY_FILE, PodSigner, load_public_key, verify_statement
from courtroom.transcript import TranscriptService
from tests.conftest import courtroom_command

CLERK = Actor.clerk()


def _verify_cli(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*courtroom_command(), "verify-bundle", str(path)], capture_output=True, text=True, timeout=60)


def _png() -> str:
    """A handwritten signature as the page's canvas sends it: a PNG data URL."""
    out = io.BytesIO()
    Image.new("RGBA", (60, 20), (0, 0, 0, 0)).save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


async def _signed_hearing(court: Court) -> tuple[str, TranscriptService]:
    svc = TranscriptService(court)
    h = await court.create_hearing({"case_number": "(2026)京0491民初77号"}, CLERK)
    people = {}
    for role, name in (("judge", "王法官"), ("clerk", "赵书记"), ("plaintiff", "张三"), ("defendant", "李四")):
        people[role], _ = await court.add_participant(h.id, {"role": role, "name": name}, CLERK)
    actor = {k: Actor(p.id, p.role, p) for k, p in people.items()}
    await court.act(h.id, CLERK, "open")
    await court.act(h.id, actor["judge"], "start")
    await svc.add_final(h.id, people["plaintiff"].id, "请求被告支付货款三千元。", 3.0, 5.0)
    await court.act(h.id, actor["judge"], "close")
    await svc.review.finish(h.id)
    await svc.review.wait_offered(h.id)
    await svc.confirm(h.id, people["defendant"], "object", "金额有误")
    seg = (await svc.segments(h.id))[0]
    await svc.correct(h.id, seg.id, actor["clerk"], text="请求被告支付货款三百元。")
    await svc.confirm(h.id, people["plaintiff"], "confirm", image=_png())
    await svc.confirm(h.id, people["defendant"], "confirm")
    await svc.review.decide(h.id, actor["clerk"], "sign")
    await svc.review.decide(h.id, actor["judge"], "sign", image=_png())
    assert (await svc.record_status(h.id))["record_state"] == "signed"
    return h.id, svc


async def test_statements_are_signed_by_the_pod_key(court: Court) -> None:
    hid, svc = await _signed_hearing(court)
    key_file = court.config.data_dir / KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    public = load_public_key(PodSigner.open(court.config.data_dir).info())  # the same key, read back
    statements = await svc.review.statements(hid)
    assert [s.kind for s in statements] == ["object", "confirm", "confirm", "sign", "sign"]
    for s in statements:
        assert verify_statement(public, s.statement, s.signature)
        data = json.loads(s.statement)
        assert data["hearing_id"] == hid and data["decision"] == s.kind and data["time"].endswith("+08:00")
    judge = statements[-1].data
    assert (judge["title_zh"], judge["role"], judge["version"]) == ("审判长", "judge", 2)
    assert judge["image_sha256"] == statements[-1].image_sha256 != ""
    assert not verify_statement(public, statements[0].statement.replace("金额有误", "金额无误"), statements[0].signature)


async def test_a_bundle_verifies_offline_and_names_any_tampered_signature(court: Court, tmp_path: Path) -> None:
    hid, _ = await _signed_hearing(court)
    out = tmp_path / "bundle"
    await bundle.export(court, hid, out)
    report = bundle.verify_bundle(out)
    assert report.ok, report.problems
    assert any("5 signed statement(s) on the record verified" in n for n in report.notes)
    # Offline, by the command line, with no database around.
    cli = await asyncio.to_thread(_verify_cli, out)
    assert cli.returncode == 0, cli.stderr

    doc_path = out / "signatures" / "statements.json"
    doc = json.loads(doc_path.read_text())
    for i, item in enumerate(doc["statements"]):  # one changed byte in any signature fails, and is named
        copy = tmp_path / f"tampered-{i}"
        shutil.copytree(out, copy)
        raw = bytearray(base64.b64decode(item["signature"]))
        raw[i % len(raw)] ^= 0x01
        changed = json.loads(doc_path.read_text())
        changed["statements"][i]["signature"] = base64.b64encode(bytes(raw)).decode()
        (copy / "signatures" / "statements.json").write_text(json.dumps(changed, ensure_ascii=False))
        bad = bundle.verify_bundle(copy)
        assert not bad.ok
        assert any(f"statement {item['id']} " in p and "does not verify" in p for p in bad.problems), bad.problems

    copy = tmp_path / "tampered-version"
    shutil.copytree(out, copy)
    version = copy / "signatures" / "versions" / "record-v2.txt"
    text = version.read_bytes()
    version.write_bytes(text.replace("三百".encode(), "三千".encode()))
    bad = bundle.verify_bundle(copy)
    assert any(p.startswith("record version 2 (signatures/versions/record-v2.txt): altered") for p in bad.problems), bad.problems
    cli = await asyncio.to_thread(_verify_cli, copy)
    assert cli.returncode == 1 and "record version 2" in cli.stderr
    assert hashlib.sha256(text).hexdigest() == doc["versions"][1]["sha256"]
