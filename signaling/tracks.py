"""The tracks the media room sends: the encoded courtroom picture and a mix-minus.

Both are fed by the room and read by aiortc's `RTCRtpSender`. Their queues are bounded: a
slow or dead participant loses frames, never slows the room or grows memory.
"""

from __future__ import annotations

import asyncio
import fractions
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

AUDIO_RATE = 48000
AUDIO_CHUNK = 960  # 20 ms
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)


class PacketVideoTrack(MediaStreamTrack):
    """Hands out the room's pre-encoded H.264 packets: the sender only packetizes them.

    After an overflow (or at the start) it waits for a keyframe, because the packets in
    between cannot be decoded without the one that was dropped.
    """

    kind = "video"

    def __init__(self, request_keyframe: Callable[[], None], maxsize: int = 30) -> None:
        super().__init__()
        self._queue: asyncio.Queue[tuple[av.Packet, tuple[float, ...]] | None] = asyncio.Queue(maxsize)
        self._request_keyframe = request_keyframe
        self.waiting_for_keyframe = True
        self.sent = 0
        self.dropped = 0
        self.on_sent: Callable[[tuple[float, ...], float], None] | None = None  # the server's hold time

    def push(self, packet: av.Packet, born: tuple[float, ...] = ()) -> None:
        """`born`: when the camera frames first shown in this packet's picture arrived."""
        if self.readyState != "live":
            return
        if self.waiting_for_keyframe:
            if not packet.is_keyframe:
                self.dropped += 1
                return
            self.waiting_for_keyframe = False
        try:
            self._queue.put_nowait((packet, born))
        except asyncio.QueueFull:
            self.dropped += self._queue.qsize() + 1
            _drain(self._queue)
            self.waiting_for_keyframe = True
            self._request_keyframe()

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        packet, born = item
        if born and self.on_sent is not None:
            self.on_sent(born, time.monotonic())
        self.sent += 1
        return packet

    def stop(self) -> None:
        super().stop()
        _drain(self._queue)
        self._queue.put_nowait(None)


class MixAudioTrack(MediaStreamTrack):
    """One participant's downlink: everyone but themselves, 20 ms at a time."""

    kind = "audio"

    def __init__(self, maxsize: int = 10) -> None:
        super().__init__()
        self._queue: asyncio.Queue[tuple[av.AudioFrame, tuple[float, ...]] | None] = asyncio.Queue(maxsize)
        self._pts = 0
        self.dropped = 0
        self.on_sent: Callable[[tuple[float, ...], float], None] | None = None  # the server's hold time

    def push(self, samples: np.ndarray, born: tuple[float, ...] = ()) -> None:
        """`born`: when the packets mixed into these samples arrived."""
        if self.readyState != "live":
            return
        frame = (mono_frame(samples, self._pts), born)
        self._pts += len(samples)
        if self._queue.full():
            # Keep latency bounded: the oldest 20 ms goes.
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(frame)

    @property
    def depth(self) -> int:
        return self._queue.qsize()

    async def recv(self) -> av.AudioFrame:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        item = await self._queue.get()
        if item is None:
            raise MediaStreamError
        frame, born = item
        if born and self.on_sent is not None:
            self.on_sent(born, time.monotonic())
        return frame

    def stop(self) -> None:
        super().stop()
        _drain(self._queue)
        self._queue.put_nowait(None)


def mono_frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1).astype(np.int16, copy=False), format="s16", layout="mono")
    frame.sample_rate = AUDIO_RATE
    frame.pts = pts
    frame.time_base = AUDIO_TIME_BASE
    return frame


def to_mono_chunks(frame: av.AudioFrame) -> np.ndarray:
    """A decoded uplink frame (aiortc gives s16 stereo or mono at 48 kHz) as mono int16."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        mono = data.mean(axis=0) if channels > 1 else data[0]
    else:
        mono = data.reshape(-1, channels).mean(axis=1) if channels > 1 else data.reshape(-1)
    if frame.format.name not in ("s16", "s16p"):
        mono = np.clip(mono * 32767.0, -32768, 32767)
    return np.asarray(mono, dtype=np.int16)


def _drain(queue: asyncio.Queue) -> None:  # type: ignore[type-arg]
    while not queue.empty():
        queue.get_nowait()
