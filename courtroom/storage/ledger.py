"""The ledger's rows. The chain's rules (hashing, linking, sealing, checking) live in
`courtroom/ledger.py`; an append must run inside `Store.transaction()` so that reading the
last entry and inserting the next one is serialised across pods (BEGIN IMMEDIATE: SQLite's
write lock, the court's advisory lock on PostgreSQL). Rows are never updated or deleted here.
"""

from __future__ import annotations

from typing import Any

from ..ledger import MERKLE_ROOT, LedgerEntry
from .base import Connection, unique

_COLUMNS = "seq, kind, hearing_id, name, sha256, size, wall_time, prev_hash, entry_hash"


def _entry(r: Any) -> LedgerEntry:
    return LedgerEntry(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), float(r[6]), r[7], r[8])


class LedgerRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def insert(self, e: LedgerEntry) -> None:
        with unique(f"ledger entry {e.seq} exists"):  # an append outside the write lock would land here
            self.conn.execute(
                f"INSERT INTO ledger ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (e.seq, e.kind, e.hearing_id, e.name, e.sha256, e.size, e.wall_time, e.prev_hash, e.entry_hash),
            )

    def _select(self, where: str = "", args: tuple[Any, ...] = ()) -> list[LedgerEntry]:
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM ledger {where} ORDER BY seq", args).fetchall()
        return [_entry(r) for r in rows]

    def last(self) -> LedgerEntry | None:
        row = self.conn.execute(f"SELECT {_COLUMNS} FROM ledger ORDER BY seq DESC LIMIT 1").fetchone()
        return _entry(row) if row else None

    def get(self, seq: int) -> LedgerEntry | None:
        found = self._select("WHERE seq = ?", (seq,))
        return found[0] if found else None

    def with_sha256(self, sha256: str) -> list[LedgerEntry]:
        return self._select("WHERE sha256 = ?", (sha256,))

    def all(self, hearing_id: str | None = None) -> list[LedgerEntry]:
        if hearing_id is None:
            return self._select()
        return self._select("WHERE hearing_id = ?", (hearing_id,))

    def range(self, first_seq: int, last_seq: int) -> list[LedgerEntry]:
        return self._select("WHERE seq >= ? AND seq <= ?", (first_seq, last_seq))

    def leaves(self, hearing_id: str, before_seq: int | None = None) -> list[LedgerEntry]:
        """The hearing's entries other than its Merkle roots (before entry `before_seq`)."""
        if before_seq is None:
            return self._select("WHERE hearing_id = ? AND kind != ?", (hearing_id, MERKLE_ROOT))
        return self._select("WHERE hearing_id = ? AND kind != ? AND seq < ?", (hearing_id, MERKLE_ROOT, before_seq))

    def roots(self, hearing_id: str) -> list[LedgerEntry]:
        return self._select("WHERE hearing_id = ? AND kind = ?", (hearing_id, MERKLE_ROOT))
