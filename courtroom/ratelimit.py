"""Token buckets per key: what one participant may write to the event log, or send, per second.

A reconnect storm (every connection writes `participant.join`/`return` and `participant.drop`)
or a scripted flood of self-actions must not grow the hearing's event log without bound. The
table prunes full buckets, so it holds only keys that were busy lately.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float
    suppressed: int = 0


class RateLimiter:
    def __init__(self, burst: float, per_second: float, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict[Hashable, _Bucket] = {}

    def _bucket(self, key: Hashable) -> _Bucket:
        now = self.clock()
        b = self._buckets.get(key)
        if b is None:
            if len(self._buckets) >= self.max_keys:
                self._prune(now)
            b = self._buckets[key] = _Bucket(self.burst, now)
        else:
            b.tokens = min(self.burst, b.tokens + (now - b.at) * self.per_second)
            b.at = now
        return b

    def allow(self, key: Hashable) -> bool:
        b = self._bucket(key)
        if b.tokens >= 1.0:
            b.tokens -= 1.0
            return True
        b.suppressed += 1
        return False

    def take_suppressed(self, key: Hashable) -> int:
        """How many were refused since the last time this was asked (and reset it)."""
        b = self._buckets.get(key)
        if b is None:
            return 0
        n, b.suppressed = b.suppressed, 0
        return n

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items()
                    if b.suppressed == 0 and b.tokens + (now - b.at) * self.per_second >= self.burst]:
            del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)
