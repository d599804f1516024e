"""The hearing record (庭审笔录) as data: final segments, the clerk's corrections, confirmations.

A final segment is stored the moment the recognizer finalises it (one INSERT; the database
runs `synchronous=FULL`). Its speaker is the participant whose audio stream it came from,
with that participant's role and name at that moment: attribution is never guessed.

Corrections change the segment's row and keep every change in `segment_edits` (who, when,
which field, before, after): the first edit of a field holds the recognizer's original.

After the hearing closes the parties and their agents confirm the record or object to it.
Each decision stores the SHA-256 of the record's canonical text (`record.to_txt` without
the confirmation page). The rule that keeps that hash meaningful: once anyone has decided,
the record is sealed: no more corrections and no more segments (409 `record_sealed`).

Every method that touches SQLite runs its SQL on the database thread (`Database.run`).
See docs/record.md.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sqlite3
import time
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import Any

from . import record
from .court import Actor, Court, InvalidInput, clean_text
from .disclosure import Disclosure, Viewer
from .events import Event
from .hearing import Hearing
from .participants import Participant, ParticipantState
from .procedure import ActionRefused, HearingState
from .record import RECORD_TZ, Note, needs_confirmation, sha256_text
from .roles import Permission, Role, may
from .store import NotFound

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
class Edit:
    id: int
    segment_id: int
    editor: str  # actor id: "clerk" for the API key, else a participant id
    field: str  # text | speaker | role | name
    before: str
    after: str
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "segment": self.segment_id,
            "editor": self.editor,
            "field": self.field,
            "before": self.before,
            "after": self.after,
            "wall_time": self.wall_time,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "participant": self.participant_id,
            "name": self.name,
            "role": self.role.value,
            "decision": self.decision,
            "objection": self.objection,
            "sha256": self.sha256,
            "wall_time": self.wall_time,
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


def _sealed() -> ActionRefused:
    return ActionRefused(409, "record_sealed", "the record has been confirmed by a party: it can no longer change")


class TranscriptService:
    """The hearing record of every hearing of one pod."""

    def __init__(self, court: Court, tz: tzinfo = RECORD_TZ) -> None:
        self.court = court
        self.tz = tz
        # Called after each confirmation or objection (sync or async); the integrator deposits
        # the record in the ledger here. A failing hook is logged: the decision stays stored.
        self.on_confirmed: list[ConfirmedHook] = []
        # Extra lines of the record (exhibits shown, views stated), by hearing id. They must
        # not change once the hearing is closed, or the hash would.
        self.note_sources: list[NoteSource] = []

    @property
    def _conn(self) -> sqlite3.Connection:
        return self.court.db.conn

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
        return await self.court.db.run(
            self._insert, hearing_id, participant_id, cleaned[:MAX_TEXT], start, end, word_list, engine
        )

    def _insert(
        self, hearing_id: str, participant_id: str, text: str, start: float, end: float,
        words: list[dict[str, Any]], engine: str,
    ) -> Segment:
        p = self.court.store.get_participant(participant_id)
        if p.hearing_id != hearing_id:
            raise NotFound(f"no participant {participant_id} in hearing {hearing_id}")
        if self._is_sealed(hearing_id):
            raise _sealed()
        now = time.time()
        cur = self._conn.execute(
            "INSERT INTO segments (hearing_id, participant_id, role, name, text, start, end, words, engine, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hearing_id, p.id, p.role.value, p.name, text, start, end, json.dumps(words, ensure_ascii=False), engine, now),
        )
        return Segment(int(cur.lastrowid or 0), hearing_id, p.id, p.role, p.name, text, text, start, end,
                       words, engine, False, now)

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
        return await self.court.db.run(
            self._replace, hearing_id, sorted(segment_ids), cleaned[:MAX_TEXT], max(0.0, start),
            max(start, end), word_list, engine,
        )

    def _replace(
        self, hearing_id: str, ids: list[int], text: str, start: float, end: float,
        words: list[dict[str, Any]], engine: str,
    ) -> list[Segment]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._is_sealed(hearing_id):
                raise _sealed()
            marks = ",".join("?" * len(ids))
            rows = conn.execute(
                f"SELECT id, text, start, end FROM segments WHERE hearing_id = ? AND id IN ({marks}) ORDER BY start, id",
                [hearing_id, *ids],
            ).fetchall()
            corrected = conn.execute(
                f"SELECT 1 FROM segment_edits WHERE segment_id IN ({marks}) AND editor != ? LIMIT 1",
                [*ids, RECORD_ENGINE_EDITOR],
            ).fetchone()
            if not rows or corrected is not None:
                conn.execute("ROLLBACK")
                return []
            now = time.time()
            start = min(start, rows[0]["start"])
            end = max(end, max(r["end"] for r in rows))
            for i, r in enumerate(rows):
                after = text if i == 0 else ""
                if i == 0:
                    conn.execute(
                        "UPDATE segments SET text = ?, start = ?, end = ?, words = ?, engine = ? WHERE id = ?",
                        (after, start, end, json.dumps(words, ensure_ascii=False), engine, r["id"]),
                    )
                else:
                    conn.execute("UPDATE segments SET text = '' WHERE id = ?", (r["id"],))
                if after != r["text"]:
                    conn.execute(
                        "INSERT INTO segment_edits (segment_id, editor, field, before, after, wall_time) "
                        "VALUES (?, ?, 'text', ?, ?, ?)",
                        (r["id"], RECORD_ENGINE_EDITOR, r["text"], after, now),
                    )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return [self._segment(hearing_id, r["id"]) for r in rows]

    async def segments(self, hearing_id: str, corrected: bool = True) -> list[Segment]:
        """The hearing's segments by start time: as corrected, or as the recognizer wrote them."""
        return await self.court.db.run(self._segments, hearing_id, corrected)

    async def segment(self, hearing_id: str, segment_id: int) -> Segment:
        return await self.court.db.run(self._segment, hearing_id, segment_id)

    def _segments(self, hearing_id: str, corrected: bool = True, only: int | None = None) -> list[Segment]:
        where = "s.hearing_id = ?"
        args: list[object] = [hearing_id]
        if only is not None:
            where += " AND s.id = ?"
            args.append(only)
        rows = self._conn.execute(
            "SELECT s.id, s.hearing_id, s.participant_id, s.role, s.name, s.text, s.start, s.end, s.words, "
            f"s.engine, s.created_at FROM segments s WHERE {where} ORDER BY s.start, s.id",
            args,
        ).fetchall()
        firsts: dict[int, dict[str, str]] = {}
        for e in self._conn.execute(
            "SELECT e.segment_id, e.field, e.before FROM segment_edits e JOIN segments s ON s.id = e.segment_id "
            f"WHERE {where} AND e.editor != ? ORDER BY e.id",
            [*args, RECORD_ENGINE_EDITOR],
        ):
            firsts.setdefault(e["segment_id"], {}).setdefault(e["field"], e["before"])
        out = []
        for r in rows:
            original = firsts.get(r["id"], {})
            seg = Segment(
                id=r["id"], hearing_id=r["hearing_id"], participant_id=r["participant_id"], role=Role(r["role"]),
                name=r["name"], text=r["text"], original_text=original.get("text", r["text"]), start=r["start"],
                end=r["end"], words=json.loads(r["words"]), engine=r["engine"], edited=bool(original),
                created_at=r["created_at"],
            )
            if not corrected:
                seg.text = seg.original_text
                seg.participant_id = original.get("speaker", seg.participant_id)
                seg.role = Role(original.get("role", seg.role.value))
                seg.name = original.get("name", seg.name)
            out.append(seg)
        return out

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
        return segment

    def _correct(
        self, hearing_id: str, segment_id: int, editor: str, text: str | None, speaker: str | None
    ) -> tuple[Segment, list[Edit]]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            if self._is_sealed(hearing_id):
                raise _sealed()
            current = self._segment(hearing_id, segment_id)
            changes: list[tuple[str, str, str]] = []
            if text is not None and text != current.text:
                changes.append(("text", current.text, text))
            if speaker is not None and speaker != current.participant_id:
                try:
                    p = self.court.store.get_participant(speaker)
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
                conn.execute(f"UPDATE segments SET {columns[name]} = ? WHERE id = ?", (after, segment_id))
                cur = conn.execute(
                    "INSERT INTO segment_edits (segment_id, editor, field, before, after, wall_time) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (segment_id, editor, name, before, after, now),
                )
                edits.append(Edit(int(cur.lastrowid or 0), segment_id, editor, name, before, after, now))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return self._segment(hearing_id, segment_id), edits

    async def history(self, segment_id: int, hearing_id: str | None = None) -> list[Edit]:
        """Every edit of a segment, oldest first (the first `before` of a field is the original)."""
        return await self.court.db.run(self._history, segment_id, hearing_id)

    def _history(self, segment_id: int, hearing_id: str | None) -> list[Edit]:
        row = self._conn.execute("SELECT hearing_id FROM segments WHERE id = ?", (segment_id,)).fetchone()
        if row is None or (hearing_id is not None and row["hearing_id"] != hearing_id):
            raise NotFound(f"no segment {segment_id} in this hearing")
        rows = self._conn.execute(
            "SELECT id, segment_id, editor, field, before, after, wall_time FROM segment_edits "
            "WHERE segment_id = ? ORDER BY id",
            (segment_id,),
        ).fetchall()
        return [Edit(r["id"], r["segment_id"], r["editor"], r["field"], r["before"], r["after"], r["wall_time"])
                for r in rows]

    # --- confirmation -----------------------------------------------------------------------

    async def confirm(
        self, hearing_id: str, participant: Participant, decision: str, objection: str | None = ""
    ) -> Confirmation:
        """A party's or agent's decision on the closed hearing's record: confirm or object."""
        if participant.hearing_id != hearing_id:
            raise ActionRefused(403, "forbidden", "your token is for another hearing")
        if not may(participant.role, Permission.CONFIRM_RECORD):
            raise ActionRefused(403, "forbidden", "only the parties and their agents confirm the record")
        if decision not in DECISIONS:
            raise InvalidInput("invalid_decision", "decision must be confirm or object")
        if decision == "object":
            reason = clean_text(objection, "objection", MAX_OBJECTION)
        else:
            reason = clean_text(objection, "objection", MAX_OBJECTION, required=False)
            if reason:
                raise InvalidInput("invalid_field", "an objection goes with decision object")
        notes = await self._extra_notes(hearing_id)
        done = await self.court.db.run(self._confirm, hearing_id, participant.id, decision, reason, notes)
        confirmation, text, first, complete = done
        data: dict[str, Any] = {"sha256": confirmation.sha256}
        if reason:
            data["objection"] = reason
        await self.court.record_event(hearing_id, f"record.{decision}", participant.id, participant.id, **data)
        news = RecordConfirmed(hearing_id, confirmation, confirmation.sha256, text, first, complete)
        for hook in list(self.on_confirmed):
            try:
                result = hook(news)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - the decision is stored; a hook must not undo it
                log.exception("an on_confirmed hook failed for hearing %s", hearing_id)
        return confirmation

    def _confirm(
        self, hearing_id: str, participant_id: str, decision: str, objection: str, notes: list[Note]
    ) -> tuple[Confirmation, str, bool, bool]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            hearing = self.court.store.get_hearing(hearing_id)
            if hearing.state is not HearingState.CLOSED:
                raise ActionRefused(409, "not_closed", "the record is confirmed after the hearing has closed")
            p = self.court.store.get_participant(participant_id)
            if p.state is ParticipantState.REMOVED:
                raise ActionRefused(403, "forbidden", "a removed participant does not confirm the record")
            snap = self._snapshot(hearing)
            if any(c.participant_id == participant_id for c in snap.confirmations):
                raise ActionRefused(409, "already_decided", "you have already confirmed or objected to this record")
            text = self._canonical(snap, notes)
            sha = sha256_text(text)
            now = time.time()
            conn.execute(
                "INSERT INTO confirmations (hearing_id, participant_id, decision, objection, record_sha256, wall_time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (hearing_id, participant_id, decision, objection, sha, now),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        confirmation = Confirmation(hearing_id, p.id, p.name, p.role, decision, objection, sha, now)
        decided = {c.participant_id for c in snap.confirmations} | {p.id}
        complete = all(q.id in decided for q in snap.participants if needs_confirmation(q))
        return confirmation, text, not snap.confirmations, complete

    async def confirmations(self, hearing_id: str) -> list[Confirmation]:
        return await self.court.db.run(self._confirmations, hearing_id)

    def _confirmations(self, hearing_id: str) -> list[Confirmation]:
        rows = self._conn.execute(
            "SELECT c.participant_id, p.name, p.role, c.decision, c.objection, c.record_sha256, c.wall_time "
            "FROM confirmations c JOIN participants p ON p.id = c.participant_id "
            "WHERE c.hearing_id = ? ORDER BY c.wall_time, c.participant_id",
            (hearing_id,),
        ).fetchall()
        return [
            Confirmation(hearing_id, r["participant_id"], r["name"], Role(r["role"]), r["decision"], r["objection"],
                         r["record_sha256"], r["wall_time"])
            for r in rows
        ]

    def _is_sealed(self, hearing_id: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM confirmations WHERE hearing_id = ? LIMIT 1", (hearing_id,)).fetchone()
        return row is not None

    # --- the record as a whole --------------------------------------------------------------

    def _snapshot(self, hearing: Hearing) -> _Snapshot:
        store = self.court.store
        return _Snapshot(
            hearing,
            store.list_participants(hearing.id),
            self._segments(hearing.id),
            store.list_events(hearing.id),
            self._confirmations(hearing.id),
        )

    def _load(self, hearing_id: str) -> _Snapshot:
        return self._snapshot(self.court.store.get_hearing(hearing_id))

    async def _extra_notes(self, hearing_id: str) -> list[Note]:
        notes: list[Note] = []
        for source in list(self.note_sources):
            result = source(hearing_id)
            if asyncio.iscoroutine(result):
                result = await result
            notes.extend(result)  # type: ignore[arg-type]
        return notes

    def _notes(self, snap: _Snapshot, extra: list[Note]) -> list[Note]:
        return record.notes_from_events(snap.hearing, snap.participants, snap.events) + extra

    def _canonical(self, snap: _Snapshot, extra: list[Note]) -> str:
        return record.to_txt(snap.hearing, snap.participants, snap.segments, self._notes(snap, extra), tz=self.tz)

    def _status(self, snap: _Snapshot, extra: list[Note]) -> dict[str, Any]:
        decided = {c.participant_id for c in snap.confirmations}
        pending = [p for p in snap.participants if needs_confirmation(p) and p.id not in decided]
        closed = snap.hearing.state is HearingState.CLOSED
        return {
            "hearing_id": snap.hearing.id,
            "state": snap.hearing.state.value,
            "sha256": sha256_text(self._canonical(snap, extra)),
            "sealed": bool(snap.confirmations),
            "complete": closed and not pending,
            "confirmations": [c.to_dict() for c in snap.confirmations],
            "pending": [{"participant": p.id, "name": p.name, "role": p.role.value} for p in pending],
        }

    async def canonical_text(self, hearing_id: str) -> str:
        """The text the parties confirm and SHA-256 fixes (`to_txt` without the confirmation page)."""
        extra = await self._extra_notes(hearing_id)
        snap = await self.court.db.run(self._load, hearing_id)
        return self._canonical(snap, extra)

    async def record_status(self, hearing_id: str) -> dict[str, Any]:
        """{sha256, sealed, complete, confirmations: [...], pending: [...]} of the record now."""
        extra = await self._extra_notes(hearing_id)
        snap = await self.court.db.run(self._load, hearing_id)
        return self._status(snap, extra)

    def _disclosed(self, snap: _Snapshot, viewer: Viewer) -> _Snapshot:
        """The record as the disclosure rule lets `viewer` read it: only the segments it may
        see, and a role label for whoever is screened from it (the court's copy is whole)."""
        rule = Disclosure(snap.hearing, snap.participants, snap.events, self.court.hearing_time(snap.hearing),
                          self.court.config.broadcast_delay)
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
        snap = await self.court.db.run(self._load, hearing_id)
        if viewer is not None and not viewer.officer:
            snap = self._disclosed(snap, viewer)
        h, people, segs = snap.hearing, snap.participants, snap.segments
        if fmt == "vtt":
            return record.to_vtt(h, people, segs)
        if fmt == "srt":
            return record.to_srt(h, people, segs)
        notes = self._notes(snap, extra)
        if fmt == "txt":
            closed = h.state is HearingState.CLOSED
            return record.to_txt(h, people, segs, notes, snap.confirmations if closed else None, tz=self.tz)
        return record.to_json(h, people, segs, notes, {"record": self._status(snap, extra)})
