"""Attendance from the hearing's events: who was admitted and when, who never came (缺席), and
the timed notes of the record — a late arrival, leaving with or without the judge's permission,
a connection lost for longer than `drop_note_seconds`, and the judge's rulings on them.

Pure functions of the hearing, its participants and its events. The pod records and shows; the
judge decides (the `rule` action: 视为缺席, 按撤诉处理, 准许). `present_lines` builds the record's
到庭人员 block; other features extend a line through its `extra` hook (identity checks, say).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from .events import Event
from .hearing import Hearing
from .participants import SEATED_ON_JOIN, Participant
from .record import Note, _one_line, role_title
from .roles import PARTY_ROLES, Role

# The judge's rulings on attendance (the `rule` action's `ruling`), as the record prints them.
RULINGS: dict[str, str] = {
    "deemed_absent": "视为缺席",
    "withdrawal": "按撤诉处理",
    "permitted": "准许",
}
ADMITTING = frozenset({"participant.admit", "participant.call_witness"})
JOINING = frozenset({"participant.join", "participant.return"})

TitleOf = Callable[[Participant], str]
LineExtra = Callable[[Participant], str]


@dataclass(frozen=True)
class Admission:
    participant_id: str
    hearing_time: float
    wall_time: float


def _title(p: Participant) -> str:
    return role_title(p.role, p.side)


def admissions(participants: Sequence[Participant], events: Iterable[Event]) -> dict[str, Admission]:
    """Each participant's first admission: admitted (or called, for a witness) by the court, or
    seated on joining for the court's own officers."""
    by_id = {p.id: p for p in participants}
    out: dict[str, Admission] = {}
    for e in events:
        p = by_id.get(e.subject or "")
        if p is None or p.id in out:
            continue
        if e.kind in ADMITTING or (e.kind in JOINING and p.role in SEATED_ON_JOIN):
            out[p.id] = Admission(p.id, e.hearing_time, e.wall_time)
    return out


def present_lines(
    participants: Sequence[Participant],
    events: Sequence[Event],
    tz: tzinfo,
    order: Sequence[Role],
    title_of: TitleOf = _title,
    extra: LineExtra | None = None,
) -> list[str]:
    """The record's 到庭人员 and 缺席人员 blocks: one line per title, each person with the time it
    was admitted; parties and agents never admitted are absent."""
    admitted = admissions(participants, events)
    present: dict[str, list[str]] = {}
    absent: dict[str, list[str]] = {}
    for p in sorted(participants, key=lambda p: (order.index(p.role), p.side or "", p.created_at, p.id)):
        name = _one_line(p.name)
        a = admitted.get(p.id)
        if a is not None:
            more = extra(p) if extra else ""
            when = datetime.fromtimestamp(a.wall_time, tz)
            present.setdefault(title_of(p), []).append(f"{name}（{when:%H:%M:%S} 到庭{more}）")
        elif p.role in PARTY_ROLES:
            absent.setdefault(title_of(p), []).append(name)
    lines = ["到庭人员："]
    lines += [f"{title}：{'、'.join(names)}" for title, names in present.items()] or ["（无）"]
    if absent:
        lines.append("缺席人员：")
        lines += [f"{title}：{'、'.join(names)}（未到庭）" for title, names in absent.items()]
    return lines


def attendance_notes(
    hearing: Hearing,
    participants: Sequence[Participant],
    events: Sequence[Event],
    drop_seconds: float = 60.0,
    title_of: TitleOf = _title,
) -> list[Note]:
    """Timed notes: late arrivals, leaving (with or without permission), long drops, rulings."""
    by_id = {p.id: p for p in participants}

    def who(p: Participant) -> str:
        return f"{title_of(p)}{_one_line(p.name)}"

    started = next((e.hearing_time for e in events if e.kind == "hearing.start"), None)
    closed = next((e.hearing_time for e in events if e.kind == "hearing.close"), None)
    presiding = next((title_of(p) for p in participants if p.role in (Role.JUDGE, Role.MEDIATOR)), "审判长")
    notes: list[Note] = []
    admitted = admissions(participants, events)
    for pid, a in admitted.items():
        late = by_id[pid]
        if late.role in PARTY_ROLES and started is not None and a.hearing_time > started:
            notes.append(Note(a.hearing_time, f"（{who(late)}迟到，此时到庭）", "attendance.late"))
    permitted: set[str] = set()
    dropped: dict[str, Event] = {}
    for e in events:
        p = by_id.get(e.subject or "")
        if p is None or (closed is not None and e.hearing_time > closed):
            continue
        if e.kind == "participant.rule":
            ruling = str(e.data.get("ruling", ""))
            if ruling == "permitted":
                permitted.add(p.id)
                notes.append(Note(e.hearing_time, f"（{presiding}准许{who(p)}离庭）", "attendance.ruling"))
            elif ruling in RULINGS:
                notes.append(Note(e.hearing_time, f"（{presiding}决定：{who(p)}{RULINGS[ruling]}）", "attendance.ruling"))
        elif e.kind == "participant.leave" and p.id in admitted:
            how = "经准许离庭" if p.id in permitted else "未经准许离庭"
            permitted.discard(p.id)
            notes.append(Note(e.hearing_time, f"（{who(p)}{how}）", "attendance.leave"))
        elif e.kind == "participant.drop" and p.id in admitted:
            dropped.setdefault(p.id, e)
        elif e.kind in JOINING and p.id in dropped:
            lost = dropped.pop(p.id)
            gap = e.hearing_time - lost.hearing_time
            if gap > drop_seconds:
                notes.append(Note(lost.hearing_time, f"（{who(p)}连接中断，{_span(gap)}后重新连接）", "attendance.drop"))
    for pid, lost in dropped.items():
        end = closed if closed is not None else None
        if end is not None and end - lost.hearing_time > drop_seconds:
            notes.append(Note(lost.hearing_time, f"（{who(by_id[pid])}连接中断，至闭庭未重新连接）", "attendance.drop"))
    return notes


def _span(seconds: float) -> str:
    s = int(seconds)
    m, s = divmod(s, 60)
    return f"{m}分{s:02d}秒" if m else f"{s}秒"
