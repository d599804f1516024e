"""The exhibits' rows. Numbering is per hearing and side (UNIQUE (hearing_id, side, number));
`next_number` must be read in the same transaction as the insert (the evidence rule in
`courtroom/evidence.py` does both inside `Store.transaction()`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import Connection, unique

if TYPE_CHECKING:
    from ..evidence import Exhibit

_COLUMNS = "id, hearing_id, owner, side, number, label, filename, media_type, sha256, size, pages, created_at"


def _exhibit(r: Any) -> Exhibit:
    from ..evidence import Exhibit  # the domain's class; evidence.py imports the store, hence here

    return Exhibit(r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], r[7], r[8], int(r[9]), int(r[10]), float(r[11]))


class ExhibitRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def next_number(self, hearing_id: str, side: str) -> int:
        row = self.conn.execute(
            "SELECT coalesce(max(number), 0) + 1 FROM exhibits WHERE hearing_id = ? AND side = ?", (hearing_id, side)
        ).fetchone()
        return int(row[0])

    def insert(self, e: Exhibit) -> None:
        with unique(f"exhibit {e.id} or {e.side} number {e.number} exists in hearing {e.hearing_id}"):
            self.conn.execute(
                f"INSERT INTO exhibits ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (e.id, e.hearing_id, e.owner, e.side, e.number, e.label, e.filename, e.media_type, e.sha256,
                 e.size, e.pages, e.created_at),
            )

    def _select(self, where: str, args: tuple[Any, ...]) -> list[Exhibit]:
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM exhibits {where} ORDER BY created_at, id", args).fetchall()
        return [_exhibit(r) for r in rows]

    def get(self, hearing_id: str, exhibit_id: str) -> Exhibit | None:
        found = self._select("WHERE hearing_id = ? AND id = ?", (hearing_id, exhibit_id))
        return found[0] if found else None

    def with_sha256(self, hearing_id: str, sha256: str) -> list[Exhibit]:
        return self._select("WHERE hearing_id = ? AND sha256 = ?", (hearing_id, sha256))

    def of_hearing(self, hearing_id: str) -> list[Exhibit]:
        return self._select("WHERE hearing_id = ?", (hearing_id,))

    def referenced(self, sha256: str) -> bool:
        """Is a file with these bytes an exhibit of any hearing?"""
        return self.conn.execute("SELECT 1 FROM exhibits WHERE sha256 = ? LIMIT 1", (sha256,)).fetchone() is not None
