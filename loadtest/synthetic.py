"""Synthetic media: a tone or a WAV as a microphone, a test picture as a camera."""

from __future__ import annotations

import asyncio
import fractions
import time
import wave
from pathlib import Path

import av
import numpy as np
from aiortc.mediastreams import MediaStreamTrack

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
