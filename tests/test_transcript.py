"""The record service on an in-process Court: segments, corrections, confirmation, the seal."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from courtroom.admin import open_court
from courtroom.court import Actor, Court, InvalidInput
from courtroom.participants import Participant, ParticipantState, WitnessState
from courtroom.procedure import ActionRefused, HearingState
from courtroom.record import canonical_part
from courtroom.record_review import StaleVersion
from courtroom.roles import Role
from courtroom.store import NotFound
from courtroom.transcript import RecordConfirmed, TranscriptService, may_read_record

CASE = "(2026)京0491民初1234号"
CLERK = Actor.clerk()


async def _hearing(court: Court) -> tuple[str, dict[str, Participant]]:
    hearing = await court.create_hearing({"case_number": CASE, "procedure": "small_claims"}, CLERK)
    people = {}
    for key, role, name, side in [
        ("judge", "judge", "王法官", None), ("plaintiff", "plaintiff", "张三", None),
        ("defendant", "defendant", "李四", None), ("agent", "agent", "钱律师", "defendant"),
        ("witness", "witness", "陈五", None),
    ]:
        body = {"role": role, "name": name, **({"side": side} if side else {})}
        people[key], _ = await court.add_participant(hearing.id, body, CLERK)
    return hearing.id, people


def _actor(p: Participant) -> Actor:
    return Actor(p.id, p.role, p)


async def _close(court: Court, hid: str, judge: Participant, svc: TranscriptService | None = None) -> None:
    await court.act(hid, CLERK, "open")
    await court.act(hid, _actor(judge), "start")
    await court.act(hid, _actor(judge), "close")
    if svc is not None:  # what the pod does at close: finish the record, offer it
        await svc.review.finish(hid)
        assert (await svc.review.wait_offered(hid)).value == "review"


async def test_final_segments_are_stored_with_their_speaker(court: Court) -> None:
    svc = TranscriptService(court)
    hid, p = await _hearing(court)
    words = [{"word": "现在", "start": 1.0, "end": 1.4, "conf": 0.9}, {"word": "开庭", "start": 1.4, "end": 2.0}]
    later = await svc.add_final(hid, p["plaintiff"].id, "我 请求\n赔偿 3000 元 ok", 5.0, 7.5, [], "vosk")
    first = await svc.add_final(hid, p["judge"].id, " 现在开庭。 ", 1.0, 2.0, words, "whisper")
    assert await svc.add_final(hid, p["judge"].id, "  \n", 3.0, 3.5) is None  # empty: nothing stored
    assert first is not None and later is not None and first.id != later.id
    assert (first.role, first.name, first.text, first.engine) == (Role.JUDGE, "王法官", "现在开庭。", "whisper")
    assert first.to_message() == {"id": first.id, "speaker": p["judge"].id, "role": "judge", "name": "王法官",
                                  "text": "现在开庭。", "final": True, "start": 1.0, "end": 2.0}
    with pytest.raises(NotFound):  # attribution is never guessed
        await svc.add_final(hid, "nobody", "hello", 1.0, 2.0)
    other, _ = await _hearing(court)
    with pytest.raises(NotFound):
        await svc.add_final(other, p["judge"].id, "hello", 1.0, 2.0)

    # Durable the moment it is final: another connection on the same folder sees it.
    again = open_court(court.config)
    try:
        stored = await TranscriptService(again).segments(hid)
    finally:
        again.db.close()
    assert [s.text for s in stored] == ["现在开庭。", "我请求赔偿 3000 元 ok"]  # by start time
    assert stored[0].words == [{"word": "现在", "start": 1.0, "end": 1.4, "conf": 0.9},
                               {"word": "开庭", "start": 1.4, "end": 2.0}]
    assert not stored[0].edited and stored[0].original_text == "现在开庭。"


async def test_corrections_keep_the_original_and_every_edit(court: Court) -> None:
    svc = TranscriptService(court)
    hid, p = await _hearing(court)
    seg = await svc.add_final(hid, p["plaintiff"].id, "货款三千元", 10.0, 12.0)
    assert seg is not None
    judge = _actor(p["judge"])

    fixed = await svc.correct(hid, seg.id, CLERK, text="货款三百元")
    assert (fixed.text, fixed.original_text, fixed.edited) == ("货款三百元", "货款三千元", True)
    moved = await svc.correct(hid, seg.id, judge, speaker=p["agent"].id)
    assert (moved.participant_id, moved.role, moved.name) == (p["agent"].id, Role.AGENT, "钱律师")
    assert moved.text == "货款三百元"
    await svc.correct(hid, seg.id, judge, text="货款三百元")  # no change: no edit

    history = await svc.history(seg.id)
    assert [(e.editor, e.field, e.before, e.after) for e in history] == [
        ("clerk", "text", "货款三千元", "货款三百元"),
        (p["judge"].id, "speaker", p["plaintiff"].id, p["agent"].id),
        (p["judge"].id, "role", "plaintiff", "agent"),
        (p["judge"].id, "name", "张三", "钱律师"),
    ]
    [raw] = await svc.segments(hid, corrected=False)
    assert (raw.text, raw.participant_id, raw.role, raw.name) == ("货款三千元", p["plaintiff"].id, Role.PLAINTIFF, "张三")
    assert "[00:00:10] 被告诉讼代理人（钱律师）：货款三百元" in (await svc.export(hid, "txt")).splitlines()
    kinds = [(e.kind, e.subject) for e in await court.events(hid)]
    assert kinds.count(("record.correct", str(seg.id))) == 2

    with pytest.raises(ActionRefused) as refused:  # a party may not correct
        await svc.correct(hid, seg.id, _actor(p["plaintiff"]), text="x")
    assert refused.value.status == 403
    with pytest.raises(InvalidInput):  # the speaker must sit in this hearing
        await svc.correct(hid, seg.id, CLERK, speaker="nobody")
    with pytest.raises(InvalidInput):
        await svc.correct(hid, seg.id, CLERK)
    with pytest.raises(NotFound):
        await svc.correct(hid, 999_999, CLERK, text="x")
    struck = await svc.correct(hid, seg.id, CLERK, text="")
    assert struck.text == "" and "货款" not in (await svc.export(hid, "vtt"))


async def test_objection_correction_reconfirmation_signed(court: Court) -> None:
    """review: an objection → the clerk corrects (a new version) → those who confirmed the old
    version confirm again → the court signs → signed, and nothing changes it any more."""
    svc = TranscriptService(court)
    seen: list[RecordConfirmed] = []

    async def deposit(news: RecordConfirmed) -> None:
        seen.append(news)

    def broken(news: RecordConfirmed) -> None:
        raise RuntimeError("ledger down")

    svc.on_confirmed += [broken, deposit]
    hid, p = await _hearing(court)
    seg = await svc.add_final(hid, p["judge"].id, "现在开廷。", 1.0, 2.0)
    assert seg is not None

    with pytest.raises(ActionRefused) as before:
        await svc.confirm(hid, p["plaintiff"], "confirm")
    assert (before.value.status, before.value.code) == (409, "not_closed")
    await _close(court, hid, p["judge"], svc)
    for who in ("witness", "judge"):
        with pytest.raises(ActionRefused) as refused:
            await svc.confirm(hid, p[who], "confirm")
        assert refused.value.status == 403
    with pytest.raises(InvalidInput):
        await svc.confirm(hid, p["defendant"], "object", "")  # an objection says what is wrong
    with pytest.raises(InvalidInput):
        await svc.confirm(hid, p["defendant"], "maybe")

    status = await svc.record_status(hid)
    v1 = await svc.canonical_text(hid)
    assert status["record_state"] == "review" and status["version_number"] == 1
    assert status["version"] == status["sha256"] == hashlib.sha256(v1.encode()).hexdigest()
    assert not status["sealed"] and len(status["pending"]) == 3

    mine = await svc.confirm(hid, p["plaintiff"], "confirm", version=status["version"])
    assert mine.sha256 == status["sha256"] and mine.version == 1
    assert seen[0].first and not seen[0].complete and seen[0].text == v1
    again = await svc.confirm(hid, p["plaintiff"], "confirm")  # twice is once
    assert again.wall_time == mine.wall_time
    await svc.confirm(hid, p["defendant"], "object", "第1行应为“现在开庭”")

    # The clerk corrects: version 2; the plaintiff's confirmation of version 1 no longer counts.
    await svc.correct(hid, seg.id, CLERK, text="现在开庭。")
    status2 = await svc.record_status(hid)
    assert status2["version_number"] == 2 and status2["version"] != status["version"]
    assert {c["participant"] for c in status2["unconfirmed"]} == {p["plaintiff"].id, p["defendant"].id, p["agent"].id}
    with pytest.raises(StaleVersion) as stale:  # 409 naming the latest
        await svc.confirm(hid, p["plaintiff"], "confirm", version=status["version"])
    assert stale.value.status == 409 and stale.value.latest.sha256 == status2["version"]
    assert status2["version"] in stale.value.message

    for who in ("plaintiff", "defendant", "agent"):
        await svc.confirm(hid, p[who], "confirm", version=status2["version"])
    assert not (await svc.record_status(hid))["signed"]  # the court has not signed yet
    judge, new = await svc.review.decide(hid, _actor(p["judge"]), "sign", version=status2["version"])
    assert new and judge.kind == "sign"
    _, new = await svc.review.decide(hid, _actor(p["judge"]), "sign")
    assert not new  # signing twice is idempotent
    await svc.review.decide(hid, CLERK, "sign", version=2)
    final = await svc.record_status(hid)
    assert final["record_state"] == "signed" and final["signed"] and final["sealed"] and seen[-1].complete
    assert final["signatures_pending"] == [] and final["pending"] == []

    with pytest.raises(ActionRefused) as late:  # a signed version never changes
        await svc.correct(hid, seg.id, CLERK, text="再改")
    assert (late.value.status, late.value.code) == (409, "record_signed")
    with pytest.raises(ActionRefused):
        await svc.add_final(hid, p["judge"].id, "迟到的一句", 5.0, 6.0)
    with pytest.raises(ActionRefused):
        await svc.confirm(hid, p["plaintiff"], "object", "改主意了")

    txt = await svc.export(hid, "txt")
    body = canonical_part(txt)
    assert hashlib.sha256(body.encode()).hexdigest() == status2["version"] and "现在开庭。" in body
    assert "被告 李四：对第1版有异议。异议内容：第1行应为“现在开庭”" in txt
    assert "本笔录第2版已签署" in txt and "审判长 王法官：签名（第2版" in txt
    kinds = [e.kind for e in await court.events(hid)]
    assert kinds.count("record.confirm") == 4 and kinds.count("record.object") == 1
    assert kinds.count("record.version") == 2 and kinds.count("record.signed") == 1


async def test_the_presiding_judge_finalises_with_outstanding_objections(court: Court) -> None:
    svc = TranscriptService(court)
    hid, p = await _hearing(court)
    await svc.add_final(hid, p["judge"].id, "现在开庭。", 1.0, 2.0)
    await _close(court, hid, p["judge"], svc)
    await svc.confirm(hid, p["plaintiff"], "confirm")
    await svc.confirm(hid, p["defendant"], "object", "漏记了我方意见")
    with pytest.raises(ActionRefused) as clerk:
        await svc.review.decide(hid, CLERK, "finalise")
    assert clerk.value.status == 403
    objection = next(s for s in await svc.review.statements(hid) if s.kind == "object")
    await svc.review.decide(hid, CLERK, "answer", "经核对录音，笔录无误", refers=objection.id)
    statement, _ = await svc.review.decide(hid, _actor(p["judge"]), "finalise")
    outstanding = {o["name"]: o["status"] for o in statement.data["outstanding"]}
    assert outstanding == {"李四": "objected", "钱律师": "not_confirmed"}
    txt = await svc.export(hid, "txt")
    assert "书记员答复：经核对录音，笔录无误" in txt and "定稿时有异议：被告 李四。异议内容：漏记了我方意见" in txt
    assert "定稿时未确认：被告诉讼代理人 钱律师" in txt
    assert (await svc.record_status(hid))["record_state"] == "signed"


def _p(role: Role, state: ParticipantState = ParticipantState.ADMITTED, witness: Any = None) -> Participant:
    return Participant("x", "h", "某", role, state=state, witness_state=witness)


@pytest.mark.parametrize(
    ("who", "state", "allowed"),
    [
        (None, HearingState.IN_SESSION, True),  # the clerk's key
        (_p(Role.JUDGE, ParticipantState.INVITED), HearingState.SCHEDULED, True),
        (_p(Role.CLERK), HearingState.CLOSED, True),
        (_p(Role.PLAINTIFF), HearingState.IN_SESSION, True),
        (_p(Role.PLAINTIFF, ParticipantState.WAITING), HearingState.IN_SESSION, False),
        (_p(Role.AGENT, ParticipantState.LEFT), HearingState.CLOSED, True),  # to confirm it
        (_p(Role.OBSERVER), HearingState.IN_SESSION, True),
        (_p(Role.OBSERVER), HearingState.CLOSED, False),
        (_p(Role.WITNESS, witness=WitnessState.ISOLATED), HearingState.IN_SESSION, False),
        (_p(Role.WITNESS, witness=WitnessState.TESTIFYING), HearingState.IN_SESSION, True),
        (_p(Role.WITNESS, witness=WitnessState.EXCUSED), HearingState.RECESS, False),
        (_p(Role.WITNESS, witness=WitnessState.EXCUSED), HearingState.CLOSED, False),
    ],
)
def test_who_may_read_the_record(who: Participant | None, state: HearingState, allowed: bool) -> None:
    assert may_read_record(who, state) is allowed
