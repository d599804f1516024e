"""Audio mix-minus for a hearing: one mix per participant without their own voice.

The unit is a 20 ms chunk: 960 samples of 48 kHz mono int16. The full sum is computed
once in int32 and each participant's own chunk subtracted from it, so N participants
cost one sum and one vectorised subtraction, not N sums of N - 1 chunks.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 48000
CHUNK_SAMPLES = 960  # 20 ms
SILENCE_DB = -120.0


@dataclass
class MixResult:
    full: np.ndarray  # int16: everyone unmuted, for the record; zeros when not recording
    minus: dict[str, np.ndarray]  # int16, per participant: everyone unmuted but them
    levels: dict[str, float]  # RMS dBFS per participant; SILENCE_DB when silent, absent or muted


class AudioMixer:
    def __init__(self, samples: int = CHUNK_SAMPLES) -> None:
        self.samples = samples
        self._silence = np.zeros(samples, dtype=np.int16)

    def mix(
        self, chunks: Mapping[str, np.ndarray | None], muted: Collection[str], record: bool
    ) -> MixResult:
        voices = [pid for pid, chunk in chunks.items() if chunk is not None and pid not in muted]
        levels = dict.fromkeys(chunks, SILENCE_DB)
        if not voices:
            silence = self._silence
            return MixResult(silence.copy(), {pid: silence.copy() for pid in chunks}, levels)

        stack = np.empty((len(voices), self.samples), dtype=np.int32)
        for row, pid in enumerate(voices):
            chunk = chunks[pid]
            assert chunk is not None
            if chunk.shape != (self.samples,):
                raise ValueError(
                    f"chunk of {pid!r} has shape {chunk.shape}, expected ({self.samples},)"
                )
            stack[row] = chunk
        total = stack.sum(axis=0)

        # Everyone's minus in one operation: total minus their own row, then saturate.
        minus_rows = _saturate(total[None, :] - stack)
        minus = dict(zip(voices, minus_rows, strict=True))
        others = _saturate(total)  # what a muted or silent participant hears
        for pid in chunks:
            if pid not in minus:
                minus[pid] = others.copy()

        # RMS of each row, in float64 so 960 squared int16 samples cannot overflow.
        as_float = stack.astype(np.float64)
        mean_square = np.einsum("ij,ij->i", as_float, as_float) / self.samples
        for pid, ms in zip(voices, mean_square, strict=True):
            levels[pid] = dbfs(float(ms))

        full = others if record else np.zeros(self.samples, dtype=np.int16)
        return MixResult(full, minus, levels)


def dbfs(mean_square: float) -> float:
    """RMS level relative to int16 full scale (a full-scale sine is about -3 dBFS)."""
    if mean_square <= 0:
        return SILENCE_DB
    return max(SILENCE_DB, 10 * math.log10(mean_square / 32768.0**2))


def _saturate(samples: np.ndarray) -> np.ndarray:
    # Clip, never wrap: an int16 overflow would turn a loud moment into a loud click.
    return np.clip(samples, -32768, 32767).astype(np.int16)


class ActiveSpeaker:
    """Who is speaking now, with hysteresis so the on-screen marker does not flicker.

    Fed the mixer's levels once per chunk. The loudest voice above the threshold is a
    challenger; it takes the floor after `attack` seconds if the current speaker has been
    quiet for `hold` seconds (or there is none), and after `hold` seconds of being the
    loudest if the current speaker is still talking. The marker is cleared after
    `release` seconds of the current speaker's silence, longer than a pause between
    sentences.
    """

    def __init__(
        self,
        threshold_db: float = -45.0,
        hold: float = 0.6,
        attack: float = 0.1,
        release: float = 1.5,
        chunk: float = CHUNK_SAMPLES / SAMPLE_RATE,
    ) -> None:
        self.threshold_db = threshold_db
        self._hold = max(1, round(hold / chunk))
        self._attack = max(1, round(attack / chunk))
        self._release = max(1, round(release / chunk))
        self._current: str | None = None
        self._quiet = 0  # chunks since the current speaker was last above the threshold
        self._challenger: str | None = None
        self._challenge = 0  # consecutive chunks the challenger has been the loudest

    @property
    def current(self) -> str | None:
        return self._current

    def update(self, levels: Mapping[str, float]) -> str | None:
        loud = {pid: db for pid, db in levels.items() if db >= self.threshold_db}
        top = max(loud, key=loud.__getitem__) if loud else None

        if self._current is not None:
            self._quiet = 0 if self._current in loud else self._quiet + 1

        if top is None or top == self._current:
            self._challenger, self._challenge = None, 0
        elif top == self._challenger:
            self._challenge += 1
        else:
            self._challenger, self._challenge = top, 1

        floor_free = self._current is None or self._quiet >= self._hold
        needed = self._attack if floor_free else self._hold
        if self._challenger is not None and self._challenge >= needed:
            self._current, self._quiet = self._challenger, 0
            self._challenger, self._challenge = None, 0
        elif self._current is not None and self._quiet >= self._release:
            self._current = None
        return self._current

    def reset(self) -> None:
        self._current, self._quiet = None, 0
        self._challenger, self._challenge = None, 0
