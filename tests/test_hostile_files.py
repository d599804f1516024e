"""Tampering with a pod's files on disk: `ledger check`, `hearing export`, `verify FILE` and the
exhibit download each notice, and name the file (issue 16's findings, one test each)."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from test_evidence import make_pdf, upload
from test_ledger import courtroom_cli

from tests.conftest import ROOT, assert_error, courtroom_command
from tests.hostile import CASES
from tests.media_helpers import LOOPBACK_MEDIA, judge_in_session

SERVER_ARGS = (*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--broadcast-delay", "1")


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A public hearing recorded for a few seconds and broadcast (archive, replay, captions,
    an exhibit, the sealed event log), its server stopped: the data folder to tamper with."""
    from tests.conftest import make_server

    server = make_server(tmp_path_factory.mktemp("recorded"), *SERVER_ARGS)
    server.start_sync()
    try:
        return asyncio.run(_record(server)) | {"data": server.data_dir}
    finally:
        server.terminate()


async def _record(server) -> dict:
    import aiohttp

    from tests.conftest import Api

    async with aiohttp.ClientSession() as session:
        api = Api(session, server)
        hearing, (judge_p, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), public=True)
        hid = hearing["id"]
        pdf = make_pdf(1)
        exhibit = (await upload(api, hid, plaintiff_p["token"], pdf, "合同.pdf")).json
        async with judge_in_session(server.url, judge_p["token"]) as judge:
            await judge.act("broadcast_on")
            await asyncio.sleep(3)
            live = f"/public/hearings/{hid}/live/live.m3u8"
            for _ in range(100):
                if (await api.request("GET", live, None)).status == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await api.request("GET", live, None)).status == 200
            await judge.act("close")
            await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "closed")

        async def deposited() -> bool:
            listed = (await api.get_hearing(hid)).json["extra"].get("record_files", [])
            captions = [f for f in listed if f["kind"] == "captions"]
            if not captions:
                return False
            r = await api.request("GET", f"/public/verify?sha256={captions[0]['sha256']}", None)
            return bool(r.json["deposited"])

        for _ in range(150):
            if await deposited():
                break
            await asyncio.sleep(0.2)
        files = {f["kind"]: f for f in (await api.get_hearing(hid)).json["extra"]["record_files"]}
        assert {"archive", "replay", "captions"} <= set(files), files
        # Closed, and past the broadcast delay: the live playlist is gone, the replay is there.
        await asyncio.sleep(1.2)
        assert_error(await api.request("GET", live, None), 404, "not_found")
        assert (await api.request("GET", f"/public/hearings/{hid}/replay/replay.m3u8", None)).status == 200
        CASES["resources"] += 1

        # The exhibit: its SHA-256 is the ETag, a client holding it gets 304, a changed file is refused.
        path = f"/api/hearings/{hid}/evidence/{exhibit['id']}/file"
        r = await api.request("GET", path, api.admin_key)
        assert r.status == 200 and r.headers["ETag"] == f'"{exhibit["sha256"]}"'
        r = await api.request("GET", path, api.admin_key, headers={"If-None-Match": f'"{exhibit["sha256"]}"'})
        assert r.status == 304
        stored = server.data_dir / "evidence" / exhibit["sha256"]
        good = stored.read_bytes()
        stored.write_bytes(good[:50] + bytes([good[50] ^ 0xFF]) + good[51:])
        for _ in range(3):
            assert_error(await api.request("GET", path, api.admin_key), 409, "exhibit_altered")
        altered = [e for e in await api.events(hid) if e["kind"] == "evidence.altered"]
        assert len(altered) == 1 and altered[0]["data"]["expected_sha256"] == exhibit["sha256"], altered
        stored.write_bytes(good)  # put back: the file tests below start from an intact pod
        assert (await api.request("GET", path, api.admin_key)).status == 200
        return {"hearing_id": hid, "files": files, "exhibit": exhibit}


def flip_byte(path: Path, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def stderr_with_reader_gone(*args: str) -> bytes:
    """Run `courtroom ARGS` with its stdout pipe closed before it writes (as `| head` does)."""
    proc = subprocess.Popen([*courtroom_command(), *args], cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    proc.wait(30)
    return err


def _copy(recorded: dict, tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    """A copy of the pod's data folder, with the record files' paths inside the copy."""
    src: Path = recorded["data"]
    dst = tmp_path / "data"
    shutil.copytree(src, dst)
    db = dst / "courtroom.sqlite3"
    import sqlite3

    conn = sqlite3.connect(db)
    extra = conn.execute("SELECT extra FROM hearings WHERE id = ?", (recorded["hearing_id"],)).fetchone()[0]
    conn.execute("UPDATE hearings SET extra = ? WHERE id = ?", (extra.replace(str(src), str(dst)), recorded["hearing_id"]))
    conn.commit()
    conn.close()
    return dst, {k: Path(f["path"].replace(str(src), str(dst))) for k, f in recorded["files"].items()}


async def test_ledger_check_names_a_changed_archive_and_a_deleted_caption_file(recorded: dict, tmp_path: Path) -> None:
    data, files = _copy(recorded, tmp_path)
    r = await courtroom_cli("ledger", "check", "--data", str(data))
    assert r.returncode == 0, r.stdout + r.stderr
    answer = json.loads(r.stdout)
    assert answer["ok"] and answer["files_checked"] >= 5, answer  # exhibit, archive, replay, captions, events

    archive = files["archive"]
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    raw[len(raw) // 2 + 1] ^= 0x80
    archive.write_bytes(bytes(raw))
    files["captions"].unlink()
    t0 = time.monotonic()
    r = await courtroom_cli("ledger", "check", "--data", str(data))
    elapsed = time.monotonic() - t0
    print(f"ledger check named the tampered archive in {elapsed:.2f} s ({archive.stat().st_size} bytes)")
    assert r.returncode == 1, r.stdout
    answer = json.loads(r.stdout)
    assert answer["ok"] is False and answer["chain_ok"] is True
    problems = {Path(p["path"]).name: p for p in answer["file_problems"]}
    assert set(problems) == {archive.name, "captions.vtt"}, problems
    changed = problems[archive.name]
    assert changed["problem"] == "changed" and changed["expected_sha256"] == recorded["files"]["archive"]["sha256"]
    assert changed["actual_sha256"] and changed["actual_sha256"] != changed["expected_sha256"]
    assert problems["captions.vtt"]["problem"] == "missing" and problems["captions.vtt"]["actual_sha256"] is None
    assert str(archive) in r.stderr and "captions.vtt" in r.stderr and changed["actual_sha256"] in r.stderr
    CASES["files tampered"] += 2

    # A changed sealed event log and a changed exhibit are named too.
    log = data / "records" / recorded["hearing_id"] / "events.jsonl"
    log.write_bytes(log.read_bytes().replace(b"hearing.close", b"hearing.clos3"))
    exhibit = data / "evidence" / recorded["exhibit"]["sha256"]
    exhibit.write_bytes(exhibit.read_bytes() + b"\n")
    r = await courtroom_cli("ledger", "check", "--data", str(data))
    names = {Path(p["path"]).name for p in json.loads(r.stdout)["file_problems"]}
    assert r.returncode == 1 and {"events.jsonl", recorded["exhibit"]["sha256"]} <= names, names
    CASES["files tampered"] += 2


async def test_export_refuses_a_changed_file_and_names_it(recorded: dict, tmp_path: Path) -> None:
    data, files = _copy(recorded, tmp_path)
    hid = recorded["hearing_id"]
    r = await courtroom_cli("hearing", "export", hid, "--data", str(data), "--out", str(tmp_path / "good"))
    assert r.returncode == 0, r.stderr
    replay = files["replay"]
    flip_byte(replay, 200)
    r = await courtroom_cli("hearing", "export", hid, "--data", str(data), "--out", str(tmp_path / "bad"))
    assert r.returncode == 1 and str(replay) in r.stderr and "changed" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "bad").exists()
    CASES["files tampered"] += 1


async def test_verify_names_the_nearest_deposit_and_survives_a_closed_pipe(recorded: dict, tmp_path: Path) -> None:
    data, files = _copy(recorded, tmp_path)
    r = await courtroom_cli("verify", str(files["archive"]), "--data", str(data))
    assert r.returncode == 0 and json.loads(r.stdout)["deposited"] is True
    archive = files["archive"]
    archive.write_bytes(archive.read_bytes()[:-10])  # cut short
    r = await courtroom_cli("verify", str(archive), "--data", str(data))
    answer = json.loads(r.stdout)
    assert r.returncode == 1 and answer["deposited"] is False
    near = answer["nearest"]
    assert near["kind"] == "archive" and Path(near["path"]) == archive
    assert near["sha256"] == recorded["files"]["archive"]["sha256"]
    assert "nearest deposit" in r.stderr and str(archive) in r.stderr
    # A copy elsewhere under the same name: the deposit of that name.
    elsewhere = tmp_path / "mail" / "captions.vtt"
    elsewhere.parent.mkdir()
    elsewhere.write_text("WEBVTT\n\nchanged\n")
    answer = json.loads((await courtroom_cli("verify", str(elsewhere), "--data", str(data))).stdout)
    assert answer["nearest"]["kind"] == "captions"
    CASES["files tampered"] += 2

    # `courtroom verify FILE | head`: the reader is gone before the answer is written.
    err = await asyncio.to_thread(stderr_with_reader_gone, "verify", str(archive), "--data", str(data))
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    CASES["cli"] += 1


@pytest.mark.parametrize("content", [b"", b"\xff\xfe" * 100])
async def test_verify_of_odd_files_is_a_clean_answer(recorded: dict, tmp_path: Path, content: bytes) -> None:
    odd = tmp_path / "odd\u202ename.bin"
    odd.write_bytes(content)
    r = await courtroom_cli("verify", str(odd), "--data", str(recorded["data"]))
    assert r.returncode == 1 and json.loads(r.stdout)["deposited"] is False and "Traceback" not in r.stderr
    CASES["cli"] += 1


@pytest.mark.parametrize("args", [("verify", "/"), ("verify-bundle", "/dev/null"), ("hearing", "export", "nope")])
async def test_cli_with_wrong_paths_is_a_clean_answer(tmp_path: Path, recorded: dict, args: tuple[str, ...]) -> None:
    data = str(tmp_path / "empty") if args[0] != "hearing" else str(recorded["data"])
    r = await courtroom_cli(*args, "--data", data, *(["--out", str(tmp_path / "o")] if args[0] == "hearing" else []))
    assert r.returncode in (1, 2) and "Traceback" not in r.stderr, r.stderr
    CASES["cli"] += 1
