"""When to compose the next picture: as soon as the cameras in view have all delivered a new
frame, or at a deadline, whichever comes first.

A fixed tick makes each camera frame wait for it: up to a whole frame interval (67 ms at
15 fps). Following the cameras, the picture is made right after the last of them delivered.
Two bounds keep the cost and the rate where they were: never sooner than `min_gap` intervals
after the last picture (cameras faster than the picture rate barely raise it; a little
under one interval lets the picture's phase slide onto the cameras'), never later than
`deadline` intervals (a late or stalled camera does not hold the others back for long), and
after a picture made on the deadline the next one is due one interval later, so cameras that
keep missing it do not lower the picture rate.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

MIN_GAP = 0.9  # of the picture interval
DEADLINE = 1.25  # of the picture interval
STALL = 1.0  # seconds: after a longer stall, start afresh instead of catching up


class CameraCadence:
    def __init__(self, fps: int, *, min_gap: float = MIN_GAP, deadline: float = DEADLINE) -> None:
        self.period = 1.0 / fps
        self.min_gap = min_gap * self.period
        self.deadline = deadline * self.period
        self._arrived = asyncio.Event()
        self._last: float | None = None
        self.early = 0  # pictures made because every camera had delivered
        self.on_deadline = 0
        self._late = False  # the last picture was made on its deadline

    def frame_arrived(self) -> None:
        self._arrived.set()

    async def next_picture(self, cameras_ready: Callable[[], bool | None]) -> None:
        """Wait for the moment of the next picture. `cameras_ready()`: True when every camera in
        view has a frame not yet composed; None when there is no camera to follow (fixed rate)."""
        loop = asyncio.get_running_loop()
        if self._last is None:
            self._last = loop.time()
        earliest = self._last + self.min_gap
        if loop.time() < earliest:
            await asyncio.sleep(earliest - loop.time())
        while True:
            now = loop.time()
            ready = cameras_ready()
            deadline = self._last + (self.deadline if ready is not None and not self._late else self.period)
            if now >= deadline:
                self.on_deadline += 1
                self._late = True
                # drift-free on the deadline; after a stall, start afresh
                self._last = deadline if now - deadline < STALL else now
                return
            if ready:
                self.early += 1
                self._late = False
                self._last = now
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - now)
            except TimeoutError:
                pass
