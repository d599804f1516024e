"""Our receive path inside aiortc's `RTCRtpReceiver` (written against aiortc 1.16).

aiortc's receiver does the transport work we keep (SRTP, RTCP reports, NACKs, RTX
unwrapping, depayloading, bitrate estimates) and then hands every packet to one object,
its jitter buffer: `pli, frame = jitter_buffer.add(packet)`. That object is the whole
source of the receive delay (see framing.py and jitter.py), so we put ours in its place:

- video: `VideoReceive` assembles frames with `FrameAssembler` and queues each complete
  frame to aiortc's decoder thread itself (several may complete at once when a gap fills),
  remembering when each frame's last packet arrived;
- audio: `AudioReceive` keeps the packets in an `AdaptiveJitterBuffer` and hands aiortc
  nothing; whoever plays the audio calls `pull()` every 20 ms and gets decoded (or
  concealed) samples. The room's audio tick does that; a client uses `PlayoutTrack`.

The names we touch inside the receiver are private to aiortc, so the version is pinned here
and checked at import: a different aiortc must be read again before this is trusted.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiortc
import numpy as np
from aiortc import RTCPeerConnection, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtpPacket

from .framing import FrameAssembler, h264_is_keyframe
from .jitter import Action, AdaptiveJitterBuffer
from .opus import OpusDecoder, OpusError
from .tracks import AUDIO_CHUNK, AUDIO_RATE, mono_frame

AIORTC_SERIES = "1.16."
if not aiortc.__version__.startswith(AIORTC_SERIES):
    raise ImportError(
        f"signaling.receiver replaces the jitter buffer inside aiortc {AIORTC_SERIES}x's RTCRtpReceiver; "
        f"aiortc {aiortc.__version__} is installed: read its rtcrtpreceiver.py again and update this module"
    )

_PRIVATE = "_RTCRtpReceiver__"
Clock = Callable[[], float]


def _private(receiver: RTCRtpReceiver, name: str) -> Any:
    return getattr(receiver, _PRIVATE + name)


class VideoReceive:
    """Stands in for aiortc's video jitter buffer."""

    capacity = 512

    def __init__(self, receiver: RTCRtpReceiver, clock: Clock = time.monotonic) -> None:
        self._receiver = receiver
        self._clock = clock
        self.assembler: FrameAssembler | None = None
        self._last_ts: int | None = None
        self._unwrapped = 0
        self._arrivals: OrderedDict[int, float] = OrderedDict()

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        codec = _private(self._receiver, "codecs").get(packet.payload_type)
        if codec is None:
            return False, None
        if self.assembler is None:
            self.assembler = FrameAssembler(h264_is_keyframe if codec.name.lower() == "h264" else None)
        now = self._clock()
        data: bytes = getattr(packet, "_data", packet.payload)  # aiortc depayloads into _data
        pli, frames = self.assembler.add(packet.sequence_number, packet.timestamp, bool(packet.marker), data, now)
        for frame in frames:
            pts = self._map(frame.timestamp)
            self._arrivals[pts] = now
            while len(self._arrivals) > 64:
                self._arrivals.popitem(last=False)
            if _private(self._receiver, "decoder_thread") is not None:
                _private(self._receiver, "decoder_queue").put((codec, replace(frame, timestamp=pts)))
        return pli, None

    def _map(self, timestamp: int) -> int:
        """Frame timestamps from 0, unwrapped: the pts the decoded frame will carry."""
        if self._last_ts is not None:
            delta = (timestamp - self._last_ts) % (1 << 32)
            self._unwrapped += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last_ts = timestamp
        return self._unwrapped

    def arrival_of(self, pts: int | None) -> float | None:
        """When the last packet of the frame with this pts arrived (monotonic seconds)."""
        return self._arrivals.get(pts) if pts is not None else None

    def stats(self) -> dict[str, Any]:
        c = self.assembler.counters if self.assembler is not None else None
        return {
            "frames": c.frames if c else 0,
            "frames_lost": c.frames_lost if c else 0,
            "keyframe_requests": c.keyframe_requests if c else 0,
            "packets_late": c.late if c else 0,
            "packets_duplicate": c.duplicates if c else 0,
        }


@dataclass(frozen=True)
class Pulled:
    samples: np.ndarray | None  # AUDIO_CHUNK mono int16, or None: nothing to play
    arrival: float | None  # when the packet played here arrived; None for concealment


class AudioReceive:
    """Stands in for aiortc's audio jitter buffer; the player pulls 20 ms at a time."""

    capacity = 16

    def __init__(self, receiver: RTCRtpReceiver | None, clock: Clock = time.monotonic) -> None:
        self._receiver = receiver
        self._clock = clock
        self.buffer = AdaptiveJitterBuffer(clock_rate=AUDIO_RATE, frame_seconds=AUDIO_CHUNK / AUDIO_RATE)
        self._decoder = OpusDecoder()
        self._pending = np.zeros(0, dtype=np.int16)
        self.not_opus = 0
        self.decode_errors = 0
        self.last_arrival: float | None = None
        self.arrived = asyncio.Event()  # set by every packet: a player waits on it while the stream is quiet
        self.depth_avg = 0.0  # packets, smoothed over ~1 s of ticks

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        if self._receiver is not None:
            codec = _private(self._receiver, "codecs").get(packet.payload_type)
            if codec is None or codec.name.lower() != "opus":
                self.not_opus += 1  # the server offers Opus only
                return False, None
        self.last_arrival = self._clock()
        self.buffer.push(packet.sequence_number, packet.timestamp, packet.payload, self.last_arrival)
        self.arrived.set()
        return False, None

    def pull(self, catching_up: bool = False) -> Pulled:
        """The next 20 ms. `catching_up`: the player's clock runs ticks back to back after its
        loop stalled; an empty buffer then means the packets are stuck behind the same stall,
        not late, so nothing is concealed and the buffer does not grow for it."""
        if catching_up and len(self._pending) < AUDIO_CHUNK and not self.buffer.has_packets:
            return Pulled(None, None)
        arrival: float | None = None
        for _ in range(6):  # bounded: 20 ms needs one 20 ms packet, or two of 10 ms
            if len(self._pending) >= AUDIO_CHUNK:
                break
            play = self.buffer.pop(catching_up)
            self.depth_avg += (self.buffer.depth - self.depth_avg) / 50
            if play.action is Action.SILENCE:
                break
            want = AUDIO_CHUNK - len(self._pending)
            try:
                if play.action is Action.PACKET:
                    assert play.packet is not None
                    pcm = self._decoder.decode(play.packet.payload)
                    arrival = play.packet.arrival if arrival is None else arrival
                elif play.action is Action.FEC:
                    assert play.packet is not None
                    pcm = self._decoder.recover(play.packet.payload, want)
                else:
                    pcm = self._decoder.conceal(want)
            except OpusError:
                self.decode_errors += 1
                pcm = np.zeros(want, dtype=np.int16)
            self._pending = np.concatenate([self._pending, pcm]) if len(self._pending) else pcm
        if len(self._pending) == 0:
            return Pulled(None, None)
        if len(self._pending) < AUDIO_CHUNK:
            self._pending = np.concatenate([self._pending, np.zeros(AUDIO_CHUNK - len(self._pending), dtype=np.int16)])
        chunk, self._pending = self._pending[:AUDIO_CHUNK], self._pending[AUDIO_CHUNK:]
        return Pulled(chunk, arrival)

    def stats(self) -> dict[str, Any]:
        b = self.buffer
        c = b.counters
        return {
            "jitter_ms": round(b.jitter_seconds * 1000, 1),
            "target_packets": b.target,
            "depth_ms": round(self.depth_avg * b.frame_seconds * 1000, 1),
            "played": c.played,
            "concealed_lost": c.concealed_lost,
            "fec": c.fec,
            "plc": c.plc,
            "underruns": c.underruns,
            "dropped": c.dropped,
            "late": c.late,
            "duplicates": c.duplicates,
        }

    def close(self) -> None:
        self._decoder.close()


ReceivePath = VideoReceive | AudioReceive


def take_over(receiver: RTCRtpReceiver) -> ReceivePath:
    """Put our receive path in place of the receiver's jitter buffer (before media flows)."""
    if not hasattr(receiver, _PRIVATE + "jitter_buffer"):
        raise RuntimeError("aiortc's RTCRtpReceiver has no jitter buffer to replace: see signaling/receiver.py")
    path: ReceivePath
    if _private(receiver, "kind") == "video":
        path = VideoReceive(receiver)
    else:
        path = AudioReceive(receiver)
    setattr(receiver, _PRIVATE + "jitter_buffer", path)
    return path


def take_over_track(pc: RTCPeerConnection, track: MediaStreamTrack) -> ReceivePath | None:
    """The receive path for a track from `pc`'s "track" event."""
    for transceiver in pc.getTransceivers():
        if transceiver.receiver.track is track:
            return take_over(transceiver.receiver)
    return None


class PlayoutTrack(MediaStreamTrack):
    """A client's playout of an `AudioReceive`: one 20 ms frame per 20 ms, concealed or silent
    when a packet is missing. Like aiortc's track it gives nothing before the first packet or
    while the stream is quiet (no packet for `QUIET` seconds). Ends when the remote track does."""

    QUIET = 0.5

    kind = "audio"

    def __init__(self, path: AudioReceive, remote: MediaStreamTrack) -> None:
        super().__init__()
        self.path = path
        self._remote = remote
        self._pts = 0
        self._next: float | None = None
        self._ended = False
        self._watch: asyncio.Task[None] | None = None

    async def _watch_remote(self) -> None:
        try:
            while True:
                await self._remote.recv()  # nothing comes through aiortc's decoder; only the end does
        except MediaStreamError:
            self._ended = True

    async def recv(self) -> Any:
        if self._watch is None:
            self._watch = asyncio.create_task(self._watch_remote())
        loop = asyncio.get_running_loop()
        period = AUDIO_CHUNK / AUDIO_RATE
        while not self._ended and (
            self.path.last_arrival is None or time.monotonic() - self.path.last_arrival > self.QUIET
        ):
            self.path.arrived.clear()
            self._next = None  # start afresh when packets flow again
            await self._wait_packet()
        self._next = loop.time() if self._next is None else self._next + period
        delay = self._next - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            await asyncio.sleep(0)  # catching up: let the packets and the other tracks in between frames
            if delay < -1.0:
                self._next = loop.time()  # after a long stall: skip ahead; a shorter one is caught up
        if self._ended or self.readyState != "live":
            raise MediaStreamError
        pulled = self.path.pull(catching_up=delay < -period / 2)
        samples = pulled.samples if pulled.samples is not None else np.zeros(AUDIO_CHUNK, dtype=np.int16)
        frame = mono_frame(samples, self._pts)
        self._pts += AUDIO_CHUNK
        return frame

    async def _wait_packet(self) -> None:
        try:
            await asyncio.wait_for(self.path.arrived.wait(), 0.5)  # bounded: the end is noticed too
        except TimeoutError:
            pass

    def stop(self) -> None:
        super().stop()
        if self._watch is not None:
            self._watch.cancel()


def ask_for_opus_fec(sdp: str) -> str:
    """Our SDP with `useinbandfec=1` on every Opus payload type: a sender (a browser) adds
    in-band FEC only when the receiver's description asks for it, and `AudioReceive` uses it to
    rebuild a lost packet from the next one. aiortc writes no Opus fmtp of its own."""
    lines = sdp.split("\r\n")
    opus = {line.split()[0].split(":")[1] for line in lines if line.startswith("a=rtpmap:") and " opus/" in line.lower()}
    out: list[str] = []
    for line in lines:
        if line.startswith("a=fmtp:") and line.split()[0].split(":")[1] in opus:
            pt = line.split()[0].split(":")[1]
            opus.discard(pt)  # already has an fmtp line: extend it
            if "useinbandfec" not in line:
                line += ";useinbandfec=1"
        out.append(line)
    for pt in opus:  # no fmtp line yet: one after the rtpmap
        i = next(i for i, line in enumerate(out) if line.startswith(f"a=rtpmap:{pt} "))
        out.insert(i + 1, f"a=fmtp:{pt} useinbandfec=1")
    return "\r\n".join(out)
