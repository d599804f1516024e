"""A pod killed without warning (SIGKILL) and started again on the same data folder loses nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import Api, CourtroomServer, assert_error

CASE = "(2026)京0491民初1234号"


def _without_runtime(snapshot: dict[str, Any]) -> dict[str, Any]:
    """A hearing as stored: without the running clock and who happens to be connected."""
    data = dict(snapshot)
    data.pop("hearing_time", None)
    data["participants"] = [{k: v for k, v in p.items() if k != "connected"} for p in data.get("participants", [])]
    return data


async def _build(api: Api) -> dict[str, Any]:
    """Two hearings in different states, with participants, actions and a removal."""
    live, (judge, plaintiff, defendant, witness, gone) = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五"),
        ("agent", "李律师", "defendant"), case_number=CASE, title="张三诉李四买卖合同纠纷", public=True,
    )
    lid = live["id"]
    jt = judge["token"]
    for action, target in [("open", None), ("admit", plaintiff), ("start", None), ("call_witness", witness),
                           ("mute", defendant), ("broadcast_on", None), ("remove", gone)]:
        r = await api.act(lid, action, token=jt, participant=target)
        assert r.status == 200, (action, r.text)
    scheduled, (other_judge, observer) = await api.hearing_with(
        ("judge", "赵法官"), ("observer", "旁听者"), case_number="（2026）沪0104民初1号", procedure="ordinary",
    )
    mediation, (mediator,) = await api.hearing_with(("mediator", "调解员"), case_number="调-1", procedure="mediation")
    await api.act(mediation["id"], "open")
    await api.act(mediation["id"], "start", token=mediator["token"])
    await api.act(mediation["id"], "close", token=mediator["token"])
    # The close answers at once; its effects (recording, deposit) follow: let them finish.
    for _ in range(100):
        if any(e["data"].get("effect") == "ledger.deposit" for e in await api.events(mediation["id"])):
            break
        await asyncio.sleep(0.1)
    return {
        "hearings": [lid, scheduled["id"], mediation["id"]],
        "tokens": [(lid, p) for p in (judge, plaintiff, defendant, witness)]
        + [(scheduled["id"], other_judge), (scheduled["id"], observer), (mediation["id"], mediator)],
        "removed": gone,
        "judge": judge,
        "live": lid,
    }


async def _state(api: Api, ids: list[str]) -> dict[str, Any]:
    listed = (await api.request("GET", "/api/hearings", api.admin_key)).json["hearings"]
    return {
        "list": listed,
        "snapshots": {hid: (await api.get_hearing(hid)).json for hid in ids},
        "events": {hid: await api.events(hid) for hid in ids},
    }


async def test_sigkill_and_restart_keeps_everything(server: CourtroomServer, api: Api) -> None:
    built = await _build(api)
    before = await _state(api, built["hearings"])
    clock_before = before["snapshots"][built["live"]]["hearing_time"]
    assert clock_before > 0

    server.kill()
    assert server.proc is not None and server.proc.returncode == -9
    assert not server.alive
    await server.restart()

    after = await _state(api, built["hearings"])
    assert after["list"] == before["list"]
    for hid in built["hearings"]:
        assert _without_runtime(after["snapshots"][hid]) == _without_runtime(before["snapshots"][hid]), hid
        assert after["events"][hid] == before["events"][hid], hid
    # The hearing clock carries on from where it was.
    clock_after = after["snapshots"][built["live"]]["hearing_time"]
    assert clock_after >= clock_before
    last_before = before["events"][built["live"]][-1]["hearing_time"]
    assert clock_after >= last_before

    # Every token still works; the removed one is still dead.
    for hid, person in built["tokens"]:
        r = await api.get_hearing(hid, token=person["token"])
        assert r.status == 200, (person["name"], r.text)
        me = {p["id"]: p for p in r.json["participants"]}[person["id"]]
        assert (me["name"], me["role"]) == (person["name"], person["role"])
    assert_error(await api.get_hearing(built["live"], token=built["removed"]["token"]), 401, "removed")

    # The hearing goes on: the next event follows the old ones, on the same clock.
    r = await api.act(built["live"], "recess", token=built["judge"]["token"])
    assert r.status == 200, r.text
    events = await api.events(built["live"])
    assert events[:-1] == before["events"][built["live"]]
    assert events[-1]["kind"] == "hearing.recess"
    assert events[-1]["seq"] > events[-2]["seq"]
    assert events[-1]["hearing_time"] >= last_before
    assert "Traceback" not in server.log()


async def test_restart_twice_and_graceful_stop(server: CourtroomServer, api: Api) -> None:
    hearing, (judge,) = await api.hearing_with(("judge", "王法官"), case_number=CASE)
    await api.act(hearing["id"], "open")
    await api.act(hearing["id"], "start", token=judge["token"])
    times = [(await api.get_hearing(hearing["id"])).json["hearing_time"]]
    for stop in ("sigterm", "sigkill"):
        if stop == "sigterm":
            assert await server.stop() == 0  # a clean shutdown on SIGTERM
        else:
            server.kill()
        await server.restart()
        snap = (await api.get_hearing(hearing["id"], token=judge["token"])).json
        assert snap["state"] == "in_session" and snap["case_number"] == CASE
        times.append(snap["hearing_time"])
    assert times == sorted(times)
    kinds = [e["kind"] for e in await api.events(hearing["id"]) if e["actor"] != "system"]
    assert kinds == ["hearing.create", "participant.invite", "hearing.open", "hearing.start"]
