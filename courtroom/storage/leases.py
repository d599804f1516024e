"""Which pod holds each live hearing (`leases`). The claim rule lives in `courtroom/leases.py`
and runs inside `Store.transaction()`, so of two pods claiming one hearing exactly one wins."""

from __future__ import annotations

from ..leases import Lease
from .base import Connection


class LeaseRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get(self, hearing_id: str) -> Lease | None:
        row = self.conn.execute("SELECT hearing_id, pod, expires FROM leases WHERE hearing_id = ?",
                                (hearing_id,)).fetchone()
        return Lease(row[0], row[1], float(row[2])) if row else None

    def put(self, lease: Lease, existed: bool) -> None:
        """Write the lease (an UPDATE when the hearing already had one)."""
        if existed:
            self.conn.execute("UPDATE leases SET pod = ?, expires = ? WHERE hearing_id = ?",
                              (lease.pod, lease.expires, lease.hearing_id))
        else:
            self.conn.execute("INSERT INTO leases (hearing_id, pod, expires) VALUES (?, ?, ?)",
                              (lease.hearing_id, lease.pod, lease.expires))

    def delete(self, hearing_id: str, pod: str) -> None:
        """Remove the hearing's lease if `pod` holds it (a pod never drops another's)."""
        self.conn.execute("DELETE FROM leases WHERE hearing_id = ? AND pod = ?", (hearing_id, pod))

    def of_pod(self, pod: str) -> list[Lease]:
        rows = self.conn.execute("SELECT hearing_id, pod, expires FROM leases WHERE pod = ? ORDER BY hearing_id",
                                 (pod,)).fetchall()
        return [Lease(r[0], r[1], float(r[2])) for r in rows]
