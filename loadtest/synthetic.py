"""Synthetic media: a tone, a WAV or a hearing's script as a microphone; a test picture or
a camera with a clock drawn in as a camera.

`CameraSource` is the load test's camera: its pictures are computed once (a panning
texture), each frame only gets the send time drawn in (`barcode`), and it is encoded once,
by our own libx264 at preset ultrafast, for every `CameraTrack` that shows it. aiortc only
packetizes those packets (a track that returns `av.Packet`), so a hundred synthetic
participants do not cost a hundred aiortc encoders (libx264 at its default preset, medium).
"""

from __future__ import annotations

import asyncio
import fractions
import math
import time
import wave
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

from signaling.tracks import PacketVideoTrack

from .barcode import Painter

if TYPE_CHECKING:
    from .speech import Track

RATE = 48000
CHUNK = 960
VIDEO_CLOCK = 90000


class _Paced:
    """Releases one item per period on the wall clock, like a real device."""

    def __init__(self, period: float) -> None:
        self._period = period
        self._start: float | None = None
        self._count = 0

    async def wait(self) -> int:
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._count * self._period
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        n = self._count
        self._count += 1
        return n


class ToneTrack(MediaStreamTrack):
    """A microphone playing a sine tone (0 Hz = silence)."""

    kind = "audio"

    def __init__(self, frequency: float, amplitude: float = 0.3) -> None:
        super().__init__()
        self.frequency = frequency
        self.amplitude = amplitude
        self._pace = _Paced(CHUNK / RATE)

    async def recv(self) -> av.AudioFrame:
        n = await self._pace.wait()
        t = (np.arange(CHUNK) + n * CHUNK) / RATE
        samples = (self.amplitude * 32767 * np.sin(2 * np.pi * self.frequency * t)).astype(np.int16)
        return _audio_frame(samples, n * CHUNK)


class WavTrack(MediaStreamTrack):
    """A microphone playing a WAV file (any rate, mono or stereo), then silence.

    `started_at` is the monotonic time the first sample went out, so a test knows where in
    the stream the speech really is.
    """

    kind = "audio"

    def __init__(self, path: Path, lead_silence: float = 0.0, loop: bool = False) -> None:
        super().__init__()
        samples = read_wav_48k(path)
        lead = np.zeros(int(lead_silence * RATE), dtype=np.int16)
        self.samples = np.concatenate([lead, samples])
        self.loop = loop
        self._pace = _Paced(CHUNK / RATE)
        self.started_at: float | None = None

    async def recv(self) -> av.AudioFrame:
        n = await self._pace.wait()
        if self.started_at is None:
            self.started_at = time.monotonic()
        start = n * CHUNK
        if self.loop:
            start %= max(1, len(self.samples))
        chunk = self.samples[start : start + CHUNK]
        if len(chunk) < CHUNK:
            chunk = np.concatenate([chunk, np.zeros(CHUNK - len(chunk), dtype=np.int16)])
        return _audio_frame(chunk, n * CHUNK)


class PatternTrack(MediaStreamTrack):
    """A camera showing a flat colour with a moving bar (so encoders see motion)."""

    kind = "video"

    def __init__(self, width: int = 320, height: int = 180, fps: int = 15, colour: tuple[int, int, int] = (200, 40, 40)) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._pace = _Paced(1 / fps)
        self._base = np.zeros((height, width, 3), dtype=np.uint8)
        self._base[:] = colour

    async def recv(self) -> av.VideoFrame:
        n = await self._pace.wait()
        image = self._base.copy()
        x = (n * 8) % self.width
        image[:, x : x + 8] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = int(n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return frame


def _audio_frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = RATE
    frame.pts = pts
    frame.time_base = fractions.Fraction(1, RATE)
    return frame


def read_wav_48k(path: Path) -> np.ndarray:
    """A WAV file as 48 kHz mono int16, resampled with PyAV."""
    with wave.open(str(path), "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        raw = w.readframes(w.getnframes())
    if width != 2:
        raise ValueError("16-bit WAV expected")
    data = np.frombuffer(raw, dtype=np.int16).reshape(-1, channels)
    if rate == RATE and channels == 1:
        return data.reshape(-1).copy()
    frame = av.AudioFrame.from_ndarray(data.reshape(1, -1), format="s16", layout="stereo" if channels == 2 else "mono")
    frame.sample_rate = rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.int16)


class CameraSource:
    """One camera: precomputed pictures plus the clock code, encoded once per frame.

    `run()` paces it at `fps`; every packet goes to every live `CameraTrack` of it. A
    picture-loss request from any receiver forces a keyframe (at most one a second).
    """

    LOOP = 16  # precomputed pictures, panning a texture across one width per loop

    def __init__(self, width: int, height: int, fps: int, bitrate: int, seed: int = 0) -> None:
        from signaling.encoder import PictureEncoder  # the pod's encoder, at preset ultrafast

        if width % 2 or height % 2:
            raise ValueError("camera size must be even")
        self.width, self.height, self.fps = width, height, fps
        self.painter = Painter(width, height)
        self.encoder = PictureEncoder(width, height, fps, bitrate=bitrate, preset="ultrafast")
        self.tracks: set[CameraTrack] = set()
        self.frames_sent = 0
        self.encode_seconds = 0.0
        self._force = True
        self._last_forced = 0.0
        self._pictures = self._precompute(seed)

    def _precompute(self, seed: int) -> list[np.ndarray]:
        w, h = self.width, self.height
        rng = np.random.default_rng(seed)
        coarse = rng.integers(50, 200, (9, 16)).astype(np.float64)
        ys = np.linspace(0, 8, h)
        xs = np.linspace(0, 16, w, endpoint=False)
        # A smooth texture that wraps around horizontally, so panning it loops seamlessly.
        y0 = np.floor(ys).astype(int).clip(0, 7)
        fy = (ys - y0)[:, None]
        x0 = np.floor(xs).astype(int) % 16
        x1 = (x0 + 1) % 16
        fx = (xs - np.floor(xs))[None, :]
        top = coarse[y0][:, x0] * (1 - fx) + coarse[y0][:, x1] * fx
        bottom = coarse[y0 + 1][:, x0] * (1 - fx) + coarse[y0 + 1][:, x1] * fx
        texture = (top * (1 - fy) + bottom * fy + rng.normal(0, 3, (h, w))).clip(16, 235)
        texture = texture.astype(np.uint8)
        hue = rng.integers(90, 170, 2)
        pictures = []
        for k in range(self.LOOP):
            luma = np.roll(texture, k * w // self.LOOP, axis=1)
            u = np.full((h // 2, w // 2), hue[0], np.uint8)
            v = np.full((h // 2, w // 2), hue[1], np.uint8)
            self.painter.clear_chroma(u, v)
            pictures.append(np.concatenate([luma, u.reshape(h // 4, w), v.reshape(h // 4, w)]))
        return pictures

    def track(self) -> CameraTrack:
        track = CameraTrack(self)
        self.tracks.add(track)
        self._force = True
        return track

    def request_keyframe(self) -> None:
        self._force = True

    def frame(self, n: int, stamp_ms: int) -> av.VideoFrame:
        image = self._pictures[n % self.LOOP].copy()
        self.painter.paint(image[: self.height], stamp_ms)
        return av.VideoFrame.from_ndarray(image, format="yuv420p")

    def encode_one(self, n: int, start: float) -> list[av.Packet]:
        now = time.monotonic()
        force = self._force and now - self._last_forced >= 1.0
        if force:
            self._force = False
            self._last_forced = now
        frame = self.frame(n, int(now * 1000))
        packets = self.encoder.encode(frame, int((now - start) * 90000), force_keyframe=force)
        self.encode_seconds += time.monotonic() - now
        return packets

    async def run(self) -> None:
        period = 1.0 / self.fps
        start = time.monotonic()
        n = 0
        while True:
            due = start + n * period
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -1.0:  # the loop stalled: skip ahead rather than burst
                n = int((time.monotonic() - start) / period)
            packets = self.encode_one(n, start)
            self.frames_sent += 1
            for track in list(self.tracks):
                for packet in packets:
                    track.push(packet)
            n += 1


class CameraTrack(PacketVideoTrack):
    """One participant's view of a `CameraSource`: its packets, for aiortc to packetize.

    The pod's own packet track: bounded, and after an overflow it waits for a keyframe and
    asks the source for one.
    """

    def __init__(self, source: CameraSource, maxsize: int = 8) -> None:
        super().__init__(source.request_keyframe, maxsize)
        self.source = source

    def request_keyframe(self) -> None:
        self.source.request_keyframe()

    def stop(self) -> None:
        self.source.tracks.discard(self)
        super().stop()


class ScriptMic(MediaStreamTrack):
    """A microphone reading one participant's part of a hearing script (`speech.Script`).

    Every microphone of a hearing counts chunks from the same `epoch`, so the turns do not
    overlap. It notes the monotonic time each beep and each end of a sentence left it.
    """

    kind = "audio"

    def __init__(self, part: Track, cycle_chunks: int, epoch: float) -> None:
        super().__init__()
        self.part = part
        self.cycle = cycle_chunks
        self.epoch = epoch
        self._n: int | None = None
        self.beeps: deque[float] = deque(maxlen=256)  # send times
        self.utterances: deque[tuple[float, float]] = deque(maxlen=64)  # (start, end) send times
        self._utterance_start: float | None = None
        self._firsts = {first for first, _ in part.utterances}
        self._lasts = {last for _, last in part.utterances}

    async def recv(self) -> av.AudioFrame:
        period = CHUNK / RATE
        now = time.monotonic()
        if self._n is None:
            self._n = max(0, math.ceil((now - self.epoch) / period))
        due = self.epoch + self._n * period
        delay = due - now
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.5:  # a stall: a real microphone would have lost this audio too
            self._n = math.ceil((now - self.epoch) / period)
        n = self._n
        self._n += 1
        c = n % self.cycle
        samples = self.part.chunk(c)
        sent = time.monotonic()
        if c in self.part.beeps:
            self.beeps.append(sent)
        if c in self._firsts:
            self._utterance_start = sent
        if c in self._lasts and self._utterance_start is not None:
            self.utterances.append((self._utterance_start, sent))
            self._utterance_start = None
        return _audio_frame(samples, n * CHUNK)
