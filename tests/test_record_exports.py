"""The hearing record's files: WebVTT and SRT read back, the Chinese text record, JSON."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

import pytest

from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.participants import Participant, ParticipantState
from courtroom.procedure import HearingState, ProcedureKind
from courtroom.record import (
    END_OF_TEXT,
    PROCEDURE_NAMES_ZH,
    RECORD_TZ,
    Note,
    canonical_part,
    hearing_clock,
    notes_from_events,
    to_json,
    to_srt,
    to_txt,
    to_vtt,
)
from courtroom.roles import Role
from courtroom.transcript import Confirmation, Segment

CASE = "（2026）京0491民初1234号之一𠀋"  # full-width brackets and a character beyond the BMP
OPENED = datetime(2026, 5, 1, 9, 28, 0, tzinfo=RECORD_TZ).timestamp()
VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"
SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"


def _secs(groups: tuple[str, ...]) -> float:
    h, m, s, ms = (int(x) for x in groups)
    return h * 3600 + m * 60 + s + ms / 1000


def parse_vtt(text: str) -> list[tuple[str, float, float, str]]:
    assert text.startswith("WEBVTT\n\n")
    cues = []
    for block in (b for b in text.split("\n\n")[1:] if b.strip()):
        ident, timing, *payload = block.strip("\n").split("\n")
        m = re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", timing)
        assert m, timing
        start, end = _secs(m.groups()[:4]), _secs(m.groups()[4:])
        assert end > start
        assert len(payload) == 1 and "-->" not in payload[0]
        cues.append((ident, start, end, payload[0]))
    return cues


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    cues = []
    for block in (b for b in text.split("\n\n") if b.strip()):
        number, timing, *payload = block.strip("\n").split("\n")
        m = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", timing)
        assert m, timing
        assert len(payload) == 1 and "-->" not in payload[0]
        cues.append((int(number), _secs(m.groups()[:4]), _secs(m.groups()[4:]), payload[0]))
    return cues


def _people() -> list[Participant]:
    people = [
        Participant("j", "h1", "王法官", Role.JUDGE, created_at=1),
        Participant("c", "h1", "赵书记", Role.CLERK, created_at=2),
        Participant("p", "h1", "张三", Role.PLAINTIFF, side="plaintiff", created_at=3),
        Participant("d", "h1", "李四", Role.DEFENDANT, side="defendant", created_at=4),
        Participant("a", "h1", "钱律师", Role.AGENT, side="defendant", created_at=5),
        Participant("w", "h1", "陈五", Role.WITNESS, created_at=6),
    ]
    for p in people:
        p.state = ParticipantState.ADMITTED
    return people


def _hearing(closed: bool = True, procedure: ProcedureKind = ProcedureKind.SIMPLE) -> Hearing:
    return Hearing(
        id="h1", case_number=CASE, title="张三诉李四买卖合同纠纷", procedure=procedure, public=True,
        court="北京互联网法院", state=HearingState.CLOSED if closed else HearingState.IN_SESSION,
        opened_at=OPENED, started_at=70.0, closed_at=3880.5 if closed else None,
    )


def _seg(i: int, who: str, text: str, start: float, end: float) -> Segment:
    people = {p.id: p for p in _people()}
    p = people[who]
    return Segment(i, "h1", p.id, p.role, p.name, text, text, start, end)


def _segments() -> list[Segment]:
    return [
        _seg(1, "j", "现在开庭。", 83.2, 85.0),
        _seg(2, "j", "请原告陈述诉讼请求。", 85.5, 88.0),
        _seg(3, "p", "请求被告支付货款 3000 元 & 利息 <按 LPR> --> 至付清为止。", 90.0, 97.25),
        _seg(4, "a", "Objection", 100.0, 100.0),  # a one-word segment: end == start
        _seg(5, "a", "sustained? no", 101.0, 102.0),
        _seg(6, "d", "", 103.0, 104.0),  # struck by the clerk: not in the files
        _seg(7, "j", "下面进行法庭调查。", 3725.0, 3728.0),
    ]


def test_vtt_reads_back_with_times_voices_and_escaping() -> None:
    cues = parse_vtt(to_vtt(_hearing(), _people(), _segments()))
    assert [c[0] for c in cues] == ["1", "2", "3", "4", "5", "7"]  # cue ids are segment ids
    assert cues[0][1:3] == (83.2, 85.0)
    assert cues[2][1:3] == (90.0, 97.25)
    assert cues[3][1] == 100.0 and cues[3][2] > 100.0  # a cue always ends after it starts
    assert cues[5][1] == 3725.0
    assert cues[0][3] == "<v 审判长 王法官>现在开庭。"
    assert cues[2][3] == "<v 原告 张三>请求被告支付货款 3000 元 &amp; 利息 &lt;按 LPR&gt; --&gt; 至付清为止。"
    assert cues[3][3].startswith("<v 被告诉讼代理人 钱律师>")


def test_srt_reads_back_numbered_without_arrows() -> None:
    cues = parse_srt(to_srt(_hearing(), _people(), _segments()))
    assert [c[0] for c in cues] == [1, 2, 3, 4, 5, 6]
    assert cues[2][1:3] == (90.0, 97.25)
    assert cues[2][3] == "原告 张三：请求被告支付货款 3000 元 & 利息 <按 LPR> → 至付清为止。"
    assert cues[5][1:3] == (3725.0, 3728.0)


def test_txt_header_turns_and_times() -> None:
    events = [
        Event("h1", "hearing.open", "c", hearing_time=0.0),
        Event("h1", "hearing.start", "j", hearing_time=70.0),
        Event("h1", "participant.mute", "j", "d", hearing_time=99.0),  # not a line of the record
        Event("h1", "participant.call_witness", "j", "w", hearing_time=3700.0),
        Event("h1", "hearing.close", "j", hearing_time=3880.5),
    ]
    notes = notes_from_events(_hearing(), _people(), events) + [Note(3710.0, "（原告出示证据1《买卖合同》）")]
    txt = to_txt(_hearing(), _people(), _segments(), notes)
    lines = txt.splitlines()
    assert lines[:3] == ["北京互联网法院", "庭审笔录", ""]
    assert f"案号：{CASE}" in lines  # exactly as given, any Unicode
    assert "程序：简易程序" in lines and "审理方式：公开审理" in lines
    assert "日期：2026年5月1日" in lines
    assert "时间：09:28:00 至 10:32:40（UTC+08:00）" in lines
    for line in ("审判长：王法官", "书记员：赵书记", "原告：张三", "被告：李四", "被告诉讼代理人：钱律师", "证人：陈五"):
        assert line in lines
    body = lines[lines.index("庭审记录：") + 1:]
    assert body == [
        "[00:01:10] （开庭）",
        "[00:01:23] 审判长（王法官）：现在开庭。请原告陈述诉讼请求。",  # one turn, two segments
        "[00:01:30] 原告（张三）：请求被告支付货款 3000 元 & 利息 <按 LPR> --> 至付清为止。",
        "[00:01:40] 被告诉讼代理人（钱律师）：Objection sustained? no",  # Latin words keep a space
        "[01:01:40] （证人陈五到庭）",
        "[01:01:50] （原告出示证据1《买卖合同》）",
        "[01:02:05] 审判长（王法官）：下面进行法庭调查。",
        "[01:04:40] （闭庭）",
        END_OF_TEXT,
    ]
    assert canonical_part(txt) == txt


def test_txt_confirmation_page_follows_the_hashed_text() -> None:
    people = _people()
    body = to_txt(_hearing(), people, _segments())
    sha = hashlib.sha256(body.encode()).hexdigest()
    wall = datetime(2026, 5, 1, 11, 0, 5, tzinfo=RECORD_TZ).timestamp()
    confirmations = [
        Confirmation("h1", "p", "张三", Role.PLAINTIFF, "confirm", "", sha, wall),
        Confirmation("h1", "d", "李四", Role.DEFENDANT, "object", "第3行金额应为三百元", sha, wall + 1),
    ]
    txt = to_txt(_hearing(), people, _segments(), confirmations=confirmations)
    assert txt.startswith(body) and canonical_part(txt) == body
    page = txt[len(body):].splitlines()
    assert page[1] == "笔录确认："
    assert sha in page[2]
    assert page[3] == "原告 张三：确认无误（2026年5月1日 11:00:05）"
    assert page[4] == "被告 李四：有异议。异议内容：第3行金额应为三百元（2026年5月1日 11:00:06）"
    assert page[5] == "尚未确认：被告诉讼代理人 钱律师"


def test_txt_of_a_running_hearing_and_every_procedure_name() -> None:
    txt = to_txt(_hearing(closed=False), _people(), [])
    assert "时间：09:28:00 起（UTC+08:00）" in txt.splitlines()
    names = set()
    for kind in ProcedureKind:
        h = _hearing(procedure=kind)
        h.public = kind is not ProcedureKind.MEDIATION
        lines = to_txt(h, [], []).splitlines()
        names.add(PROCEDURE_NAMES_ZH[kind])
        assert f"程序：{PROCEDURE_NAMES_ZH[kind]}" in lines
    assert names == {"小额诉讼程序", "简易程序", "普通程序", "证据交换", "调解"}
    with pytest.raises(ValueError):
        canonical_part("no record")


def test_json_export_and_clock() -> None:
    data = json.loads(to_json(_hearing(), _people(), _segments(), [Note(70.0, "（开庭）", "hearing.start")]))
    assert data["hearing"]["case_number"] == CASE and data["hearing"]["procedure_zh"] == "简易程序"
    assert [s["id"] for s in data["segments"]] == [1, 2, 3, 4, 5, 6, 7]  # the struck one too
    third = data["segments"][2]
    assert {k: third[k] for k in ("speaker", "role", "name", "final", "start", "end")} == {
        "speaker": "p", "role": "plaintiff", "name": "张三", "final": True, "start": 90.0, "end": 97.25}
    assert third["label"] == "原告 张三"
    assert data["notes"] == [{"time": 70.0, "text": "（开庭）", "kind": "hearing.start"}]
    assert hearing_clock(0) == "00:00:00" and hearing_clock(3725.9) == "01:02:05" and hearing_clock(-3) == "00:00:00"
