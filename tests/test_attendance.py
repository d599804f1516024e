"""Attendance from the events, through a real server and real sockets: who was admitted and
when, a never-joined defendant as absent, a walk-out and a long drop as timed notes (and on the
judge's console), the judge's ruling as an action; a panel's seats printed in the record."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from courtroom.cli import build_parser, config_from
from loadtest.participant import Participant
from tests.conftest import assert_error
from tests.media_helpers import eventually


async def test_attendance_is_written_from_the_events(server_factory, api_factory) -> None:
    server = await server_factory("--drop-note-seconds", "1", "--time-zone", "Asia/Tokyo")
    api = api_factory(server)
    health = (await api.request("GET", "/healthz", None)).json
    assert health["time_zone"] == "Asia/Tokyo"  # the court's one clock, for every page
    hearing, (judge_p, juror_p, plaintiff_p, agent_p, defendant_p) = await api.hearing_with(
        ("judge", "王法官"), ("judge", "孙陪审"), ("plaintiff", "张三"), ("agent", "钱律师", "plaintiff"),
        ("defendant", "李四"))
    hid = hearing["id"]
    # A collegiate panel: the second judge sits as a people's assessor and does not run the procedure.
    seat = await api.request("POST", f"/api/hearings/{hid}/panel", api.admin_key,
                             json={"participant": juror_p["id"], "seat": "juror"})
    assert seat.status == 200, seat.text
    assert_error(await api.request("POST", f"/api/hearings/{hid}/panel", api.admin_key,
                                   json={"participant": plaintiff_p["id"], "seat": "juror"}), 400)
    judge = Participant(server.url, judge_p["token"])
    juror = Participant(server.url, juror_p["token"])
    plaintiff = Participant(server.url, plaintiff_p["token"])
    agent = Participant(server.url, agent_p["token"])
    try:
        await judge.connect()
        await juror.connect()
        await api.act(hid, "open")
        assert_error(await api.act(hid, "start", token=juror_p["token"]), 403)  # only the presiding judge
        await plaintiff.connect()
        assert (await api.act(hid, "admit", participant=plaintiff_p)).status == 200
        assert (await api.act(hid, "start", token=judge_p["token"])).status == 200
        await agent.connect()  # late: admitted after the start
        assert (await api.act(hid, "admit", participant=agent_p)).status == 200
        # The agent's connection drops for longer than the threshold, then it comes back.
        await agent.close()
        await judge.wait_for(lambda m: m["type"] == "event" and m["event"]["kind"] == "attendance.drop", timeout=10)
        agent = Participant(server.url, agent_p["token"])
        await agent.connect()
        # The plaintiff walks out without permission; the judge rules on it.
        await plaintiff.act("leave")
        assert await eventually(lambda: any(m["type"] == "event" and m["event"]["kind"] == "participant.leave"
                                            for m in judge.messages), 10)
        assert_error(await api.act(hid, "rule", token=judge_p["token"], participant=plaintiff_p, ruling="maybe"), 400)
        assert (await api.act(hid, "rule", token=judge_p["token"], participant=plaintiff_p, ruling="withdrawal")).status == 200
        assert (await api.act(hid, "rule", token=judge_p["token"], participant=defendant_p, ruling="deemed_absent")).status == 200
        await asyncio.sleep(0.2)
        assert (await api.act(hid, "close", token=judge_p["token"])).status == 200
    finally:
        for p in (judge, juror, plaintiff, agent):
            await p.close()
    txt = (await api.request("GET", f"/api/hearings/{hid}/transcript?format=txt", api.admin_key)).text
    body = txt.split("（以下无正文）")[0]
    lines = body.splitlines()
    present = lines[lines.index("到庭人员：") + 1: lines.index("缺席人员：")]
    assert re.fullmatch(r"审判长：王法官（\d\d:\d\d:\d\d 到庭）", present[0]), present
    assert re.fullmatch(r"人民陪审员：孙陪审（\d\d:\d\d:\d\d 到庭）", present[1]), present
    assert any(line.startswith("原告诉讼代理人：钱律师（") for line in present)
    assert "被告：李四（未到庭）" in lines and not any("李四" in line for line in present)
    notes = [line for line in lines if line.startswith("[")]
    assert any("（原告诉讼代理人钱律师迟到，此时到庭）" in n for n in notes), notes
    assert any(re.search(r"（原告诉讼代理人钱律师连接中断，\d+秒后重新连接）", n) for n in notes), notes
    assert any("（原告张三未经准许离庭）" in n for n in notes), notes
    assert any("（审判长决定：原告张三按撤诉处理）" in n for n in notes), notes
    assert any("（审判长决定：被告李四视为缺席）" in n for n in notes), notes
    # Every time in the export is on the court's clock (here Asia/Tokyo, UTC+09:00).
    events = await api.events(hid)
    judge_in = next(e for e in events if e["kind"] == "participant.join" and e["subject"] == judge_p["id"])
    tokyo = datetime.fromtimestamp(judge_in["wall_time"], ZoneInfo("Asia/Tokyo"))
    assert present[0] == f"审判长：王法官（{tokyo:%H:%M:%S} 到庭）"
    assert any(line.startswith("时间：") and line.endswith("（UTC+09:00）") for line in lines), lines[:12]
    kinds = [e["kind"] for e in events]
    assert "participant.rule" in kinds and "attendance.late" in kinds and "attendance.drop" in kinds


def test_the_court_time_zone_is_checked_at_start() -> None:
    assert config_from(build_parser().parse_args(["serve", "--time-zone", "Europe/Berlin"])).time_zone == "Europe/Berlin"
    assert config_from(build_parser().parse_args(["serve"])).time_zone == "Asia/Shanghai"
    with pytest.raises(ValueError, match="unknown time zone"):
        config_from(build_parser().parse_args(["serve", "--time-zone", "Mars/Olympus"]))
