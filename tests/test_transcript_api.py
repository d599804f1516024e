"""The record over HTTP, against a real server.

Speech recognition is not wired to the record yet, so the segments are written the way the
server itself will write them: through `TranscriptService`, on the server's data folder,
while the server is stopped (SIGTERM); then it starts again on the same folder.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest
from conftest import ApiFactory, CourtroomServer, assert_error, make_server

from courtroom.admin import open_court
from courtroom.config import Config
from courtroom.record import canonical_part
from courtroom.transcript import TranscriptService

CASE = "（2026）京0491民初7号之二"
PEOPLE = [("judge", "王法官"), ("clerk", "赵书记"), ("plaintiff", "张三"), ("defendant", "李四"),
          ("agent", "钱律师", "defendant"), ("witness", "陈五")]
LINES = [  # (who, text, start, end)
    ("judge", "现在开庭。", 61.0, 62.5),
    ("plaintiff", "请求被告支付货款三千元 & 利息 <LPR>", 64.0, 68.0),
    ("defendant", "我方不同意。", 70.0, 71.2),
]


def _call(server: CourtroomServer, method: str, path: str, body: dict[str, Any], key: str | None = None) -> Any:
    request = urllib.request.Request(
        server.url + path, method=method, data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server.admin_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def _live_hearing(server: CourtroomServer, label: str) -> dict[str, Any]:
    hearing = _call(server, "POST", "/api/hearings", {"case_number": f"{CASE}{label}", "procedure": "ordinary",
                                                      "title": "张三诉李四买卖合同纠纷"})
    hid = hearing["id"]
    people = {}
    for role, name, *side in PEOPLE:
        body = {"role": role, "name": name, **({"side": side[0]} if side else {})}
        people[role] = _call(server, "POST", f"/api/hearings/{hid}/participants", body)
    _call(server, "POST", f"/api/hearings/{hid}/actions", {"action": "open"})
    for role in ("plaintiff", "defendant", "agent"):
        _call(server, "POST", f"/api/hearings/{hid}/actions", {"action": "admit", "participant": people[role]["id"]})
    _call(server, "POST", f"/api/hearings/{hid}/actions", {"action": "start"}, people["judge"]["token"])
    return {"id": hid, "people": people, "case_number": hearing["case_number"]}


async def _write_segments(data_dir: Any, hearings: list[dict[str, Any]]) -> None:
    court = open_court(Config(data_dir=data_dir))
    try:
        svc = TranscriptService(court)
        for h in hearings:
            h["segments"] = []
            for who, text, start, end in LINES:
                seg = await svc.add_final(h["id"], h["people"][who]["id"], text, start, end, [], "test")
                assert seg is not None
                h["segments"].append(seg.id)
    finally:
        court.db.close()


@pytest.fixture(scope="module")
def pod(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[CourtroomServer, dict[str, Any]]]:
    server = make_server(tmp_path_factory.mktemp("record"))
    server.start_sync()
    try:
        hearings = {name: _live_hearing(server, name) for name in ("甲", "乙", "丙")}
        server.terminate()
        asyncio.run(_write_segments(server.data_dir, list(hearings.values())))
        server.start_sync()
        yield server, hearings
    finally:
        server.terminate()


def _tok(h: dict[str, Any], role: str) -> str:
    return str(h["people"][role]["token"])


async def test_read_the_record_in_every_format(pod: tuple[CourtroomServer, dict[str, Any]], api_factory: ApiFactory) -> None:
    server, hearings = pod
    api, h = api_factory(server), hearings["甲"]
    path = f"/api/hearings/{h['id']}/transcript"
    types = {"json": "application/json", "vtt": "text/vtt", "srt": "application/x-subrip", "txt": "text/plain"}
    replies = {}
    for fmt, ctype in types.items():
        r = await api.request("GET", f"{path}?format={fmt}", api.admin_key)
        assert r.status == 200, r.text
        assert r.headers["Content-Type"] == f"{ctype}; charset=utf-8"
        replies[fmt] = r
    assert [s["text"] for s in replies["json"].json["segments"]] == [t for _, t, _, _ in LINES]
    assert replies["json"].json["record"]["sha256"] == hashlib.sha256(replies["txt"].text.encode()).hexdigest()
    assert "<v 原告 张三>请求被告支付货款三千元 &amp; 利息 &lt;LPR&gt;" in replies["vtt"].text
    assert "00:01:04,000 --> 00:01:08,000" in replies["srt"].text
    lines = replies["txt"].text.splitlines()
    assert f"案号：{h['case_number']}" in lines and "程序：普通程序" in lines
    assert "[00:01:01] 审判长（王法官）：现在开庭。" in lines
    assert "[00:01:10] 被告（李四）：我方不同意。" in lines

    assert (await api.request("GET", path, _tok(h, "plaintiff"))).status == 200
    assert (await api.request("GET", f"/api/hearings/{h['id']}/record", _tok(h, "agent"))).status == 200
    assert_error(await api.request("GET", path + "?format=docx", api.admin_key), 400, "invalid_format")
    assert_error(await api.request("GET", path, None), 401)
    assert_error(await api.request("GET", path, _tok(hearings["乙"], "judge")), 403)  # another hearing
    assert_error(await api.request("GET", path, _tok(h, "witness")), 403)  # not called yet
    assert_error(await api.request("GET", f"{path}/{h['segments'][0]}/history", _tok(h, "witness")), 403)
    r = await api.act(h["id"], "call_witness", token=_tok(h, "judge"), participant=h["people"]["witness"])
    assert r.status == 200, r.text
    assert (await api.request("GET", path, _tok(h, "witness"))).status == 200  # testifying now


async def test_corrections_by_the_clerk_and_judge(pod: tuple[CourtroomServer, dict[str, Any]], api_factory: ApiFactory) -> None:
    server, hearings = pod
    api, h = api_factory(server), hearings["乙"]
    seg = h["segments"][1]
    path = f"/api/hearings/{h['id']}/transcript/{seg}"
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"{server.url}/ws?token={_tok(h, 'judge')}"
    ) as ws:
        assert (await ws.receive_json(timeout=5))["type"] == "ice_servers"  # first, before any offer
        assert (await ws.receive_json(timeout=5))["type"] == "state"

        assert_error(await api.request("PATCH", path, _tok(h, "plaintiff"), json={"text": "三万元"}), 403, "forbidden")
        r = await api.request("PATCH", path, _tok(h, "clerk"), json={"text": "请求被告支付货款三百元"})
        assert r.status == 200, r.text
        assert r.json["segment"]["original_text"] == "请求被告支付货款三千元 & 利息 <LPR>"
        while (message := await ws.receive_json(timeout=5))["type"] != "transcript":
            pass
        assert message["corrected"] is True
        assert message["segment"]["id"] == seg and message["segment"]["text"] == "请求被告支付货款三百元"

        r = await api.request("PATCH", path, api.admin_key, json={"speaker": h["people"]["agent"]["id"]})
        assert r.status == 200, r.text
        assert {k: r.json["segment"][k] for k in ("speaker", "role", "name")} == {
            "speaker": h["people"]["agent"]["id"], "role": "agent", "name": "钱律师"}
    assert_error(await api.request("PATCH", path, api.admin_key, json={"speaker": "nobody"}), 400, "invalid_speaker")
    assert_error(await api.request("PATCH", path, api.admin_key, json={"text": 3}), 400)
    assert_error(await api.request("PATCH", path + "0000", api.admin_key, json={"text": "x"}), 404, "not_found")
    assert_error(await api.request("PATCH", path + "x", api.admin_key, json={"text": "x"}), 400, "invalid_segment")

    r = await api.request("GET", path + "/history", _tok(h, "judge"))
    assert r.status == 200
    assert [(e["editor"], e["field"]) for e in r.json["edits"]] == [
        (h["people"]["clerk"]["id"], "text"), ("clerk", "speaker"), ("clerk", "role"), ("clerk", "name")]
    txt = (await api.request("GET", f"/api/hearings/{h['id']}/transcript?format=txt", _tok(h, "plaintiff"))).text
    assert "[00:01:04] 被告诉讼代理人（钱律师）：请求被告支付货款三百元" in txt.splitlines()
    assert "三千元" not in txt
    events = await api.events(h["id"])
    assert [e["subject"] for e in events if e["kind"] == "record.correct"] == [str(seg)] * 2


async def test_confirmation_after_closing(pod: tuple[CourtroomServer, dict[str, Any]], api_factory: ApiFactory) -> None:
    server, hearings = pod
    api, h = api_factory(server), hearings["丙"]
    confirm = f"/api/hearings/{h['id']}/record/confirm"
    patch = f"/api/hearings/{h['id']}/transcript/{h['segments'][0]}"

    assert_error(await api.request("POST", confirm, _tok(h, "plaintiff"), json={"decision": "confirm"}), 409, "not_closed")
    assert (await api.act(h["id"], "close", token=_tok(h, "judge"))).status == 200
    for who in ("witness", "judge", "clerk"):
        assert_error(await api.request("POST", confirm, _tok(h, who), json={"decision": "confirm"}), 403)
    assert_error(await api.request("POST", confirm, api.admin_key, json={"decision": "confirm"}), 403)
    assert_error(await api.request("POST", confirm, _tok(h, "defendant"), json={"decision": "object"}), 400)
    assert_error(await api.request("GET", f"/api/hearings/{h['id']}/transcript", _tok(h, "witness")), 403)

    # In review a correction is a new version; a decision names the version it is about.
    before = (await api.request("GET", f"/api/hearings/{h['id']}/record", _tok(h, "plaintiff"))).json
    assert before["record_state"] == "review" and before["version_number"] == 1
    assert (await api.request("PATCH", patch, _tok(h, "judge"), json={"text": "现在开庭！"})).status == 200
    stale = await api.request("POST", confirm, _tok(h, "plaintiff"), json={"decision": "confirm", "version": before["version"]})
    assert stale.status == 409 and stale.json["error"] == "stale_version", stale.text
    latest = stale.json["latest"]
    assert latest != before["version"] and latest in stale.json["message"] and stale.json["latest_number"] == 2
    r = await api.request("POST", confirm, _tok(h, "plaintiff"), json={"decision": "confirm", "version": latest})
    assert r.status == 201, r.text
    sha = r.json["confirmation"]["sha256"]
    assert sha == latest and r.json["record"]["version"] == latest
    r = await api.request("POST", confirm, _tok(h, "defendant"), json={"decision": "object", "objection": "未记录我方举证"})
    assert r.status == 201 and r.json["confirmation"]["sha256"] == sha
    again = await api.request("POST", confirm, _tok(h, "plaintiff"), json={"decision": "confirm"})  # idempotent
    assert again.status == 201 and again.json["confirmation"]["wall_time"] == r.json["record"]["confirmations"][0]["wall_time"]
    assert_error(await api.request("POST", confirm, _tok(h, "plaintiff"), json={"decision": "confirm", "version": []}), 400)

    status = (await api.request("GET", f"/api/hearings/{h['id']}/record", _tok(h, "defendant"))).json
    assert status["sha256"] == status["version"] == sha and not status["sealed"] and not status["complete"]
    assert [(c["name"], c["decision"], c["objection"]) for c in status["confirmations"]] == [
        ("张三", "confirm", ""), ("李四", "object", "未记录我方举证")]
    assert [p["name"] for p in status["pending"]] == ["钱律师"]
    r = await api.request("GET", f"/api/hearings/{h['id']}/transcript?format=txt", _tok(h, "agent"))
    assert r.status == 200
    assert hashlib.sha256(canonical_part(r.text).encode()).hexdigest() == sha
    assert "[00:01:01] 审判长（王法官）：现在开庭！" in r.text
    assert "被告 李四：有异议。异议内容：未记录我方举证" in r.text
    assert "尚未确认：钱律师" in r.text
    v1 = await api.request("GET", f"/api/hearings/{h['id']}/record/versions/1", _tok(h, "agent"))
    assert v1.status == 200 and hashlib.sha256(v1.text.encode()).hexdigest() == before["version"]
