"""The one hearing clock: seconds since the hearing opened.

Monotonic within the process (transcript, captions and recording line up), anchored to the
wall clock at the opening so that a restarted server carries on with the same time.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class HearingClock:
    def __init__(
        self,
        opened_at: float,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.opened_at = opened_at
        self._monotonic = monotonic
        self._anchor_mono = monotonic()
        self._anchor_hearing = max(0.0, wall() - opened_at)

    def now(self) -> float:
        return self._anchor_hearing + (self._monotonic() - self._anchor_mono)

    def at_monotonic(self, mono: float) -> float:
        """Hearing time of a moment given on the monotonic clock (e.g. a frame's arrival)."""
        return self._anchor_hearing + (mono - self._anchor_mono)
