"""Identity on the record (庭审笔录): who verified whose identity, and when.

Pure functions of the hearing's events and participants, like `record.notes_from_events`:
each verdict (`participant.verify_identity`) and each re-check request becomes a line of the
record at its hearing time, and the header lists, after the people present, each person's
last verdict with the officer and the time (`attendance_lines`, called by `record.to_txt`).
The verdict is allowed only before the close, so the notes of a closed hearing never change.
Nothing here names an image, a score or an ID number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from .events import Event
from .identity import RECHECK, VERIFY
from .participants import Participant
from .record import Note, role_title

_CLERK_KEY = "书记员"  # the clerk's API key acts as the court's clerk


@dataclass(frozen=True)
class IdentityNote(Note):
    participant_id: str = ""
    who: str = ""  # 原告张三
    verified: bool | None = None  # None: a re-check was asked for
    by: str = ""  # 书记员赵书记员
    at: float = 0.0  # wall time of the verdict
    reason: str = ""


def _name(p: Participant | None, fallback: str) -> str:
    # A protected participant is named by role only: these lines reach every reader of the
    # record, some of whom the participant is screened from (courtroom/disclosure.py).
    if p is None:
        return fallback
    return role_title(p.role, p.side) if p.protected else f"{role_title(p.role, p.side)}{p.name}"


def identity_notes(events: Iterable[Event], participants: Sequence[Participant]) -> list[IdentityNote]:
    by_id = {p.id: p for p in participants}
    notes = []
    for e in events:
        if e.kind not in (VERIFY, RECHECK) or not e.subject:
            continue
        who = _name(by_id.get(e.subject), e.subject)
        actor = _CLERK_KEY if e.actor == "clerk" else _name(by_id.get(e.actor or ""), e.actor or "")
        if e.kind == RECHECK:
            notes.append(IdentityNote(e.hearing_time, f"（{actor}要求{who}重新核验身份）", e.kind,
                                      e.subject, who, None, actor, e.wall_time))
            continue
        verified = bool(e.data.get("verified"))
        reason = " ".join(str(e.data.get("reason", "")).split())
        text = f"（{actor}核验{who}的身份：{'属实' if verified else '未通过'}{'，理由：' + reason if reason else ''}）"
        notes.append(IdentityNote(e.hearing_time, text, e.kind, e.subject, who, verified, actor, e.wall_time, reason))
    return notes


async def identity_note_source(court: Any, hearing_id: str) -> list[Note]:
    """A transcript NoteSource (`TranscriptService.note_sources`) over a `Court`."""
    return list(identity_notes(await court.events(hearing_id), await court.participants(hearing_id)))


def attendance_lines(notes: Iterable[Note], tz: tzinfo) -> list[str]:
    """身份核验 under 到庭人员: each person's last verdict, by whom, at what time."""
    last: dict[str, IdentityNote] = {}
    order: list[str] = []
    for n in notes:
        if isinstance(n, IdentityNote) and n.participant_id:
            if n.participant_id not in last:
                order.append(n.participant_id)
            last[n.participant_id] = n
    lines = []
    for pid in order:
        n = last[pid]
        if n.verified is None:
            lines.append(f"{n.who}：身份待重新核验（{n.by}要求）")
            continue
        when = datetime.fromtimestamp(n.at, tz)
        stamp = f"{when.year}年{when.month}月{when.day}日 {when:%H:%M:%S}"
        verdict = "身份已核验" if n.verified else "身份未通过核验"
        lines.append(f"{n.who}：{verdict}（核验人：{n.by}，{stamp}）")
    return ["", "身份核验：", *lines] if lines else []
