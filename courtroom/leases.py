"""Which pod holds a live hearing: a lease in the court's database.

A hearing's media room runs in exactly one pod. The pod that starts the room claims the
hearing's lease and renews it while the room runs; a pod that dies stops renewing, and once
the lease has expired the next pod that a participant reaches claims it and carries the
hearing on (state and clock come from the database). Claims run in one write transaction
(`BEGIN IMMEDIATE`: SQLite's write lock, the court's advisory lock on PostgreSQL), so of two
pods claiming one hearing exactly one wins.

Blocking methods: they run on the database thread (`Database.run`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .storage import Store

DEFAULT_TTL = 10.0  # seconds a lease lives without renewal: the failover time's main part


@dataclass(frozen=True)
class Lease:
    hearing_id: str
    pod: str
    expires: float


class HeldElsewhere(Exception):
    """The hearing's media runs in another pod (whose lease has not expired)."""

    def __init__(self, lease: Lease) -> None:
        super().__init__(f"the hearing is held by pod {lease.pod} until {lease.expires:.0f}")
        self.lease = lease


class Leases:
    def __init__(self, store: Store, pod: str, ttl: float = DEFAULT_TTL,
                 now: Callable[[], float] = time.time) -> None:
        self.store = store
        self.pod = pod
        self.ttl = ttl
        self._now = now

    def holder(self, hearing_id: str) -> Lease | None:
        return self.store.leases.get(hearing_id)

    def claim(self, hearing_id: str) -> Lease:
        """Take or renew the hearing's lease; HeldElsewhere while another pod's lease lives."""
        with self.store.transaction():
            now = self._now()
            current = self.holder(hearing_id)
            if current is not None and current.pod != self.pod and current.expires > now:
                raise HeldElsewhere(current)
            lease = Lease(hearing_id, self.pod, now + self.ttl)
            self.store.leases.put(lease, existed=current is not None)
        return lease

    def release(self, hearing_id: str) -> None:
        """Give the hearing up (its room stopped here); only our own lease is removed."""
        self.store.leases.delete(hearing_id, self.pod)

    def held(self) -> list[Lease]:
        return self.store.leases.of_pod(self.pod)
