"""Identity at join: who each participant should be (`identities`) and their check-ins
(`identity_checks`, soft-deleted: `deleted_at` set when the images are removed). The rules
live in `courtroom/identity.py`."""

from __future__ import annotations

import json
from typing import Any

from ..identity import IdentityCheck, Registered
from .base import Connection, unique

_CHECK_COLUMNS = (
    "id, hearing_id, participant_id, snapshot_sha256, snapshot_size, document_sha256, document_size, "
    "device, result, created_at, deleted_at"
)


def _check_from(r: Any) -> IdentityCheck:
    return IdentityCheck(
        id=r["id"], hearing_id=r["hearing_id"], participant_id=r["participant_id"],
        snapshot_sha256=r["snapshot_sha256"], snapshot_size=r["snapshot_size"],
        document_sha256=r["document_sha256"], document_size=r["document_size"], device=r["device"],
        result=json.loads(r["result"]), created_at=r["created_at"], deleted_at=r["deleted_at"],
    )


class IdentityRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def register(self, hearing_id: str, participant_id: str, registered: Registered) -> None:
        with unique(f"participant {participant_id} already has a registered identity"):
            self.conn.execute(
                "INSERT INTO identities (participant_id, hearing_id, name, id_type, id_last4) VALUES (?, ?, ?, ?, ?)",
                (participant_id, hearing_id, registered.name, registered.id_type, registered.id_last4),
            )

    def registered(self, hearing_id: str) -> dict[str, Registered]:
        rows = self.conn.execute(
            "SELECT participant_id, name, id_type, id_last4 FROM identities WHERE hearing_id = ?", (hearing_id,)
        ).fetchall()
        return {r["participant_id"]: Registered(r["name"], r["id_type"], r["id_last4"]) for r in rows}

    def add_check(self, check: IdentityCheck) -> None:
        with unique(f"identity check {check.id} exists"):
            self.conn.execute(
                f"INSERT INTO identity_checks ({_CHECK_COLUMNS}) VALUES ({', '.join('?' * 11)})",
                (check.id, check.hearing_id, check.participant_id, check.snapshot_sha256, check.snapshot_size,
                 check.document_sha256, check.document_size, check.device,
                 json.dumps(check.result, ensure_ascii=False), check.created_at, check.deleted_at),
            )

    def checks(self, hearing_id: str) -> list[IdentityCheck]:
        rows = self.conn.execute(
            f"SELECT {_CHECK_COLUMNS} FROM identity_checks WHERE hearing_id = ? ORDER BY created_at, id", (hearing_id,)
        ).fetchall()
        return [_check_from(r) for r in rows]

    def expired(self, before: float) -> list[IdentityCheck]:
        """Check-ins older than `before` whose images are still kept."""
        rows = self.conn.execute(
            f"SELECT {_CHECK_COLUMNS} FROM identity_checks WHERE deleted_at IS NULL AND created_at < ? "
            "ORDER BY created_at, id", (before,)
        ).fetchall()
        return [_check_from(r) for r in rows]

    def mark_deleted(self, check_id: str, when: float) -> None:
        self.conn.execute("UPDATE identity_checks SET deleted_at = ? WHERE id = ?", (when, check_id))

    def still_used(self, hearing_id: str, sha256: str) -> bool:
        """Does a kept check-in of the hearing still point at these bytes?"""
        row = self.conn.execute(
            "SELECT 1 FROM identity_checks WHERE hearing_id = ? AND deleted_at IS NULL "
            "AND (snapshot_sha256 = ? OR document_sha256 = ?) LIMIT 1", (hearing_id, sha256, sha256)
        ).fetchone()
        return row is not None
