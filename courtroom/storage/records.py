"""The record's lifecycle rows: its state (`records`), its versions, the statements made on
them and the handwritten signatures' images. The lifecycle's rules live in
`courtroom/record_review.py`; a version's number and a statement's id are given here.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from ..record_lifecycle import RecordState
from ..record_versions import RecordVersion, Statement
from .base import Connection, unique


def _version(r: Any) -> RecordVersion:
    return RecordVersion(r["hearing_id"], int(r["number"]), r["sha256"], r["text"], r["author"], r["reason"],
                         float(r["created_at"]))


def _statement(r: Any) -> Statement:
    return Statement(int(r["id"]), r["hearing_id"], int(r["version"]), r["participant_id"], r["kind"], r["text"],
                     r["statement"], r["signature"], r["image_sha256"], float(r["wall_time"]))


_VERSION_COLUMNS = "hearing_id, number, sha256, text, author, reason, created_at"
_STATEMENT_COLUMNS = ("id, hearing_id, version, participant_id, kind, text, statement, signature, image_sha256, "
                      "wall_time")


class RecordRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # state
    def get_state(self, hearing_id: str) -> RecordState | None:
        row = self.conn.execute("SELECT state FROM records WHERE hearing_id = ?", (hearing_id,)).fetchone()
        return RecordState(row["state"]) if row else None

    def get_finishing(self, hearing_id: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT finishing FROM records WHERE hearing_id = ?", (hearing_id,)).fetchone()
        return dict(json.loads(row["finishing"])) if row else {}

    def set_state(self, hearing_id: str, state: RecordState, finishing: dict[str, Any] | None = None) -> None:
        """Upsert the record's state (and, when given, what the finishing step knows)."""
        now = time.time()
        if finishing is None:
            self.conn.execute(
                "INSERT INTO records (hearing_id, state, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(hearing_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                (hearing_id, state.value, now),
            )
        else:
            self.conn.execute(
                "INSERT INTO records (hearing_id, state, finishing, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(hearing_id) DO UPDATE SET state = excluded.state, finishing = excluded.finishing, "
                "updated_at = excluded.updated_at",
                (hearing_id, state.value, json.dumps(finishing, ensure_ascii=False), now),
            )

    def in_state(self, state: RecordState) -> list[str]:
        rows = self.conn.execute("SELECT hearing_id FROM records WHERE state = ? ORDER BY hearing_id", (state.value,))
        return [r["hearing_id"] for r in rows.fetchall()]

    def closed_without_record(self) -> list[str]:
        """Closed hearings whose record never started its lifecycle (closed before it existed, or a
        crash between the close and the finishing step)."""
        rows = self.conn.execute(
            "SELECT id FROM hearings WHERE state = 'closed' AND id NOT IN (SELECT hearing_id FROM records) ORDER BY id"
        ).fetchall()
        return [r["id"] for r in rows]

    # versions
    def versions(self, hearing_id: str) -> list[RecordVersion]:
        rows = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM record_versions WHERE hearing_id = ? ORDER BY number", (hearing_id,)
        ).fetchall()
        return [_version(r) for r in rows]

    def latest(self, hearing_id: str) -> RecordVersion | None:
        row = self.conn.execute(
            f"SELECT {_VERSION_COLUMNS} FROM record_versions WHERE hearing_id = ? ORDER BY number DESC LIMIT 1",
            (hearing_id,),
        ).fetchone()
        return _version(row) if row else None

    def add_version(self, hearing_id: str, sha256: str, text: str, author: str, reason: str) -> RecordVersion:
        """The next version (number = the latest's + 1); call it inside `Store.transaction()`."""
        last = self.latest(hearing_id)
        v = RecordVersion(hearing_id, (last.number if last else 0) + 1, sha256, text, author, reason, time.time())
        with unique(f"version {v.number} of hearing {hearing_id}'s record exists"):
            self.conn.execute(
                f"INSERT INTO record_versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (v.hearing_id, v.number, v.sha256, v.text, v.author, v.reason, v.created_at),
            )
        return v

    # statements
    def statements(self, hearing_id: str) -> list[Statement]:
        rows = self.conn.execute(
            f"SELECT {_STATEMENT_COLUMNS} FROM record_statements WHERE hearing_id = ? ORDER BY id", (hearing_id,)
        ).fetchall()
        return [_statement(r) for r in rows]

    def add_statement(self, hearing_id: str, version: int, participant_id: str, kind: str, text: str,
                      statement: str, signature: str, image_sha256: str, wall_time: float) -> Statement:
        cur = self.conn.execute(
            "INSERT INTO record_statements (hearing_id, version, participant_id, kind, text, statement, signature, "
            "image_sha256, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (hearing_id, version, participant_id, kind, text, statement, signature, image_sha256, wall_time),
        )
        return Statement(int(cur.lastrowid or 0), hearing_id, version, participant_id, kind, text, statement,
                         signature, image_sha256, wall_time)

    # handwritten signatures
    def put_image(self, sha256: str, png: bytes) -> None:
        # Base64 text: one column type for SQLite and PostgreSQL alike. Same bytes, same key: kept once.
        if self.conn.execute("SELECT 1 FROM signature_images WHERE sha256 = ?", (sha256,)).fetchone() is None:
            self.conn.execute("INSERT INTO signature_images (sha256, png) VALUES (?, ?)",
                              (sha256, base64.b64encode(png).decode("ascii")))

    def get_image(self, sha256: str) -> bytes | None:
        row = self.conn.execute("SELECT png FROM signature_images WHERE sha256 = ?", (sha256,)).fetchone()
        return base64.b64decode(row["png"]) if row else None
