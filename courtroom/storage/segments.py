"""The hearing record's rows: final segments and every edit of them (`segment_edits`).

The rules (who may correct, what a correction changes, which edit holds the recognizer's
original) live in `courtroom/transcript.py`; this part only reads and writes rows.
Synchronous: run on the database thread (`Database.run`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import Connection

_COLUMNS = "id, hearing_id, participant_id, role, name, text, start, end, words, engine, created_at"
# What an update may set: a column name never comes from a caller's string.
_UPDATABLE = ("participant_id", "role", "name", "text", "start", "end", "words", "engine")


@dataclass(frozen=True)
class SegmentRow:
    id: int
    hearing_id: str
    participant_id: str
    role: str
    name: str
    text: str
    start: float
    end: float
    words: list[dict[str, Any]] = field(default_factory=list)
    engine: str = ""
    created_at: float = 0.0


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


def _segment(r: Any) -> SegmentRow:
    return SegmentRow(int(r["id"]), r["hearing_id"], r["participant_id"], r["role"], r["name"], r["text"],
                      float(r["start"]), float(r["end"]), json.loads(r["words"]), r["engine"], float(r["created_at"]))


def _edit(r: Any) -> Edit:
    return Edit(int(r["id"]), int(r["segment_id"]), r["editor"], r["field"], r["before"], r["after"],
                float(r["wall_time"]))


class SegmentRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, hearing_id: str, participant_id: str, role: str, name: str, text: str, start: float,
               end: float, words: list[dict[str, Any]], engine: str, created_at: float) -> SegmentRow:
        cur = self.conn.execute(
            "INSERT INTO segments (hearing_id, participant_id, role, name, text, start, end, words, engine, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hearing_id, participant_id, role, name, text, start, end, json.dumps(words, ensure_ascii=False),
             engine, created_at),
        )
        return SegmentRow(int(cur.lastrowid or 0), hearing_id, participant_id, role, name, text, start, end,
                          words, engine, created_at)

    def of_hearing(self, hearing_id: str, only: Sequence[int] | None = None) -> list[SegmentRow]:
        """The hearing's segments (or those of `only` among them) by start time."""
        where, args = self._where(hearing_id, only)
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM segments s WHERE {where} ORDER BY start, id", args)
        return [_segment(r) for r in rows.fetchall()]

    def hearing_of(self, segment_id: int) -> str | None:
        row = self.conn.execute("SELECT hearing_id FROM segments WHERE id = ?", (segment_id,)).fetchone()
        return str(row[0]) if row else None

    def update(self, segment_id: int, **values: Any) -> None:
        """Set some columns of one segment (`words` as a list)."""
        unknown = set(values) - set(_UPDATABLE)
        if unknown or not values:
            raise ValueError(f"not a segment column: {', '.join(sorted(unknown)) or '(none)'}")
        if "words" in values:
            values["words"] = json.dumps(values["words"], ensure_ascii=False)
        sets = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(f"UPDATE segments SET {sets} WHERE id = ?", (*values.values(), segment_id))

    # edits
    def add_edit(self, segment_id: int, editor: str, field: str, before: str, after: str, wall_time: float) -> Edit:
        cur = self.conn.execute(
            "INSERT INTO segment_edits (segment_id, editor, field, before, after, wall_time) VALUES (?, ?, ?, ?, ?, ?)",
            (segment_id, editor, field, before, after, wall_time),
        )
        return Edit(int(cur.lastrowid or 0), segment_id, editor, field, before, after, wall_time)

    def history(self, segment_id: int) -> list[Edit]:
        """Every edit of a segment, oldest first."""
        rows = self.conn.execute(
            "SELECT id, segment_id, editor, field, before, after, wall_time FROM segment_edits "
            "WHERE segment_id = ? ORDER BY id", (segment_id,)
        ).fetchall()
        return [_edit(r) for r in rows]

    def edits(self, hearing_id: str, only: Sequence[int] | None = None, except_editor: str | None = None) -> list[Edit]:
        """The edits of a hearing's segments (or of `only`), oldest first, leaving out one editor's."""
        where, args = self._where(hearing_id, only)
        if except_editor is not None:
            where += " AND e.editor != ?"
            args.append(except_editor)
        rows = self.conn.execute(
            "SELECT e.id, e.segment_id, e.editor, e.field, e.before, e.after, e.wall_time FROM segment_edits e "
            f"JOIN segments s ON s.id = e.segment_id WHERE {where} ORDER BY e.id", args
        ).fetchall()
        return [_edit(r) for r in rows]

    @staticmethod
    def _where(hearing_id: str, only: Sequence[int] | None) -> tuple[str, list[Any]]:
        where = "s.hearing_id = ?"
        args: list[Any] = [hearing_id]
        if only is not None:
            ids = [int(i) for i in only]
            where += f" AND s.id IN ({', '.join('?' * len(ids)) or 'NULL'})"
            args.extend(ids)
        return where, args
