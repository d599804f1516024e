"""The `courtroom` command: help, and hearings made from a shell that a live server accepts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from conftest import ROOT, courtroom_command

CASE = "(2026)京0491民初1234号"


async def courtroom(*args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the command without blocking the event loop (a server may be running in the same test)."""
    environment = {k: v for k, v in os.environ.items() if k not in ("COURTROOM_DATA", "COURTROOM_ADMIN_KEY")}
    environment.update(env or {})
    proc = await asyncio.create_subprocess_exec(
        *courtroom_command(), *args, cwd=str(ROOT), env=environment,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    result = subprocess.CompletedProcess(list(args), proc.returncode or 0, out.decode(), err.decode())
    if check:
        assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


async def test_help() -> None:
    result = await courtroom("--help")
    assert "serve" in result.stdout and "hearing" in result.stdout
    assert "usage: courtroom" in result.stdout
    for sub in (["serve", "--help"], ["hearing", "--help"], ["hearing", "create", "--help"], ["hearing", "list", "--help"]):
        r = await courtroom(*sub)
        assert "--data" in r.stdout or "create" in r.stdout, sub
    assert "--data" in (await courtroom("serve", "--help")).stdout


async def test_bad_usage_exits_2_without_traceback() -> None:
    for args in ([], ["fly"], ["hearing"], ["hearing", "create"], ["serve", "--port", "x"]):
        r = await courtroom(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert "Traceback" not in r.stderr and "usage:" in r.stderr


def _people(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["role"]: p for p in result["participants"]}


async def test_create_list_and_join(tmp_path: Path, server_factory, api_factory) -> None:
    data = tmp_path / "pod"
    created = await courtroom(
        "hearing", "create", "--data", str(data), "--case-number", CASE, "--title", "张三诉李四买卖合同纠纷",
        "--public", "--participant", "judge:王法官", "--participant", "plaintiff:张三",
        "--participant", "agent:李律师:defendant",
    )
    result = json.loads(created.stdout)
    assert result["case_number"] == CASE and result["title"] == "张三诉李四买卖合同纠纷"
    assert result["state"] == "scheduled" and result["public"] is True and result["procedure"] == "simple"
    people = _people(result)
    assert set(people) == {"judge", "plaintiff", "agent"}
    assert people["judge"]["name"] == "王法官" and people["plaintiff"]["name"] == "张三"
    assert people["agent"]["side"] == "defendant"
    for p in people.values():
        assert p["join_url"].endswith("#token=" + p["token"]) and result["id"] in p["join_url"]
    assert (data / "courtroom.sqlite3").exists()
    assert oct((data / "secret.key").stat().st_mode & 0o777) == "0o600"

    # A server started on the same folder accepts those tokens.
    server = await server_factory(data_dir=data)
    api = api_factory(server)
    hid = result["id"]
    for role, p in people.items():
        r = await api.get_hearing(hid, token=p["token"])
        assert r.status == 200, (role, r.text)
        assert r.json["case_number"] == CASE
        me = {q["id"]: q for q in r.json["participants"]}[p["id"]]
        assert (me["role"], me["name"]) == (role, p["name"])
    r = await api.act(hid, "open", token=people["judge"]["token"])
    assert r.status == 200 and r.json["hearing"]["state"] == "open"
    assert (await api.act(hid, "close", token=people["plaintiff"]["token"])).status == 403

    # `hearing list` beside the live server (SQLite WAL) sees it, with the server's changes.
    listed = json.loads((await courtroom("hearing", "list", "--data", str(data))).stdout)
    mine = {h["id"]: h for h in listed["hearings"]}[hid]
    assert mine["case_number"] == CASE and mine["state"] == "open"
    assert {p["id"] for p in mine["participants"]} == {p["id"] for p in people.values()}
    for p in mine["participants"]:
        assert (await api.get_hearing(hid, token=p["token"])).status == 200

    # One made while the server runs is served at once.
    second = json.loads((await courtroom(
        "hearing", "create", "--data", str(data), "--case-number", "（2026）沪0104民初1号", "--procedure", "mediation",
        "--participant", "mediator:调解员",
    )).stdout)
    assert second["procedure"] == "mediation" and second["public"] is False
    mediator = second["participants"][0]
    r = await api.get_hearing(second["id"], token=mediator["token"])
    assert r.status == 200 and r.json["case_number"] == "（2026）沪0104民初1号"
    all_ids = [h["id"] for h in (await api.request("GET", "/api/hearings", api.admin_key)).json["hearings"]]
    assert set(all_ids) == {hid, second["id"]}


async def test_data_folder_from_the_environment(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    env = {"COURTROOM_DATA": str(data)}
    created = json.loads((await courtroom("hearing", "create", "--case-number", CASE, env=env)).stdout)
    assert (data / "courtroom.sqlite3").exists()
    listed = json.loads((await courtroom("hearing", "list", env=env)).stdout)
    assert [h["id"] for h in listed["hearings"]] == [created["id"]]
    empty = json.loads((await courtroom("hearing", "list", "--data", str(tmp_path / "empty"))).stdout)
    assert empty == {"hearings": []}


async def test_bad_participant_is_refused_cleanly(tmp_path: Path) -> None:
    data = tmp_path / "pod"
    for spec in ("bogus:某", "judge", "agent:李律师", "judge:王\x07法官"):
        r = await courtroom("hearing", "create", "--data", str(data), "--case-number", CASE,
                            "--participant", spec, check=False)
        assert r.returncode != 0, spec
        assert "Traceback" not in r.stderr, r.stderr
    listed = json.loads((await courtroom("hearing", "list", "--data", str(data))).stdout)
    assert listed["hearings"] == []  # all or nothing


async def test_a_missing_speech_model_stops_the_server_at_start_with_a_clear_message(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *courtroom_command(), "serve", "--data", str(tmp_path / "d"), "--port", "65001",
        "--asr-engine", "vosk", "--asr-model", str(tmp_path / "no-such-model"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    text = out.decode()
    assert proc.returncode == 2, text
    assert "no-such-model" in text and "Traceback" not in text
