"""The record's lifecycle in the store: its state, its versions and the statements made on them.

A version is the canonical text (`record.to_txt` up to ``（以下无正文）``) at the moment it was
offered or corrected, kept as text with its SHA-256: a version's bytes never change. Statements
are what people did with a version — confirm, object, answer, sign, finalise — each as the
exact JSON text the pod signed (`signatures.py`). Plain SQL, synchronous: callers run it on the
database thread (`Database.run`). See docs/record.md.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .record_lifecycle import RecordState


@dataclass(frozen=True)
class RecordVersion:
    hearing_id: str
    number: int  # 1, 2, ...
    sha256: str  # of `text` as UTF-8
    text: str
    author: str  # "system" for the offered version and late finals, else the corrector's actor id
    reason: str
    created_at: float

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number, "sha256": self.sha256, "author": self.author,
            "reason": self.reason, "created_at": self.created_at,
        }
        if with_text:
            data["text"] = self.text
        return data


@dataclass(frozen=True)
class Statement:
    id: int
    hearing_id: str
    version: int
    participant_id: str  # a participant id, or "clerk" for the clerk's API key
    kind: str  # confirm | object | answer | sign | finalise
    text: str  # the objection, or the clerk's answer
    statement: str  # the exact JSON text that was signed
    signature: str  # base64 Ed25519 signature of `statement` ("" when the pod had no key)
    image_sha256: str  # a handwritten signature's PNG, if one was drawn
    wall_time: float

    @property
    def data(self) -> dict[str, Any]:
        parsed = json.loads(self.statement)
        return parsed if isinstance(parsed, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        d = self.data
        return {
            "id": self.id, "version": self.version, "participant": self.participant_id, "kind": self.kind,
            "name": d.get("name", ""), "role": d.get("role", ""), "title_zh": d.get("title_zh", ""),
            "text": self.text, "version_sha256": d.get("version_sha256", ""), "wall_time": self.wall_time,
            "statement": self.statement, "signature": self.signature, "image_sha256": self.image_sha256,
            "refers_to": d.get("refers"),
        }


def get_state(conn: sqlite3.Connection, hearing_id: str) -> RecordState | None:
    row = conn.execute("SELECT state FROM records WHERE hearing_id = ?", (hearing_id,)).fetchone()
    return RecordState(row["state"]) if row else None


def get_finishing(conn: sqlite3.Connection, hearing_id: str) -> dict[str, Any]:
    row = conn.execute("SELECT finishing FROM records WHERE hearing_id = ?", (hearing_id,)).fetchone()
    return json.loads(row["finishing"]) if row else {}


def set_state(conn: sqlite3.Connection, hearing_id: str, state: RecordState, finishing: dict[str, Any] | None = None) -> None:
    """Upsert the record's state (and, when given, what the finishing step knows)."""
    now = time.time()
    if finishing is None:
        conn.execute(
            "INSERT INTO records (hearing_id, state, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(hearing_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
            (hearing_id, state.value, now),
        )
    else:
        conn.execute(
            "INSERT INTO records (hearing_id, state, finishing, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(hearing_id) DO UPDATE SET state = excluded.state, finishing = excluded.finishing, "
            "updated_at = excluded.updated_at",
            (hearing_id, state.value, json.dumps(finishing, ensure_ascii=False), now),
        )


def in_state(conn: sqlite3.Connection, state: RecordState) -> list[str]:
    return [r["hearing_id"] for r in conn.execute("SELECT hearing_id FROM records WHERE state = ?", (state.value,))]


def closed_without_record(conn: sqlite3.Connection) -> list[str]:
    """Closed hearings whose record never started its lifecycle (closed before it existed, or a
    crash between the close and the finishing step)."""
    rows = conn.execute(
        "SELECT id FROM hearings WHERE state = 'closed' AND id NOT IN (SELECT hearing_id FROM records)"
    ).fetchall()
    return [r["id"] for r in rows]


def _version(r: sqlite3.Row) -> RecordVersion:
    return RecordVersion(r["hearing_id"], r["number"], r["sha256"], r["text"], r["author"], r["reason"], r["created_at"])


def versions(conn: sqlite3.Connection, hearing_id: str) -> list[RecordVersion]:
    rows = conn.execute(
        "SELECT * FROM record_versions WHERE hearing_id = ? ORDER BY number", (hearing_id,)
    ).fetchall()
    return [_version(r) for r in rows]


def latest(conn: sqlite3.Connection, hearing_id: str) -> RecordVersion | None:
    row = conn.execute(
        "SELECT * FROM record_versions WHERE hearing_id = ? ORDER BY number DESC LIMIT 1", (hearing_id,)
    ).fetchone()
    return _version(row) if row else None


def add_version(conn: sqlite3.Connection, hearing_id: str, sha256: str, text: str, author: str, reason: str) -> RecordVersion:
    last = latest(conn, hearing_id)
    v = RecordVersion(hearing_id, (last.number if last else 0) + 1, sha256, text, author, reason, time.time())
    conn.execute(
        "INSERT INTO record_versions (hearing_id, number, sha256, text, author, reason, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (v.hearing_id, v.number, v.sha256, v.text, v.author, v.reason, v.created_at),
    )
    return v


def _statement(r: sqlite3.Row) -> Statement:
    return Statement(r["id"], r["hearing_id"], r["version"], r["participant_id"], r["kind"], r["text"],
                     r["statement"], r["signature"], r["image_sha256"], r["wall_time"])


def statements(conn: sqlite3.Connection, hearing_id: str) -> list[Statement]:
    rows = conn.execute("SELECT * FROM record_statements WHERE hearing_id = ? ORDER BY id", (hearing_id,)).fetchall()
    return [_statement(r) for r in rows]


def add_statement(
    conn: sqlite3.Connection, hearing_id: str, version: int, participant_id: str, kind: str, text: str,
    statement: str, signature: str, image_sha256: str, wall_time: float,
) -> Statement:
    cur = conn.execute(
        "INSERT INTO record_statements (hearing_id, version, participant_id, kind, text, statement, signature, "
        "image_sha256, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (hearing_id, version, participant_id, kind, text, statement, signature, image_sha256, wall_time),
    )
    return Statement(int(cur.lastrowid or 0), hearing_id, version, participant_id, kind, text, statement,
                     signature, image_sha256, wall_time)


def put_image(conn: sqlite3.Connection, sha256: str, png: bytes) -> None:
    # Base64 text: one column type for SQLite and PostgreSQL alike.
    if conn.execute("SELECT 1 FROM signature_images WHERE sha256 = ?", (sha256,)).fetchone() is None:
        conn.execute("INSERT INTO signature_images (sha256, png) VALUES (?, ?)",
                     (sha256, base64.b64encode(png).decode("ascii")))


def get_image(conn: sqlite3.Connection, sha256: str) -> bytes | None:
    row = conn.execute("SELECT png FROM signature_images WHERE sha256 = ?", (sha256,)).fetchone()
    return base64.b64decode(row["png"]) if row else None
