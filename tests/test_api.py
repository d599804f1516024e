"""The HTTP API against a real server on a loopback port: every error a real bad request produces,
Unicode round trips, and a whole hearing from creation to closing."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from conftest import Api, CourtroomServer, Reply, assert_error

CASE = "(2026)京0491民初1234号"
JSON = {"Content-Type": "application/json"}
LIMIT = 64 * 1024  # Config.max_json_bytes


def _nonce(server: CourtroomServer, participant_id: str) -> str:
    """A participant's token nonce, read from the live store (read only)."""
    conn = sqlite3.connect(f"file:{server.data_dir / 'courtroom.sqlite3'}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT token_nonce FROM participants WHERE id = ?", (participant_id,)).fetchone()[0]
    finally:
        conn.close()


async def _raw(api: Api, method: str, path: str, body: bytes, token: str | None = None,
               headers: dict[str, str] | None = None) -> Reply:
    return await api.request(method, path, api.admin_key if token is None else token, data=body,
                             headers={**JSON, **(headers or {})})


def _json_routes(hid: str) -> list[str]:
    return ["/api/hearings", f"/api/hearings/{hid}/participants", f"/api/hearings/{hid}/actions"]


# --- health ----------------------------------------------------------------------------------------


async def test_healthz(shared_api: Api) -> None:
    r = await shared_api.request("GET", "/healthz", None)
    assert r.status == 200 and r.json["status"] == "ok"
    assert r.headers["Content-Type"].startswith("application/json")


# --- 400 -------------------------------------------------------------------------------------------


async def test_metrics_are_for_the_court_only(shared_api: Api) -> None:
    assert_error(await shared_api.request("GET", "/metrics", None), 401, "unauthorized")
    _, (party,) = await shared_api.hearing_with(("plaintiff", "张三"))
    assert_error(await shared_api.request("GET", "/metrics", party["token"]), 403, "forbidden")
    r = await shared_api.request("GET", "/metrics", shared_api.admin_key)
    assert r.status == 200 and "courtroom_live_rooms" in r.text
    assert r.headers["Content-Type"].startswith("text/plain")


async def test_400_malformed_json(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing()
    for path in _json_routes(hearing["id"]):
        for body in [b"{", b"", b"{'a': 1}", b'{"a": }', b"\xff\xfe{}", b"{\"a\": 1} trailing"]:
            assert_error(await _raw(shared_api, "POST", path, body), 400, "malformed_json")


async def test_400_body_not_an_object(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing()
    for path in _json_routes(hearing["id"]):
        for body in [b"[]", b'[{"action": "open"}]', b'"open"', b"null", b"42", b"true"]:
            assert_error(await _raw(shared_api, "POST", path, body), 400, "malformed_json")


async def test_400_hearing_fields(shared_api: Api) -> None:
    key = shared_api.admin_key
    for body, code in [
        ({"case_number": CASE, "procedure": "trial_by_combat"}, "invalid_procedure"),
        ({"case_number": CASE, "procedure": 3}, "invalid_procedure"),
        ({"case_number": CASE, "procedure": None}, "invalid_procedure"),
        ({"procedure": "simple"}, "invalid_field"),  # no case number
        ({"case_number": "   "}, "invalid_field"),
        ({"case_number": 1234}, "invalid_field"),
        ({"case_number": "x" * 201}, "invalid_field"),
        ({"case_number": CASE, "public": "yes"}, "invalid_field"),
        ({"case_number": CASE, "scheduled_at": "tomorrow"}, "invalid_field"),
        ({"case_number": CASE, "procedure": "mediation", "public": True}, "not_public"),
    ]:
        assert_error(await shared_api.request("POST", "/api/hearings", key, json=body), 400, code)


async def test_400_participant_fields(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing()
    path = f"/api/hearings/{hearing['id']}/participants"
    key = shared_api.admin_key
    for body, code in [
        ({"name": "某", "role": "bailiff"}, "invalid_role"),
        ({"name": "某", "role": "Judge"}, "invalid_role"),
        ({"name": "某"}, "invalid_role"),
        ({"name": "调解员", "role": "mediator"}, "invalid_role"),  # not a mediation
        ({"name": "李律师", "role": "agent"}, "invalid_field"),  # an agent without a side
        ({"name": "李律师", "role": "agent", "side": "court"}, "invalid_field"),
        ({"name": "陈五", "role": "witness", "side": "plaintiff"}, "invalid_field"),
        ({"role": "judge"}, "invalid_field"),
        ({"name": "", "role": "judge"}, "invalid_field"),
        ({"name": ["王"], "role": "judge"}, "invalid_field"),
        ({"name": "王" * 101, "role": "judge"}, "invalid_field"),
    ]:
        assert_error(await shared_api.request("POST", path, key, json=body), 400, code)
    assert (await shared_api.get_hearing(hearing["id"])).json["participants"] == []


async def test_400_actions(shared_api: Api) -> None:
    hearing, (judge,) = await shared_api.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    path = f"/api/hearings/{hid}/actions"
    for action in ["fly", "OPEN", "", "hearing.open", "adjourn"]:
        assert_error(await shared_api.act(hid, action), 400, "unknown_action")
        assert_error(await shared_api.act(hid, action, token=judge["token"]), 400, "unknown_action")
    for body in [{}, {"action": 7}, {"action": None}, {"action": ["open"]}]:
        assert_error(await shared_api.request("POST", path, judge["token"], json=body), 400, "invalid_field")
    assert (await shared_api.act(hid, "open")).status == 200
    # An action on a participant without one; a self action with the clerk's key.
    assert_error(await shared_api.act(hid, "mute", token=judge["token"]), 400, "invalid_field")
    assert_error(await shared_api.act(hid, "mute", token=judge["token"], participant=5), 400, "invalid_field")
    assert_error(await shared_api.act(hid, "raise_hand"), 400, "invalid_field")
    r = await shared_api.request("GET", f"/api/hearings/{hid}/events?after=abc", judge["token"])
    assert_error(r, 400, "invalid_field")


@pytest.mark.parametrize(
    "bad",
    ["张\x00三", "张\n三", "a\tb", "\x1b[31m红", "李\u202e四", "王\u200b五", "\x7f", "x\x85y", "a\rb"],
)
async def test_400_control_characters(shared_api: Api, bad: str) -> None:
    key = shared_api.admin_key
    assert_error(await shared_api.request("POST", "/api/hearings", key, json={"case_number": bad}), 400, "invalid_field")
    assert_error(await shared_api.request("POST", "/api/hearings", key, json={"case_number": CASE, "title": bad}),
                 400, "invalid_field")
    hearing = await shared_api.create_hearing()
    r = await shared_api.request("POST", f"/api/hearings/{hearing['id']}/participants", key,
                                 json={"role": "plaintiff", "name": bad})
    assert_error(r, 400, "invalid_field")


# --- 401 -------------------------------------------------------------------------------------------


def _protected(hid: str) -> list[tuple[str, str]]:
    return [
        ("POST", "/api/hearings"),
        ("GET", "/api/hearings"),
        ("GET", f"/api/hearings/{hid}"),
        ("POST", f"/api/hearings/{hid}/participants"),
        ("POST", f"/api/hearings/{hid}/actions"),
        ("GET", f"/api/hearings/{hid}/events"),
    ]


async def test_401_without_credentials(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing()
    for method, path in _protected(hearing["id"]):
        body = {"action": "open"} if method == "POST" else None
        assert_error(await shared_api.request(method, path, None, json=body), 401, "unauthorized")
        for header in ["Basic " + shared_api.admin_key, "Bearer", "Bearer    ", shared_api.admin_key, "Token x"]:
            r = await shared_api.request(method, path, None, json=body, headers={"Authorization": header})
            assert_error(r, 401, "unauthorized")
    # Nothing happened.
    assert (await shared_api.get_hearing(hearing["id"])).json["state"] == "scheduled"


async def test_401_bad_tokens(shared_api: Api, module_server: CourtroomServer) -> None:
    hearing, (judge, party) = await shared_api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    token = party["token"]
    payload, signature = token.split(".")
    forged_sig = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    other_secret = type(module_server.signer())("not-the-server-secret", 3600).issue(hid, party["id"], "plaintiff",
                                                                                        _nonce(module_server, party["id"]))
    for bad in [forged_sig, token[:-4], payload, "garbage", "a.b", "x" * 3000, other_secret,
                shared_api.admin_key + "x", judge["token"] + "x"]:
        assert_error(await shared_api.get_hearing(hid, token=bad), 401, "bad_token")
        assert_error(await shared_api.act(hid, "open", token=bad), 401, "bad_token")
    # Expired: signed with the server's own secret, with a negative lifetime.
    expired = module_server.signer(ttl=-60).issue(hid, party["id"], "plaintiff", _nonce(module_server, party["id"]))
    assert_error(await shared_api.get_hearing(hid, token=expired), 401, "token_expired")
    # The same, but alive: the server's secret and the stored nonce are right.
    alive = module_server.signer(ttl=60).issue(hid, party["id"], "plaintiff", _nonce(module_server, party["id"]))
    assert (await shared_api.get_hearing(hid, token=alive)).status == 200
    assert (await shared_api.get_hearing(hid, token=token)).status == 200


async def test_401_removed_participant(shared_api: Api) -> None:
    hearing, (judge, party, other) = await shared_api.hearing_with(
        ("judge", "王法官"), ("defendant", "李四"), ("plaintiff", "张三")
    )
    hid = hearing["id"]
    assert (await shared_api.get_hearing(hid, token=party["token"])).status == 200
    r = await shared_api.act(hid, "remove", token=judge["token"], participant=party)
    assert r.status == 200, r.text
    removed = {p["id"]: p for p in r.json["hearing"]["participants"]}[party["id"]]
    assert removed["state"] == "removed"
    for attempt in (shared_api.get_hearing(hid, token=party["token"]),
                    shared_api.act(hid, "raise_hand", token=party["token"])):
        assert_error(await attempt, 401, "removed")
    # Removal is final: no second removal, and others are unaffected.
    assert_error(await shared_api.act(hid, "remove", token=judge["token"], participant=party), 409, "invalid_state")
    assert (await shared_api.get_hearing(hid, token=other["token"])).status == 200


# --- 403 -------------------------------------------------------------------------------------------


async def test_403_party_may_not_run_the_hearing(shared_api: Api) -> None:
    hearing, (judge, plaintiff, agent, witness) = await shared_api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("agent", "李律师", "defendant"), ("witness", "陈五")
    )
    hid = hearing["id"]
    for who in (plaintiff, agent, witness):
        for action in ["open", "close", "start", "broadcast_on"]:
            assert_error(await shared_api.act(hid, action, token=who["token"]), 403, "forbidden")
    assert (await shared_api.act(hid, "open")).status == 200
    assert (await shared_api.act(hid, "start", token=judge["token"])).status == 200
    for who in (plaintiff, agent):
        assert_error(await shared_api.act(hid, "close", token=who["token"]), 403, "forbidden")
        for action in ["mute", "admit", "remove", "call_witness"]:
            r = await shared_api.act(hid, action, token=who["token"], participant=witness)
            assert_error(r, 403, "forbidden")
    # The clerk schedules but does not preside.
    assert_error(await shared_api.act(hid, "close"), 403, "forbidden")
    state = (await shared_api.get_hearing(hid)).json
    assert state["state"] == "in_session"
    assert not any(p["muted"] for p in state["participants"])


async def test_403_clerk_only_routes(shared_api: Api) -> None:
    hearing, people = await shared_api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    for who in people:
        t = who["token"]
        assert_error(await shared_api.request("POST", "/api/hearings", t, json={"case_number": CASE}), 403, "forbidden")
        assert_error(await shared_api.request("GET", "/api/hearings", t), 403, "forbidden")
        r = await shared_api.request("POST", f"/api/hearings/{hid}/participants", t,
                                     json={"role": "plaintiff", "name": "冒名"})
        assert_error(r, 403, "forbidden")
    # Checked before the body is even read: a bad body from a party is still 403.
    assert_error(await _raw(shared_api, "POST", "/api/hearings", b"{", token=people[1]["token"]), 403, "forbidden")
    assert len((await shared_api.get_hearing(hid)).json["participants"]) == 2


async def test_403_other_hearing(shared_api: Api) -> None:
    a, (judge_a, party_a) = await shared_api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    b, _ = await shared_api.hearing_with(("judge", "赵法官"))
    for who in (judge_a, party_a):
        assert_error(await shared_api.get_hearing(b["id"], token=who["token"]), 403, "forbidden")
        assert_error(await shared_api.act(b["id"], "open", token=who["token"]), 403, "forbidden")
        r = await shared_api.request("GET", f"/api/hearings/{b['id']}/events", who["token"])
        assert_error(r, 403, "forbidden")
        # Even a hearing that does not exist is 403, not 404: a token says nothing about others.
        assert_error(await shared_api.get_hearing("doesnotexist", token=who["token"]), 403, "forbidden")
    assert (await shared_api.get_hearing(b["id"])).json["state"] == "scheduled"


async def test_403_party_may_not_read_events(shared_api: Api) -> None:
    hearing, people = await shared_api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"), ("agent", "李律师", "plaintiff"),
        ("witness", "陈五"), ("interpreter", "翻译"), ("observer", "旁听"), ("clerk", "赵书记员"),
    )
    for who in people:
        r = await shared_api.request("GET", f"/api/hearings/{hearing['id']}/events", who["token"])
        if who["role"] in ("judge", "clerk"):
            assert r.status == 200, r.text
        else:
            assert_error(r, 403, "forbidden")


# --- 404, 405 --------------------------------------------------------------------------------------


async def test_404_unknown_hearing(shared_api: Api) -> None:
    for method, path in _protected("doesnotexist")[2:]:
        body = {"action": "open", "role": "judge", "name": "王"} if method == "POST" else None
        assert_error(await shared_api.request(method, path, shared_api.admin_key, json=body), 404, "not_found")


async def test_404_unknown_participant(shared_api: Api) -> None:
    hearing, (judge,) = await shared_api.hearing_with(("judge", "王法官"))
    other, (stranger,) = await shared_api.hearing_with(("plaintiff", "张三"))
    await shared_api.act(hearing["id"], "open")
    for target in ["nobody", stranger["id"]]:  # someone of another hearing is nobody here
        r = await shared_api.act(hearing["id"], "mute", token=judge["token"], participant=target)
        assert_error(r, 404, "not_found")


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/hearings/x/nope", "/api/hearings/x/y/z", "/%E5%BA%AD"])
async def test_404_unknown_route(shared_api: Api, path: str) -> None:
    for token in (None, shared_api.admin_key):
        assert_error(await shared_api.request("GET", path, token), 404, "not_found")


async def test_405_wrong_method(shared_api: Api) -> None:
    for method, path in [("POST", "/healthz"), ("DELETE", "/api/hearings"), ("PUT", "/api/hearings/x/actions")]:
        assert_error(await shared_api.request(method, path, shared_api.admin_key), 405, "method_not_allowed")


# --- 409 -------------------------------------------------------------------------------------------


async def test_409_start_before_open(shared_api: Api) -> None:
    hearing, (judge,) = await shared_api.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    for action in ["start", "recess", "resume", "close", "broadcast_off"]:
        assert_error(await shared_api.act(hid, action, token=judge["token"]), 409, "invalid_state")
    assert (await shared_api.act(hid, "open", token=judge["token"])).status == 200
    assert_error(await shared_api.act(hid, "open", token=judge["token"]), 409, "invalid_state")
    assert_error(await shared_api.act(hid, "resume", token=judge["token"]), 409, "invalid_state")
    assert (await shared_api.get_hearing(hid)).json["state"] == "open"


async def test_409_closed_hearing(shared_api: Api) -> None:
    hearing, (judge, party) = await shared_api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    await shared_api.act(hid, "open")
    assert (await shared_api.act(hid, "close", token=judge["token"])).status == 200
    for action in ["open", "start", "resume", "close", "broadcast_on"]:
        assert_error(await shared_api.act(hid, action, token=judge["token"]), 409, "invalid_state")
    for action in ["mute", "admit", "remove"]:
        r = await shared_api.act(hid, action, token=judge["token"], participant=party)
        assert_error(r, 409, "invalid_state")
    assert_error(await shared_api.act(hid, "raise_hand", token=party["token"]), 409, "invalid_state")
    r = await shared_api.request("POST", f"/api/hearings/{hid}/participants", shared_api.admin_key,
                                 json={"role": "witness", "name": "迟到"})
    assert_error(r, 409, "invalid_state")
    # A party still reads its closed hearing.
    assert (await shared_api.get_hearing(hid, token=party["token"])).json["state"] == "closed"


async def test_409_broadcast_non_public_and_mediation(shared_api: Api) -> None:
    closed, (judge,) = await shared_api.hearing_with(("judge", "王法官"), public=False)
    await shared_api.act(closed["id"], "open")
    assert_error(await shared_api.act(closed["id"], "broadcast_on", token=judge["token"]), 409, "not_public")

    mediation, (mediator, mjudge) = await shared_api.hearing_with(
        ("mediator", "调解员"), ("judge", "王法官"), procedure="mediation"
    )
    mid = mediation["id"]
    await shared_api.act(mid, "open")
    for who in (mediator, mjudge):
        assert_error(await shared_api.act(mid, "broadcast_on", token=who["token"]), 409, "not_public")
    assert (await shared_api.act(mid, "start", token=mediator["token"])).status == 200
    assert_error(await shared_api.act(mid, "broadcast_on", token=mediator["token"]), 409, "not_public")
    for hid in (closed["id"], mid):
        assert (await shared_api.get_hearing(hid)).json["broadcast"] is False

    public, (pjudge,) = await shared_api.hearing_with(("judge", "王法官"), public=True)
    await shared_api.act(public["id"], "open")
    r = await shared_api.act(public["id"], "broadcast_on", token=pjudge["token"])
    assert r.status == 200 and r.json["hearing"]["broadcast"] is True
    r = await shared_api.act(public["id"], "broadcast_off", token=pjudge["token"])
    assert r.status == 200 and r.json["hearing"]["broadcast"] is False


# --- 413 -------------------------------------------------------------------------------------------


async def test_413_json_over_the_limit(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing()
    big = b'{"case_number": "' + b"x" * LIMIT + b'"}'
    for path in _json_routes(hearing["id"]):
        assert_error(await _raw(shared_api, "POST", path, big), 413, "too_large")
    # Just under the limit is read (and then refused for what it says, not its size).
    small = b'{"case_number": "' + b"x" * (LIMIT - 100) + b'"}'
    assert_error(await _raw(shared_api, "POST", "/api/hearings", small), 400, "invalid_field")


async def _pieces(body: bytes, size: int = 1000):
    for i in range(0, len(body), size):
        yield body[i : i + size]
        await asyncio.sleep(0.001)


async def test_413_chunked_json_over_the_limit(shared_api: Api) -> None:
    """No Content-Length (chunked): the limit still holds while reading."""
    big = b'{"case_number": "' + b"x" * (LIMIT + 10) + b'"}'
    r = await shared_api.request("POST", "/api/hearings", shared_api.admin_key, data=_pieces(big), headers=JSON)
    assert_error(r, 413, "too_large")


async def test_json_body_arriving_in_pieces_is_read_whole(shared_api: Api) -> None:
    import json

    body = json.dumps({"case_number": CASE, "title": "长" * 480, "court": "院" * 190}, ensure_ascii=False).encode()
    r = await shared_api.request("POST", "/api/hearings", shared_api.admin_key, data=_pieces(body), headers=JSON)
    assert r.status == 201, r.text
    assert r.json["case_number"] == CASE


async def test_413_upload_over_the_servers_max_size(server_factory, api_factory, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("evidence_max_bytes = 200000\n")
    server = await server_factory("--config", str(config))
    api = api_factory(server)
    hearing, (party,) = await api.hearing_with(("plaintiff", "张三"))
    path = f"/api/hearings/{hearing['id']}/evidence"
    probe = await api.request("POST", path, party["token"], data=b"", headers={"Content-Type": "text/plain"})
    if probe.status in (404, 405) and probe.json and "no hearing" not in probe.json.get("message", ""):
        pytest.skip("POST /api/hearings/{id}/evidence is not implemented yet")

    import aiohttp

    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4\n" + b"0" * (1 << 20), filename="big.pdf", content_type="application/pdf")
    r = await api.request("POST", path, party["token"], data=form)
    assert_error(r, 413, "too_large")
    # The limit holds for a body with no Content-Length too.
    body = b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n" + b"0" * (1 << 20) + b"\r\n--b--\r\n"
    r = await api.request("POST", path, party["token"], data=_pieces(body, 65536),
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert_error(r, 413, "too_large")
    assert (await api.request("GET", "/healthz", None)).status == 200


# --- Unicode ---------------------------------------------------------------------------------------


async def test_unicode_round_trips_exactly(shared_api: Api) -> None:
    cases = [CASE, "（2026）沪0104民初００１号", "2026-ΚΑ-17 / Ñandú", "사건 2026가소1234", "قضية ٢٠٢٦/١٧", "🏛️ 2026 ⚖️"]
    for case in cases:
        title = f"张三诉李四 — {case} “引号” ‘单’ <b>&amp;</b>"
        hearing = await shared_api.create_hearing(case_number=case, title=title, court="北京互联网法院")
        hid = hearing["id"]
        assert (hearing["case_number"], hearing["title"], hearing["court"]) == (case, title, "北京互联网法院")
        judge = await shared_api.add(hid, "judge", "王法官")
        agent = await shared_api.add(hid, "agent", "José Müller-Łukasz", side="plaintiff")
        for token in (None, judge["token"]):
            got = (await shared_api.get_hearing(hid, token=token)).json
            assert (got["case_number"], got["title"]) == (case, title)
            assert [p["name"] for p in got["participants"]] == ["王法官", "José Müller-Łukasz"]
        assert agent["side"] == "plaintiff" and judge["name"] == "王法官"
        listed = {h["id"]: h for h in (await shared_api.request("GET", "/api/hearings", shared_api.admin_key)).json["hearings"]}
        assert listed[hid]["case_number"] == case


async def test_unicode_in_join_url_and_token_free_of_names(shared_api: Api) -> None:
    hearing, (party,) = await shared_api.hearing_with(("plaintiff", "张三"), case_number=CASE)
    assert party["join_url"].endswith("#token=" + party["token"])
    assert hearing["id"] in party["join_url"]
    assert party["token"].isascii()


# --- the whole hearing -------------------------------------------------------------------------------


async def test_happy_path(shared_api: Api) -> None:
    api = shared_api
    hearing = await api.create_hearing(case_number=CASE, title="张三诉李四买卖合同纠纷", procedure="simple", public=True)
    hid = hearing["id"]
    assert hearing["state"] == "scheduled" and hearing["public"] is True and hearing["procedure"] == "simple"
    judge = await api.add(hid, "judge", "王法官")
    plaintiff = await api.add(hid, "plaintiff", "张三")
    defendant = await api.add(hid, "defendant", "李四")
    witness = await api.add(hid, "witness", "陈五")
    for p, role in [(judge, "judge"), (plaintiff, "plaintiff"), (defendant, "defendant"), (witness, "witness")]:
        assert p["role"] == role and p["state"] == "invited" and p["token"] and p["join_url"]
    assert witness["witness_state"] == "isolated"

    jt = judge["token"]
    steps: list[tuple[str, str | None, dict | None, str]] = [
        ("open", None, None, "open"),  # the clerk opens the waiting room
        ("start", jt, None, "in_session"),
        ("recess", jt, None, "recess"),
        ("resume", jt, None, "in_session"),
        ("call_witness", jt, witness, "in_session"),
        ("excuse_witness", jt, witness, "in_session"),
        ("mute", jt, plaintiff, "in_session"),
        ("unmute", jt, plaintiff, "in_session"),
        ("close", jt, None, "closed"),
    ]
    seen: list[dict] = []
    for action, token, target, state in steps:
        await asyncio.sleep(0.002)  # events a few ms apart: strictly increasing hearing time
        r = await api.act(hid, action, token=token, participant=target)
        assert r.status == 200, (action, r.text)
        assert r.json["hearing"]["state"] == state
        assert len(r.json["events"]) == 1, r.json["events"]
        event = r.json["events"][0]
        kind = f"participant.{action}" if target else f"hearing.{action}"
        assert event["kind"] == kind
        assert event["actor"] == ("clerk" if token is None else judge["id"])
        assert event["subject"] == (target["id"] if target else None)
        seen.append(event)
        people = {p["id"]: p for p in r.json["hearing"]["participants"]}
        if action == "call_witness":
            assert people[witness["id"]]["witness_state"] == "testifying"
            assert people[witness["id"]]["state"] == "admitted"
        if action == "excuse_witness":
            assert people[witness["id"]]["witness_state"] == "excused"
        if action in ("mute", "unmute"):
            assert people[plaintiff["id"]]["muted"] is (action == "mute")

    final = (await api.get_hearing(hid, token=plaintiff["token"])).json
    assert final["state"] == "closed" and final["broadcast"] is False
    assert final["opened_at"] is not None and 0 <= final["started_at"] <= final["closed_at"]
    assert {p["name"] for p in final["participants"]} == {"王法官", "张三", "李四", "陈五"}

    for token in (jt, None):
        # The pod's own events (recording parts, ...) come from "system"; these are the people's.
        events = [e for e in await api.events(hid, token=token) if e["actor"] != "system"]
        assert [e["kind"] for e in events] == [
            "hearing.create",
            *["participant.invite"] * 4,
            "hearing.open", "hearing.start", "hearing.recess", "hearing.resume",
            "participant.call_witness", "participant.excuse_witness",
            "participant.mute", "participant.unmute", "hearing.close",
        ]
        assert events[-len(seen):] == seen  # one event per change, the same ones
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        times = [e["hearing_time"] for e in events]
        assert all(a <= b for a, b in zip(times, times[1:], strict=False)), times
        after_open = times[5:]
        assert all(a < b for a, b in zip(after_open, after_open[1:], strict=False)), after_open
        assert {e["subject"] for e in events if e["kind"] == "participant.invite"} == {
            judge["id"], plaintiff["id"], defendant["id"], witness["id"]}
        wall = [e["wall_time"] for e in events]
        assert wall == sorted(wall)
    # Paging after a seq.
    events = await api.events(hid)
    r = await api.request("GET", f"/api/hearings/{hid}/events?after={events[5]['seq']}", jt)
    # The close's effects (recording, replay, deposit) may add events after its answer.
    assert r.json["events"][: len(events) - 6] == events[6:]
    assert_error(await api.request("GET", f"/api/hearings/{hid}/events", plaintiff["token"]), 403, "forbidden")


async def test_participant_reads_own_hearing_without_secrets(shared_api: Api) -> None:
    hearing, (judge, party) = await shared_api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    r = await shared_api.get_hearing(hearing["id"], token=party["token"])
    assert r.status == 200
    assert judge["token"] not in r.text and party["token"] not in r.text
    assert "nonce" not in r.text


# --- the API description matches the server -----------------------------------------------------------


def _required(spec: dict, schema: dict) -> set[str]:
    if "$ref" in schema:
        return _required(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    keys = set(schema.get("required", []))
    for part in schema.get("allOf", []):
        keys |= _required(spec, part)
    return keys


def _schema(spec: dict, name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


@pytest.fixture
def spec() -> dict:
    import json

    return json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text())


async def test_openapi_describes_the_server(shared_api: Api, spec: dict) -> None:
    assert spec["openapi"].startswith("3.1")
    hearing, (judge,) = await shared_api.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    # Every documented operation exists (no route 404, no 405); {name} is a judge with a docket link.
    assert (await shared_api.request("POST", "/api/docket-links", shared_api.admin_key, json={"name": "王法官"})).status == 201
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put", "patch", "delete"):
            if method not in item:
                continue
            body = {} if method == "post" else None
            r = await shared_api.request(method.upper(), path.replace("{hearing_id}", hid).replace("{name}", "王法官"), shared_api.admin_key, json=body)
            assert r.status not in (404, 405), (method, path, r.text)
            op = item[method]
            assert op.get("operationId") and op.get("responses"), (method, path)
    # The documented required fields are in what the server sends.
    roles = {"Hearing": hearing, "HearingDetail": (await shared_api.get_hearing(hid)).json, "ParticipantInvited": judge}
    await shared_api.act(hid, "open")
    result = (await shared_api.act(hid, "start", token=judge["token"])).json
    roles.update(ActionResult=result, Event=result["events"][0], Participant=result["hearing"]["participants"][0],
                 Error=(await shared_api.act(hid, "fly")).json,
                 Health=(await shared_api.request("GET", "/healthz", None)).json)
    for name, sample in roles.items():
        missing = _required(spec, _schema(spec, name)) - set(sample)
        assert not missing, (name, missing)
    schemas = spec["components"]["schemas"]
    assert set(schemas["Role"]["enum"]) == {"judge", "clerk", "plaintiff", "defendant", "agent", "witness",
                                            "interpreter", "mediator", "observer"}
    assert set(schemas["Procedure"]["enum"]) == {"small_claims", "simple", "ordinary", "evidence_exchange", "mediation"}
    from courtroom.procedure import ACTIONS

    assert set(schemas["Action"]["enum"]) == set(ACTIONS)


async def test_no_tracebacks_in_the_server_log(module_server: CourtroomServer) -> None:
    """Run last in this module: nothing above made the server fail internally."""
    log = module_server.log()
    assert "Traceback" not in log, log[-3000:]
    assert " 500 " not in log
