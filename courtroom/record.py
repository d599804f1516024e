"""The hearing record (庭审笔录) as files: JSON, WebVTT, SRT and the Chinese text record.

Pure functions of a hearing, its participants and its segments (plus optional notes: the
procedure's moments and exhibit views, and the confirmations). No database, no HTTP.

The text record (`to_txt`) is the canonical form: its body, from the court's name down to
the line ``（以下无正文）``, is what the parties confirm and what SHA-256 fixes. The confirmation
page is appended *after* that line once the hearing is closed, so confirming never changes
the hash; `canonical_part` cuts it off again. See docs/record.md.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from .events import Event
from .hearing import Hearing
from .participants import Participant, ParticipantState
from .procedure import HearingState, ProcedureKind
from .roles import ROLE_NAMES_ZH, Permission, Role, may

if TYPE_CHECKING:  # the service imports this module; these are only annotations here
    from .transcript import Confirmation, Segment

# The record's wall-clock times are printed in China Standard Time, whatever the server's
# TZ: the text is hashed, so it must not depend on the machine that renders it.
RECORD_TZ: tzinfo = timezone(timedelta(hours=8), "UTC+08:00")

PROCEDURE_NAMES_ZH: dict[ProcedureKind, str] = {
    ProcedureKind.SMALL_CLAIMS: "小额诉讼程序",
    ProcedureKind.SIMPLE: "简易程序",
    ProcedureKind.ORDINARY: "普通程序",
    ProcedureKind.EVIDENCE_EXCHANGE: "证据交换",
    ProcedureKind.MEDIATION: "调解",
}

# format -> Content-Type (always served with charset=utf-8)
FORMATS: dict[str, str] = {
    "json": "application/json",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
    "txt": "text/plain",
}

END_OF_TEXT = "（以下无正文）"  # the canonical text's last line; the confirmation page follows
DECISION_NAMES_ZH = {"confirm": "确认无误", "object": "有异议"}

# The order in which the header lists the people of a hearing.
_ROLE_ORDER = [
    Role.JUDGE, Role.MEDIATOR, Role.CLERK, Role.PLAINTIFF, Role.DEFENDANT, Role.AGENT,
    Role.WITNESS, Role.INTERPRETER, Role.OBSERVER,
]
_SIDE_NAMES_ZH = {"plaintiff": "原告", "defendant": "被告"}


@dataclass(frozen=True)
class Note:
    """A line of the record that nobody spoke: 开庭, 休庭, a witness called, an exhibit shown."""

    time: float  # hearing time
    text: str  # e.g. "（开庭）", "（原告出示证据1《买卖合同》）"
    kind: str = ""  # the event kind it came from, if any


@dataclass
class Turn:
    """Consecutive segments of one speaker, as one line of the text record."""

    participant_id: str
    label: str  # 审判长（王法官）
    start: float
    end: float
    text: str
    segment_ids: list[int] = field(default_factory=list)


# --- names and times ---------------------------------------------------------------------


def role_title(role: Role, side: str | None = None) -> str:
    """审判长, 原告, 被告诉讼代理人 ... (an agent is named for the side it acts for)."""
    base = ROLE_NAMES_ZH[role]
    if role is Role.AGENT and side in _SIDE_NAMES_ZH:
        return _SIDE_NAMES_ZH[side] + base
    return base


def speaker_label(role: Role, name: str, side: str | None = None) -> str:
    """`原告 张三`: the caption's voice."""
    return f"{role_title(role, side)} {name}"


def turn_label(role: Role, name: str, side: str | None = None) -> str:
    """`审判长（王法官）`: the speaker of a line of the text record."""
    return f"{role_title(role, side)}（{name}）"


def hearing_clock(seconds: float) -> str:
    """Hearing time as HH:MM:SS (whole seconds, floored)."""
    total = max(0, int(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h:02d}:{m:02d}:{s:02d}"


def _cue_time(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def _wall(ts: float, tz: tzinfo) -> datetime:
    return datetime.fromtimestamp(ts, tz)


def _date_zh(d: datetime) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _one_line(text: str) -> str:
    """Text on one line: line breaks and other controls become spaces."""
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    return " ".join(cleaned.split())


def _joins_tight(a: str, b: str) -> bool:
    return unicodedata.east_asian_width(a) in ("W", "F") or unicodedata.east_asian_width(b) in ("W", "F")


def join_text(a: str, b: str) -> str:
    """Two pieces of speech of one speaker: Chinese runs on, Latin words get a space."""
    if not a:
        return b
    if not b:
        return a
    return a + b if _joins_tight(a[-1], b[0]) else f"{a} {b}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def canonical_part(txt: str) -> str:
    """The hashed part of a text record: everything up to and including ``（以下无正文）``."""
    marker = END_OF_TEXT + "\n"
    at = txt.find(marker)
    if at < 0:
        raise ValueError("not a hearing record: no end-of-text line")
    return txt[: at + len(marker)]


def needs_confirmation(p: Participant) -> bool:
    """Parties and agents confirm the record (a removed one cannot: its token is dead)."""
    return may(p.role, Permission.CONFIRM_RECORD) and p.state is not ParticipantState.REMOVED


# --- notes from hearing events -------------------------------------------------------------

_EVENT_NOTES = {
    "hearing.start": "（开庭）",
    "hearing.recess": "（休庭）",
    "hearing.resume": "（继续开庭）",
    "hearing.close": "（闭庭）",
}
_MEDIATION_NOTES = {
    "hearing.start": "（调解开始）",
    "hearing.recess": "（暂停调解）",
    "hearing.resume": "（继续调解）",
    "hearing.close": "（调解结束）",
}


def notes_from_events(hearing: Hearing, participants: Sequence[Participant], events: Iterable[Event]) -> list[Note]:
    """The procedure's moments that belong in the record. Every kind named here happens
    before or at the closing, so the notes of a closed hearing never change."""
    names = _EVENT_NOTES if hearing.procedure is not ProcedureKind.MEDIATION else _MEDIATION_NOTES
    by_id = {p.id: p for p in participants}
    notes = []
    for e in events:
        text = names.get(e.kind)
        subject = by_id.get(e.subject or "")
        if text is None and subject is not None:
            who = f"{role_title(subject.role, subject.side)}{subject.name}"
            if e.kind == "participant.call_witness":
                text = f"（{who}到庭）"
            elif e.kind == "participant.excuse_witness":
                text = f"（{who}退庭）"
            elif e.kind == "participant.remove":
                text = f"（{who}被移出庭审）"
        if text is not None:
            notes.append(Note(e.hearing_time, text, e.kind))
    return notes


# --- turns -----------------------------------------------------------------------------------


def _sides(participants: Sequence[Participant]) -> dict[str, str | None]:
    return {p.id: p.side for p in participants}


def spoken(segments: Iterable[Segment]) -> list[Segment]:
    """Segments in the record's order (start, then id); a struck one (empty text) is left out."""
    return sorted((s for s in segments if s.text), key=lambda s: (s.start, s.id))


def turns(
    segments: Iterable[Segment], participants: Sequence[Participant] = (), notes: Iterable[Note] = ()
) -> list[Turn | Note]:
    """The record's lines: a turn per run of one speaker's segments, notes between them."""
    sides = _sides(participants)
    items: list[tuple[float, int, Segment | Note]] = [(s.start, 1, s) for s in spoken(segments)]
    items += [(n.time, 0, n) for n in notes]  # a note at the same moment comes first
    items.sort(key=lambda item: (item[0], item[1]))
    out: list[Turn | Note] = []
    for _, _, item in items:
        if isinstance(item, Note):
            out.append(item)
            continue
        last = out[-1] if out else None
        if isinstance(last, Turn) and last.participant_id == item.participant_id:
            last.text = join_text(last.text, _one_line(item.text))
            last.end = max(last.end, item.end)
            last.segment_ids.append(item.id)
            continue
        label = turn_label(item.role, item.name, sides.get(item.participant_id))
        out.append(Turn(item.participant_id, label, item.start, item.end, _one_line(item.text), [item.id]))
    return out


# --- captions ------------------------------------------------------------------------------


def vtt_escape(text: str) -> str:
    # '&' first; escaping '>' also breaks any "-->" inside the text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def srt_escape(text: str) -> str:
    # SRT has no escaping; "-->" would read as a timing line, so it becomes an arrow
    return text.replace("-->", "→")


def _cue_span(s: Segment) -> tuple[float, float]:
    # A cue must end after it starts (a one-word segment can have end == start).
    return s.start, max(s.end, s.start + 0.1)


def to_vtt(hearing: Hearing, participants: Sequence[Participant], segments: Iterable[Segment]) -> str:
    """WebVTT, one cue per segment, the speaker as a voice tag: ``<v 原告 张三>…``."""
    sides = _sides(participants)
    parts = ["WEBVTT", ""]
    for s in spoken(segments):
        start, end = _cue_span(s)
        voice = vtt_escape(_one_line(speaker_label(s.role, s.name, sides.get(s.participant_id))))
        parts.append(f"{s.id}")
        parts.append(f"{_cue_time(start, '.')} --> {_cue_time(end, '.')}")
        parts.append(f"<v {voice}>{vtt_escape(_one_line(s.text))}")
        parts.append("")
    return "\n".join(parts)


def to_srt(hearing: Hearing, participants: Sequence[Participant], segments: Iterable[Segment]) -> str:
    """SRT, one numbered cue per segment, ``原告 张三：…``."""
    sides = _sides(participants)
    parts = []
    for n, s in enumerate(spoken(segments), start=1):
        start, end = _cue_span(s)
        label = _one_line(speaker_label(s.role, s.name, sides.get(s.participant_id)))
        parts.append(str(n))
        parts.append(f"{_cue_time(start, ',')} --> {_cue_time(end, ',')}")
        parts.append(srt_escape(f"{label}：{_one_line(s.text)}"))
        parts.append("")
    return "\n".join(parts)


# --- the text record -----------------------------------------------------------------------


def _header(hearing: Hearing, participants: Sequence[Participant], tz: tzinfo) -> list[str]:
    lines = []
    if hearing.court:
        lines.append(hearing.court)
    lines.append("庭审笔录" if hearing.procedure is not ProcedureKind.MEDIATION else "调解笔录")
    lines.append("")
    lines.append(f"案号：{hearing.case_number}")
    if hearing.title and hearing.title != hearing.case_number:
        lines.append(f"案件：{hearing.title}")
    lines.append(f"程序：{PROCEDURE_NAMES_ZH[hearing.procedure]}")
    lines.append(f"审理方式：{'公开审理' if hearing.broadcastable else '不公开审理'}")
    if hearing.opened_at is None:
        lines.append("日期：尚未开庭")
    else:
        opened = _wall(hearing.opened_at, tz)
        zone = opened.tzname() or ""
        lines.append(f"日期：{_date_zh(opened)}")
        if hearing.closed_at is None:
            lines.append(f"时间：{opened:%H:%M:%S} 起（{zone}）")
        else:
            closed = _wall(hearing.opened_at + hearing.closed_at, tz)
            until = f"{closed:%H:%M:%S}" if closed.date() == opened.date() else f"{_date_zh(closed)} {closed:%H:%M:%S}"
            lines.append(f"时间：{opened:%H:%M:%S} 至 {until}（{zone}）")
        lines.append(f"笔录中方括号内为庭审时间，自 {opened:%H:%M:%S} 起计。")
    lines.append("")
    lines.append("到庭人员：")
    groups: dict[str, list[str]] = {}
    for p in sorted(participants, key=lambda p: (_ROLE_ORDER.index(p.role), p.side or "", p.created_at, p.id)):
        groups.setdefault(role_title(p.role, p.side), []).append(_one_line(p.name))
    for title, names in groups.items():
        lines.append(f"{title}：{'、'.join(names)}")
    return lines


def _identity_lines(notes: Sequence[Note], tz: tzinfo) -> list[str]:
    # Identity at join: who verified whom, when (a separate module, so this file stays small).
    from .identity_record import attendance_lines

    return attendance_lines(notes, tz)


def to_txt(
    hearing: Hearing,
    participants: Sequence[Participant],
    segments: Iterable[Segment],
    notes: Iterable[Note] = (),
    confirmations: Sequence[Confirmation] | None = None,
    tz: tzinfo = RECORD_TZ,
) -> str:
    """The Chinese hearing record. With `confirmations` (a list, even empty) the confirmation
    page follows the end-of-text line: the decisions, objections, and who is still to confirm."""
    notes = list(notes)
    lines = _header(hearing, participants, tz)
    lines += _identity_lines(notes, tz)
    lines.append("")
    lines.append("庭审记录：")
    for item in turns(segments, participants, notes):
        if isinstance(item, Note):
            lines.append(f"[{hearing_clock(item.time)}] {_one_line(item.text)}")
        else:
            lines.append(f"[{hearing_clock(item.start)}] {item.label}：{item.text}")
    lines.append(END_OF_TEXT)
    body = "\n".join(lines) + "\n"
    if confirmations is None:
        return body
    return body + confirmation_page(body, participants, confirmations, tz)


def confirmation_page(
    body: str, participants: Sequence[Participant], confirmations: Sequence[Confirmation], tz: tzinfo = RECORD_TZ
) -> str:
    sides = _sides(participants)
    lines = ["", "笔录确认：", f"以上笔录正文（自首行至“{END_OF_TEXT}”）的 SHA-256：{sha256_text(body)}"]
    decided = set()
    for c in sorted(confirmations, key=lambda c: (c.wall_time, c.participant_id)):
        decided.add(c.participant_id)
        when = _wall(c.wall_time, tz)
        who = speaker_label(c.role, _one_line(c.name), sides.get(c.participant_id))
        line = f"{who}：{DECISION_NAMES_ZH.get(c.decision, c.decision)}"
        if c.objection:
            line += f"。异议内容：{_one_line(c.objection)}"
        lines.append(f"{line}（{_date_zh(when)} {when:%H:%M:%S}）")
    pending = [p for p in participants if needs_confirmation(p) and p.id not in decided]
    if pending:
        lines.append("尚未确认：" + "、".join(speaker_label(p.role, _one_line(p.name), p.side) for p in pending))
    return "\n".join(lines) + "\n"


# --- JSON ----------------------------------------------------------------------------------


def record_dict(
    hearing: Hearing,
    participants: Sequence[Participant],
    segments: Iterable[Segment],
    notes: Iterable[Note] = (),
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    sides = _sides(participants)
    segs = sorted(segments, key=lambda s: (s.start, s.id))
    data: dict[str, Any] = {
        "hearing": {
            "id": hearing.id,
            "case_number": hearing.case_number,
            "title": hearing.title,
            "court": hearing.court,
            "procedure": hearing.procedure.value,
            "procedure_zh": PROCEDURE_NAMES_ZH[hearing.procedure],
            "public": hearing.public,
            "state": hearing.state.value,
            "opened_at": hearing.opened_at,
            "started_at": hearing.started_at,
            "closed_at": hearing.closed_at,
        },
        "participants": [
            {"id": p.id, "name": p.name, "role": p.role.value, "side": p.side, "title_zh": role_title(p.role, p.side)}
            for p in participants
        ],
        "segments": [{**s.to_dict(), "label": speaker_label(s.role, s.name, sides.get(s.participant_id))} for s in segs],
        "notes": [{"time": round(n.time, 3), "text": n.text, "kind": n.kind} for n in sorted(notes, key=lambda n: n.time)],
        "closed": hearing.state is HearingState.CLOSED,
    }
    if extra:
        data.update(extra)
    return data


def to_json(
    hearing: Hearing,
    participants: Sequence[Participant],
    segments: Iterable[Segment],
    notes: Iterable[Note] = (),
    extra: dict[str, Any] | None = None,
) -> str:
    return json.dumps(record_dict(hearing, participants, segments, notes, extra), ensure_ascii=False, indent=1) + "\n"

