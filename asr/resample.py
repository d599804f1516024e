"""48 kHz mono int16 → 16 kHz mono int16 with PyAV's resampler (libswresample).

One :class:`Resampler` per contiguous piece of audio (one utterance).  libswresample keeps
output sample ``k`` aligned with input time ``3k`` (no shift) and only holds back a few
samples of filter tail, which :meth:`Resampler.flush` releases; so output positions map back
to input positions exactly: ``out_index = in_index * 16000 / 48000``.
"""

from __future__ import annotations

import av
import numpy as np

__all__ = ["IN_RATE", "OUT_RATE", "Resampler"]

IN_RATE = 48000
OUT_RATE = 16000


class Resampler:
    """Stateful 48 kHz → 16 kHz mono int16 converter for one contiguous stream of audio."""

    __slots__ = ("_resampler", "in_samples", "out_samples", "in_rate", "_pts")

    def __init__(self, in_rate: int = IN_RATE) -> None:
        self.in_rate = in_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=OUT_RATE)
        self.in_samples = 0
        self.out_samples = 0
        self._pts = 0

    def push(self, chunk: np.ndarray) -> np.ndarray:
        """Resample one chunk of int16 mono samples; returns what is ready (may be short)."""
        samples = np.ascontiguousarray(chunk, dtype=np.int16).reshape(1, -1)
        if samples.shape[1] == 0:
            return np.zeros(0, dtype=np.int16)
        if self.in_rate == OUT_RATE:
            out = samples.reshape(-1).copy()
        else:
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            frame.sample_rate = self.in_rate
            frame.pts = self._pts
            self._pts += samples.shape[1]
            out = self._collect(self._resampler.resample(frame))
        self.in_samples += samples.shape[1]
        self.out_samples += out.size
        return out

    def flush(self) -> np.ndarray:
        """Release the filter tail.  The resampler cannot be used afterwards."""
        if self.in_rate == OUT_RATE or self.in_samples == 0:
            return np.zeros(0, dtype=np.int16)
        out = self._collect(self._resampler.resample(None))
        self.out_samples += out.size
        return out

    @staticmethod
    def _collect(frames: list[av.AudioFrame]) -> np.ndarray:
        if not frames:
            return np.zeros(0, dtype=np.int16)
        parts = [frame.to_ndarray().reshape(-1) for frame in frames]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)
