"""The hearing record (庭审笔录) as data: final segments, the clerk's corrections, confirmations.

A final segment is stored the moment the recognizer finalises it (one INSERT; the database
runs `synchronous=FULL`). Its speaker is the participant whose audio stream it came from,
with that participant's role and name at that moment: attribution is never guessed.

Corrections change the segment's row and keep every change in `segment_edits` (who, when,
which field, before, after): the first edit of a field holds the recognizer's original.

After the hearing closes the record follows the lifecycle in `record_lifecycle.py`
(finishing → review → signed, driven by `record_review.RecordReview`): decisions are made on
stored versions of the canonical text (`record.to_txt` without the confirmation page), each
with its SHA-256; a correction in review makes a new version; a signed record never changes
(409 `record_signed`).

Rows are read and written through the store (`court.store.segments`) on the database thread
(`Database.run`).
See docs/record.md.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import TYPE_CHECKING, Any

from . import record
from .attendance import attendance_notes
from .court import Actor, Court, InvalidInput, clean_text
from .discipline import discipline_notes
from .disclosure import Disclosure, Viewer
from .events import Event
from .hearing import Hearing
from .panel import panel_title
from .participants import Participant, ParticipantState
from .procedure import ActionRefused, HearingState
from .record import Note, sha256_text
from .record_lifecycle import check_record_action
from .record_page import signature_page
from .roles import Permission, Role, may
from .storage import NotFound
from .storage.segments import Edit, SegmentRow

if TYPE_CHECKING:
    from .storage.segments import SegmentRows

log = logging.getLogger("courtroom.transcript")

MAX_TEXT = 10_000  # characters of one segment
MAX_OBJECTION = 2_000
DECISIONS = ("confirm", "object")
EDITABLE = ("text", "speaker")  # what a correction may change; role and name follow the speaker
#: the editor of a record-engine reading in `segment_edits` (not a correction: `edited` stays false)
RECORD_ENGINE_EDITOR = "asr.record"


@dataclass
class Segment:
    id: int
    hearing_id: str
    participant_id: str
    role: Role
    name: str
    text: str  # current (corrected) text; empty when the clerk struck the segment
    original_text: str  # what the recognizer wrote
    start: float  # hearing time, seconds
    end: float
    words: list[dict[str, Any]] = field(default_factory=list)
    engine: str = ""
    edited: bool = False
    created_at: float = 0.0

    def to_message(self) -> dict[str, Any]:
        """The WebSocket form (`{"type": "transcript", "segment": ...}`)."""
        return {
            "id": self.id,
            "speaker": self.participant_id,
            "role": self.role.value,
            "name": self.name,
            "text": self.text,
            "final": True,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.to_message(),
            "original_text": self.original_text,
            "edited": self.edited,
            "words": self.words,
            "engine": self.engine,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Confirmation:
    hearing_id: str
    participant_id: str
    name: str
    role: Role
    decision: str  # confirm | object
    objection: str
    sha256: str  # of the canonical text the participant decided on
    wall_time: float
    version: int = 0  # the number of the version decided on

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant_id,
            "name": self.name,
            "role": self.role.value,
            "decision": self.decision,
            "objection": self.objection,
            "sha256": self.sha256,
            "wall_time": self.wall_time,
            "version": self.version,
        }


@dataclass(frozen=True)
class RecordConfirmed:
    """What `on_confirmed` hooks get after each decision."""

    hearing_id: str
    confirmation: Confirmation
    sha256: str  # of `text`
    text: str  # the canonical record (UTF-8 when deposited)
    first: bool  # this decision sealed the record
    complete: bool  # every party and agent has now decided


ConfirmedHook = Callable[[RecordConfirmed], Awaitable[None] | None]
NoteSource = Callable[[str], Awaitable[list[Note]] | list[Note]]


@dataclass
class _Snapshot:
    hearing: Hearing
    participants: list[Participant]
    segments: list[Segment]
    events: list[Event]
    confirmations: list[Confirmation]


def may_read_record(participant: Participant | None, state: HearingState) -> bool:
    """Whether this reader may read any of the record now: the disclosure rule's answer
    (`courtroom.disclosure`; what of it they read is `Disclosure.segments`)."""
    from .procedure import ProcedureKind

    hearing_id = participant.hearing_id if participant is not None else ""
    hearing = Hearing(hearing_id, "", "", ProcedureKind.SIMPLE, False, state=state)
    people = [participant] if participant is not None else []
    return Disclosure(hearing, people).sees_transcript(Viewer.of(participant))


def _wide(c: str) -> bool:
    return unicodedata.east_asian_width(c) in ("W", "F")


def _asr_text(text: str) -> str:
    """A recognizer's text as a line of the record: NFC, one line, single spaces, and no space
    between two Chinese characters (Vosk writes "现在 开庭"; the record reads "现在开庭")."""
    cleaned = "".join(" " if unicodedata.category(c) in ("Cc", "Cf") else c for c in unicodedata.normalize("NFC", text))
    words = cleaned.split()
    out = words[0] if words else ""
    for w in words[1:]:
        out += w if _wide(out[-1]) and _wide(w[0]) else " " + w
    return out


def _word(w: Any) -> dict[str, Any]:
    if isinstance(w, Mapping):
        get = w.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(w, key, default)

    out: dict[str, Any] = {"word": str(get("word", "")), "start": round(float(get("start", 0.0)), 3),
                           "end": round(float(get("end", 0.0)), 3)}
    conf = get("conf")
    if conf is not None:
        out["conf"] = round(float(conf), 3)
    return out


class TranscriptService:
    """The hearing record of every hearing of one pod."""

    def __init__(self, court: Court, tz: tzinfo | None = None) -> None:
        self.court = court
        self.tz: tzinfo = tz or court.config.tz  # the court's time zone
        # Called after each confirmation or objection (sync or async); the integrator deposits
        # the record in the ledger here. A failing hook is logged: the decision stays stored.
        self.on_confirmed: list[ConfirmedHook] = []
        # Extra lines of the record (exhibits shown, views stated), by hearing id. They must
        # not change once the hearing is closed, or the hash would.
        self.note_sources: list[NoteSource] = []
        from .record_review import RecordReview

        self.review = RecordReview(self)  # the record's lifecycle after the hearing

    @property
    def _rows(self) -> SegmentRows:
        return self.court.store.segments

    # --- segments ---------------------------------------------------------------------------

    async def add_final(
        self,
        hearing_id: str,
        participant_id: str,
        text: str,
        start: float,
        end: float,
        words: Iterable[Any] = (),
        engine: str = "",
    ) -> Segment | None:
        """Store a final segment of `participant_id`'s stream; None for empty text."""
        cleaned = _asr_text(text)
        if not cleaned:
            return None
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InvalidInput("invalid_field", "start and end must be finite")
        start = max(0.0, float(start))
        end = max(start, float(end))
        word_list = [_word(w) for w in words]
        segment = await self.court.db.run(
            self._insert, hearing_id, participant_id, cleaned[:MAX_TEXT], start, end, word_list, engine
        )
        await self.review.refresh(hearing_id, "system", "late final")  # in review only: a new version
        return segment

    def _insert(
        self, hearing_id: str, participant_id: str, text: str, start: float, end: float,
        words: list[dict[str, Any]], engine: str,
    ) -> Segment:
        p = self.court.store.hearings.get_participant(participant_id)
        if p.hearing_id != hearing_id:
            raise NotFound(f"no participant {participant_id} in hearing {hearing_id}")
        check_record_action("segment", self.review.state_sync(hearing_id), None)
        row = self._rows.insert(hearing_id, p.id, p.role.value, p.name, text, start, end, words, engine, time.time())
        return Segment(row.id, hearing_id, p.id, p.role, p.name, text, text, start, end, words, engine, False,
                       row.created_at)

    async def replace_with_reading(
        self, hearing_id: str, segment_ids: list[int], text: str, start: float, end: float,
        words: Iterable[Any] = (), engine: str = "",
    ) -> list[Segment]:
        """The record engine's reading of a whole turn replaces the turn's live segments: the
        first takes its text, times and words, the others are struck; each live text stays in
        the segment's history (editor `asr.record`). Nothing changes once the record is sealed
        or a court officer has corrected one of them (their word wins). Returns what changed."""
        cleaned = _asr_text(text)
        if not cleaned or not segment_ids:
            return []
        if not (math.isfinite(start) and math.isfinite(end)):
            raise InvalidInput("invalid_field", "start and end must be finite")
        word_list = [_word(w) for w in words]
        changed = await self.court.db.run(
            self._replace, hearing_id, sorted(segment_ids), cleaned[:MAX_TEXT], max(0.0, start),
            max(start, end), word_list, engine,
        )
        if changed:
            await self.review.refresh(hearing_id, "system", "late final")  # in review only: a new version
        return changed

    def _replace(
        self, hearing_id: str, ids: list[int], text: str, start: float, end: float,
        words: list[dict[str, Any]], engine: str,
    ) -> list[Segment]:
        rows = self._rows
        with self.court.store.transaction():
            check_record_action("segment", self.review.state_sync(hearing_id), None)
            live = rows.of_hearing(hearing_id, ids)
            # A court officer's correction of any of them wins over the record engine.
            if not live or rows.edits(hearing_id, ids, except_editor=RECORD_ENGINE_EDITOR):
                return []
            now = time.time()
            start = min(start, live[0].start)
            end = max(end, max(r.end for r in live))
            for i, r in enumerate(live):
                after = text if i == 0 else ""
                if i == 0:
                    rows.update(r.id, text=after, start=start, end=end, words=words, engine=engine)
                else:
                    rows.update(r.id, text="")
                if after != r.text:
                    rows.add_edit(r.id, RECORD_ENGINE_EDITOR, "text", r.text, after, now)
        return [self._segment(hearing_id, r.id) for r in live]

    async def segments(self, hearing_id: str, corrected: bool = True) -> list[Segment]:
        """The hearing's segments by start time: as corrected, or as the recognizer wrote them."""
        return await self.court.db.run(self._segments, hearing_id, corrected)

    async def segment(self, hearing_id: str, segment_id: int) -> Segment:
        return await self.court.db.run(self._segment, hearing_id, segment_id)

    def _segments(self, hearing_id: str, corrected: bool = True, only: int | None = None) -> list[Segment]:
        ids = None if only is None else [only]
        firsts: dict[int, dict[str, str]] = {}  # the first edit of a field holds what the recognizer wrote
        for e in self._rows.edits(hearing_id, ids, except_editor=RECORD_ENGINE_EDITOR):
            firsts.setdefault(e.segment_id, {}).setdefault(e.field, e.before)
        return [_segment_of(r, firsts.get(r.id, {}), corrected) for r in self._rows.of_hearing(hearing_id, ids)]

    def _segment(self, hearing_id: str, segment_id: int) -> Segment:
        found = self._segments(hearing_id, True, segment_id)
        if not found:
            raise NotFound(f"no segment {segment_id} in hearing {hearing_id}")
        return found[0]

    # --- corrections ------------------------------------------------------------------------

    async def correct(
        self,
        hearing_id: str,
        segment_id: int,
        editor: Actor,
        text: str | None = None,
        speaker: str | None = None,
    ) -> Segment:
        """The clerk's (or judge's) correction of a segment's text and/or speaker.

        `text` "" strikes the segment from the record (it stays in the JSON export and the
        history). `speaker` is a participant id of the same hearing; role and name follow it.
        """
        if not may(editor.role, Permission.CORRECT_RECORD):
            raise ActionRefused(403, "forbidden", f"a {editor.role.value} may not correct the record")
        if editor.participant is not None and editor.participant.hearing_id != hearing_id:
            raise ActionRefused(403, "forbidden", "your token is for another hearing")
        if text is None and speaker is None:
            raise InvalidInput("invalid_field", "a correction gives text, speaker or both")
        new_text = None if text is None else clean_text(text, "text", MAX_TEXT, required=False)
        if speaker is not None and (not isinstance(speaker, str) or not speaker):
            raise InvalidInput("invalid_field", "speaker must be a participant id")
        segment, edits = await self.court.db.run(self._correct, hearing_id, segment_id, editor.id, new_text, speaker)
        if edits:
            await self.court.record_event(
                hearing_id, "record.correct", editor.id, str(segment_id),
                changes=[{"field": e.field, "before": e.before, "after": e.after} for e in edits],
            )
            await self.review.refresh(hearing_id, editor.id, "correction")
        return segment

    def _correct(
        self, hearing_id: str, segment_id: int, editor: str, text: str | None, speaker: str | None
    ) -> tuple[Segment, list[Edit]]:
        rows = self._rows
        with self.court.store.transaction():
            check_record_action("correct", self.review.state_sync(hearing_id), None)
            current = self._segment(hearing_id, segment_id)
            changes: list[tuple[str, str, str]] = []
            if text is not None and text != current.text:
                changes.append(("text", current.text, text))
            if speaker is not None and speaker != current.participant_id:
                try:
                    p = self.court.store.hearings.get_participant(speaker)
                except NotFound:
                    p = None
                if p is None or p.hearing_id != hearing_id:
                    raise InvalidInput("invalid_speaker", f"{speaker} is not a participant of this hearing")
                changes.append(("speaker", current.participant_id, p.id))
                if p.role is not current.role:
                    changes.append(("role", current.role.value, p.role.value))
                if p.name != current.name:
                    changes.append(("name", current.name, p.name))
            columns = {"text": "text", "speaker": "participant_id", "role": "role", "name": "name"}
            now = time.time()
            edits = []
            for name, before, after in changes:
                rows.update(segment_id, **{columns[name]: after})
                edits.append(rows.add_edit(segment_id, editor, name, before, after, now))
        return self._segment(hearing_id, segment_id), edits

    async def history(self, segment_id: int, hearing_id: str | None = None) -> list[Edit]:
        """Every edit of a segment, oldest first (the first `before` of a field is the original)."""
        return await self.court.db.run(self._history, segment_id, hearing_id)

    def _history(self, segment_id: int, hearing_id: str | None) -> list[Edit]:
        owner = self._rows.hearing_of(segment_id)
        if owner is None or (hearing_id is not None and owner != hearing_id):
            raise NotFound(f"no segment {segment_id} in this hearing")
        return self._rows.history(segment_id)

    # --- confirmation -----------------------------------------------------------------------

    async def confirm(
        self, hearing_id: str, participant: Participant, decision: str, objection: str | None = "",
        version: object = None, image: object = None,
    ) -> Confirmation:
        """A party's or agent's decision on the latest version of the closed hearing's record."""
        if participant.hearing_id != hearing_id:
            raise ActionRefused(403, "forbidden", "your token is for another hearing")
        if not may(participant.role, Permission.CONFIRM_RECORD):
            raise ActionRefused(403, "forbidden", "only the parties and their agents confirm the record")
        if decision not in DECISIONS:
            raise InvalidInput("invalid_decision", "decision must be confirm or object")
        hearing = await self.court.get_hearing(hearing_id)
        if hearing.state is not HearingState.CLOSED:
            raise ActionRefused(409, "not_closed", "the record is confirmed after the hearing has closed")
        p = await self.court.db.run(self.court.store.hearings.get_participant, participant.id)
        if p.state is ParticipantState.REMOVED:
            raise ActionRefused(403, "forbidden", "a removed participant does not confirm the record")
        actor = Actor(p.id, p.role, p)
        statement, _ = await self.review.decide(hearing_id, actor, decision, objection, version, image)
        return _confirmation(hearing_id, statement)

    async def notify_confirmed(self, hearing_id: str, confirmation: Confirmation, text: str, first: bool,
                               complete: bool) -> None:
        """Tell the `on_confirmed` hooks (the ledger deposits the version decided on)."""
        news = RecordConfirmed(hearing_id, confirmation, confirmation.sha256, text, first, complete)
        for hook in list(self.on_confirmed):
            try:
                result = hook(news)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - the decision is stored; a hook must not undo it
                log.exception("an on_confirmed hook failed for hearing %s", hearing_id)

    async def confirmations(self, hearing_id: str) -> list[Confirmation]:
        """The parties' decisions on the latest version."""
        status = await self.review.status(hearing_id)
        return [_confirmation_from(hearing_id, d) for d in status["decisions"]]

    # --- the record as a whole --------------------------------------------------------------

    def _snapshot(self, hearing: Hearing) -> _Snapshot:
        store = self.court.store
        return _Snapshot(
            hearing,
            store.hearings.list_participants(hearing.id),
            self._segments(hearing.id),
            store.hearings.list_events(hearing.id),
            [],
        )

    def _load(self, hearing_id: str) -> _Snapshot:
        return self._snapshot(self.court.store.hearings.get_hearing(hearing_id))

    async def _extra_notes(self, hearing_id: str) -> list[Note]:
        notes: list[Note] = []
        for source in list(self.note_sources):
            result = source(hearing_id)
            if asyncio.iscoroutine(result):
                result = await result
            notes.extend(result)  # type: ignore[arg-type]
        return notes

    def _title_of(self, snap: _Snapshot) -> Callable[[Participant], str]:
        """A participant's title in the record: a judge's seat on the panel, else its role."""
        return lambda p: panel_title(p, snap.hearing, snap.participants)

    def _notes(self, snap: _Snapshot, extra: list[Note]) -> list[Note]:
        drop = float(getattr(self.court.config, "drop_note_seconds", 60.0))
        return (record.notes_from_events(snap.hearing, snap.participants, snap.events)
                + attendance_notes(snap.hearing, snap.participants, snap.events, drop, self._title_of(snap))
                + discipline_notes(snap.participants, snap.events, self._title_of(snap)) + extra)

    def _canonical(self, snap: _Snapshot, extra: list[Note]) -> str:
        return record.to_txt(snap.hearing, snap.participants, snap.segments, self._notes(snap, extra), tz=self.tz,
                             events=snap.events, title_of=self._title_of(snap))

    def _status(self, snap: _Snapshot, extra: list[Note], lifecycle: dict[str, Any],
                viewer: Viewer | None = None) -> dict[str, Any]:
        if viewer is not None and not viewer.officer:
            lifecycle = self._rule(snap).record_status(viewer, lifecycle)
        sha = lifecycle["version"] or sha256_text(self._canonical(snap, extra))
        return {
            "hearing_id": snap.hearing.id,
            "state": snap.hearing.state.value,
            "sha256": sha,
            "sealed": lifecycle["signed"],
            "complete": lifecycle["signed"],
            "confirmations": [_confirmation_from(snap.hearing.id, d).to_dict() for d in lifecycle["decisions"]],
            "pending": lifecycle["undecided"],
            **lifecycle,
            "version": sha,
        }

    async def canonical_text(self, hearing_id: str) -> str:
        """The text the parties confirm and SHA-256 fixes (`to_txt` without the confirmation page):
        the latest stored version once the record has been offered, else the record now."""
        latest = await self.review.latest(hearing_id)
        if latest is not None:
            return latest.text
        extra = await self._extra_notes(hearing_id)
        snap = await self.court.db.run(self._load, hearing_id)
        return self._canonical(snap, extra)

    async def record_status(self, hearing_id: str, viewer: Viewer | None = None) -> dict[str, Any]:
        """The record's lifecycle and its latest version (`version`: its SHA-256), decisions,
        signatures and who is pending, as `viewer` may read it (whole when None). See docs/record.md."""
        extra = await self._extra_notes(hearing_id)
        snap = await self.court.db.run(self._load, hearing_id)
        return self._status(snap, extra, await self.review.status(hearing_id), viewer)

    def _rule(self, snap: _Snapshot) -> Disclosure:
        return Disclosure(snap.hearing, snap.participants, snap.events, self.court.hearing_time(snap.hearing),
                          self.court.config.broadcast_delay, self.court.config.language)

    def _disclosed(self, snap: _Snapshot, viewer: Viewer) -> _Snapshot:
        """The record as the disclosure rule lets `viewer` read it: only the segments it may
        see, and a role label for whoever is screened from it (the court's copy is whole)."""
        rule = self._rule(snap)
        segments = []
        for s in snap.segments:
            shown = rule.segment(viewer, s)
            if shown is not None:
                segments.append(replace(s, name=shown.get("name", s.name)))
        return replace(snap, participants=rule.record_people(viewer), segments=segments)

    async def export(self, hearing_id: str, fmt: str, viewer: Viewer | None = None) -> str:
        """The record as `json`, `vtt`, `srt` or `txt` (with its confirmation page once closed),
        as `viewer` may read it (the court's whole record when None)."""
        if fmt not in record.FORMATS:
            raise InvalidInput("invalid_format", f"format must be one of: {', '.join(record.FORMATS)}")
        extra = await self._extra_notes(hearing_id)
        snap = full = await self.court.db.run(self._load, hearing_id)
        if viewer is not None and not viewer.officer:
            snap = self._disclosed(snap, viewer)
        h, people, segs = snap.hearing, snap.participants, snap.segments
        if fmt == "vtt":
            return record.to_vtt(h, people, segs)
        if fmt == "srt":
            return record.to_srt(h, people, segs)
        notes = self._notes(snap, extra)
        lifecycle = await self.review.status(hearing_id)
        if fmt == "txt":
            now = self._canonical(snap, extra)
            if h.state is not HearingState.CLOSED:
                return now
            latest = await self.review.latest(hearing_id)
            body = latest.text if latest is not None else now
            if snap is not full and now != self._canonical(full, extra):
                body = now  # the disclosure rule hides part of the signed version from this reader
            return body + signature_page(lifecycle, self.tz)
        return record.to_json(h, people, segs, notes, {"record": self._status(snap, extra, lifecycle, viewer)})


def _segment_of(r: SegmentRow, original: dict[str, str], corrected: bool) -> Segment:
    """A stored segment as corrected, or (`corrected` False) as the recognizer wrote it."""
    seg = Segment(
        id=r.id, hearing_id=r.hearing_id, participant_id=r.participant_id, role=Role(r.role), name=r.name,
        text=r.text, original_text=original.get("text", r.text), start=r.start, end=r.end, words=r.words,
        engine=r.engine, edited=bool(original), created_at=r.created_at,
    )
    if not corrected:
        seg.text = seg.original_text
        seg.participant_id = original.get("speaker", seg.participant_id)
        seg.role = Role(original.get("role", seg.role.value))
        seg.name = original.get("name", seg.name)
    return seg


def _confirmation(hearing_id: str, statement: Any) -> Confirmation:
    d = statement.data
    return Confirmation(hearing_id, statement.participant_id, str(d.get("name", "")), Role(str(d.get("role", "plaintiff"))),
                        statement.kind, statement.text, str(d.get("version_sha256", "")), statement.wall_time,
                        statement.version)


def _confirmation_from(hearing_id: str, d: dict[str, Any]) -> Confirmation:
    return Confirmation(hearing_id, d["participant"], d["name"], Role(d["role"]), d["kind"], d["text"],
                        d["version_sha256"], d["wall_time"], d["version"])
