"""The broadcast delay line, and the pump thread that drains it into a writer.

Items (video packets, audio frames) enter with the judge's on-air state of the moment they
enter, and leave ``delay`` seconds later (monotonic wall clock). An item that entered off
air leaves as the slate (video) or silence (audio), so nothing the judge cut ever reaches
the public, and the public sees the slate for exactly the delayed stretch that was off air
(plus, on resuming, the frames until the next real keyframe, since a picture cannot start
on a P-frame).

The line is bounded by count; when full, the oldest item is dropped, and after a dropped
video packet the output skips to the next keyframe so it never emits an undecodable frame.

``DelayLine(delay=0)`` is also the archive's bounded queue: :class:`Pump` is the one thread
that moves due items from a line to a writer (``ArchiveWriter`` or ``HlsWriter``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av

from .slate import Slate

log = logging.getLogger(__name__)

VIDEO = "video"
AUDIO = "audio"


@dataclass(slots=True)
class DelayedItem:
    kind: str  # VIDEO or AUDIO
    payload: Any  # av.Packet or av.AudioFrame
    hearing_time: float
    on_air: bool
    release_at: float


class MediaSink(Protocol):
    def write_video(self, packet: av.Packet, on_air: bool = True) -> None: ...
    def write_audio(self, frame: av.AudioFrame, on_air: bool = True) -> None: ...
    def close(self) -> Any: ...


def _hearing_time(pts: int | None, time_base: Fraction | None) -> float:
    if pts is None or time_base is None:
        return 0.0
    return float(pts * time_base)


class DelayLine:
    """Thread-safe. ``put_*`` never blocks (call them from the event loop);
    ``pop_due`` is for the one consumer thread."""

    def __init__(
        self,
        delay: float = 30.0,
        fps: float = 15.0,
        *,
        slate: Slate | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_items: int | None = None,
        on_air: bool = True,
    ) -> None:
        self.delay = float(delay)
        self.slate = slate
        self.clock = clock
        self.max_items = max_items or int(max(self.delay, 2.0) * (fps + 50) * 2)
        self._items: deque[DelayedItem] = deque()
        self._cond = threading.Condition()
        self._on_air = on_air
        self._latest = 0.0
        self.transitions: list[tuple[float, bool]] = []  # (hearing time, on_air) at input
        self.cuts: list[float] = []  # hearing times the dump button cut from
        self.released_until = float("-inf")  # hearing time of the last on-air item let out
        # output state
        self._need_key = False  # a video packet was dropped: skip to the next keyframe
        self._slate_index = 0
        self._showing_slate = False
        self.dropped = 0
        self.skipped = 0
        self._closed = False

    # -- input side ------------------------------------------------------------------------

    @property
    def on_air(self) -> bool:
        return self._on_air

    def set_on_air(self, on_air: bool) -> None:
        """The judge's broadcast switch. Applies to every item that enters from now on."""
        with self._cond:
            if on_air != self._on_air:
                self._on_air = on_air
                self.transitions.append((self._latest, on_air))

    def cut(self, from_time: float) -> float:
        """The dump button: every item still queued at or after hearing time ``from_time``
        leaves as slate/silence, and the line goes off air. What was already let out cannot
        be taken back, so the cut starts after it: returns the hearing time it cut from."""
        with self._cond:
            start = max(from_time, self.released_until + 1e-6)
            for item in self._items:
                if item.hearing_time >= start:
                    item.on_air = False
            if self._on_air:
                self._on_air = False
                self.transitions.append((self._latest, False))
            self.cuts.append(start)
            return start

    def put_video(self, packet: av.Packet) -> None:
        self._put(VIDEO, packet, _hearing_time(packet.pts, packet.time_base))

    def put_audio(self, frame: av.AudioFrame) -> None:
        self._put(AUDIO, frame, _hearing_time(frame.pts, frame.time_base))

    def _put(self, kind: str, payload: Any, hearing_time: float) -> None:
        with self._cond:
            if self._closed:
                return
            self._latest = max(self._latest, hearing_time)
            item = DelayedItem(kind, payload, hearing_time, self._on_air, self.clock() + self.delay)
            self._items.append(item)
            while len(self._items) > self.max_items:
                old = self._items.popleft()
                self.dropped += 1
                if old.kind == VIDEO:
                    self._need_key = True
            self._cond.notify()

    def on_air_intervals(self, start: float, end: float) -> list[tuple[float, float]]:
        """The hearing-time stretches that were on air between ``start`` and ``end``."""
        with self._cond:
            transitions = list(self.transitions)
            state = self._on_air
        # the state at `start` is the state before the first transition after it
        initial = state
        for _t, on in reversed(transitions):
            initial = not on
        out: list[tuple[float, float]] = []
        cur = start if initial else None
        for t, on in transitions:
            t = min(max(t, start), end)
            if on and cur is None:
                cur = t
            elif not on and cur is not None:
                if t > cur:
                    out.append((cur, t))
                cur = None
        if cur is not None and end > cur:
            out.append((cur, end))
        return out

    # -- output side -----------------------------------------------------------------------

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def next_release(self) -> float | None:
        with self._cond:
            return self._items[0].release_at if self._items else None

    def pop_due(self, now: float | None = None) -> list[DelayedItem]:
        """Items whose time has come, off-air ones already replaced by slate/silence."""
        with self._cond:
            now = self.clock() if now is None else now
            out = []
            while self._items and self._items[0].release_at <= now:
                item = self._output(self._items.popleft())
                if item is not None:
                    out.append(item)
            return out

    def drain(self) -> list[DelayedItem]:
        """Everything still queued, regardless of its time (at the end of a hearing)."""
        with self._cond:
            out = []
            while self._items:
                item = self._output(self._items.popleft())
                if item is not None:
                    out.append(item)
            return out

    def wait(self, timeout: float) -> None:
        """Block the consumer until something is put or ``timeout`` passes. A closed line
        still waits out the timeout: returning at once would make its consumer spin."""
        with self._cond:
            self._cond.wait(timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _output(self, item: DelayedItem) -> DelayedItem | None:
        if item.on_air:
            self.released_until = max(self.released_until, item.hearing_time)
        if item.kind == AUDIO:
            if not item.on_air:
                item.payload = Slate.silence_like(item.payload)
            return item
        pkt: av.Packet = item.payload
        if self._need_key:
            if not pkt.is_keyframe:
                self.skipped += 1
                return None
            self._need_key = False
        # Slate from the first off-air packet until the first on-air keyframe.
        show_slate = (not item.on_air) or (self._showing_slate and not pkt.is_keyframe)
        if show_slate and self.slate is None:
            self.skipped += 1  # no slate configured: the public gets nothing, never the cut
            self._showing_slate = True
            return None
        if show_slate:
            assert self.slate is not None
            if not self._showing_slate:
                self._slate_index = 0
            pts = int(round(item.hearing_time * 90000))
            item.payload = self.slate.video_packet(self._slate_index, pts)
            self._slate_index += 1
            item.on_air = False
        self._showing_slate = show_slate
        return item


class Pump:
    """One thread that moves due items from a :class:`DelayLine` into a sink.

    ``close()`` stops taking input, writes out what is left (immediately, ignoring the
    delay) and returns the sink's ``close()`` result. A sink error is logged and kept in
    ``error``; later items are then discarded so the queue never blocks the producer.
    """

    def __init__(self, line: DelayLine, sink: MediaSink, *, name: str = "recorder-pump") -> None:
        self.line = line
        self.sink = sink
        self.error: BaseException | None = None
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @classmethod
    def for_archive(cls, writer: MediaSink, fps: float = 15.0, seconds: float = 4.0) -> Pump:
        """A zero-delay bounded queue (``seconds`` of media) in front of ``writer``."""
        return cls(
            DelayLine(0.0, fps, max_items=int(seconds * (fps + 50))),
            writer,
            name="recorder-archive",
        )

    def put_video(self, packet: av.Packet) -> None:
        self.line.put_video(packet)

    def put_audio(self, frame: av.AudioFrame) -> None:
        self.line.put_audio(frame)

    def _write(self, items: list[DelayedItem]) -> None:
        for item in items:
            if self.error is not None:
                return
            try:
                if item.kind == VIDEO:
                    self.sink.write_video(item.payload, item.on_air)
                else:
                    self.sink.write_audio(item.payload, item.on_air)
                self.written += 1
            except Exception as e:  # noqa: BLE001 - a writer failure must not kill the room
                log.exception("recorder sink failed; dropping further media")
                self.error = e

    def _run(self) -> None:
        while not self._stop.is_set():
            self._write(self.line.pop_due())
            nxt = self.line.next_release()
            timeout = 0.05 if nxt is None else min(0.05, max(0.0, nxt - self.line.clock()))
            if timeout > 0:
                self.line.wait(timeout)

    def close(self, timeout: float | None = None) -> Any:
        self.line.close()
        self._stop.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError("the recorder thread did not stop in time")
        self._write(self.line.drain())
        result = self.sink.close()
        if self.error is not None:
            raise RuntimeError(f"recorder sink failed: {self.error}") from self.error
        return result
