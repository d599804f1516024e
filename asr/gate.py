"""An energy-based voice gate: keeps silence and steady noise away from the recognizers.

Per chunk (20 ms at 48 kHz) it measures the energy in dBFS and compares it with a noise
floor, the minimum chunk energy over the last few seconds ("minimum statistics"): a steady
noise is its own floor and never opens the gate, speech rises well above the pauses between
its syllables.  The gate opens after ``attack`` loud chunks in a row and sends the
``preroll`` seconds before (so word onsets are not clipped); it closes after ``hangover``
seconds without a loud chunk.  Pure numpy, a few microseconds per chunk.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["GateConfig", "GateEvent", "VoiceGate"]

Chunk = tuple[np.ndarray, float]


@dataclass(frozen=True, slots=True)
class GateConfig:
    open_margin_db: float = 12.0  # a chunk this far above the floor counts as voice
    keep_margin_db: float = 7.0  # while open, this far above the floor restarts the hangover
    min_level_db: float = -50.0  # and never below this absolute level (dBFS)
    attack: float = 0.04  # seconds of voice in a row that open the gate
    hangover: float = 0.4  # seconds without voice that close it
    preroll: float = 0.3  # seconds sent before the opening chunk
    floor_window: float = 3.0  # seconds over which the noise floor is the minimum energy


@dataclass(slots=True)
class GateEvent:
    """``opened`` carries the pre-roll and the opening chunk, ``audio`` one chunk while open,
    ``closed`` none.  Chunks are ``(samples, hearing_time_of_first_sample)``."""

    kind: Literal["opened", "audio", "closed"]
    chunks: list[Chunk] = field(default_factory=list)


def chunk_db(chunk: np.ndarray) -> float:
    """Mean energy of int16 samples in dB relative to full scale (-120 for digital silence)."""
    if chunk.size == 0:
        return -120.0
    x = chunk.astype(np.float32)
    power = float(np.dot(x.ravel(), x.ravel())) / (chunk.size * 32768.0 * 32768.0)
    return 10.0 * math.log10(power) if power > 1e-12 else -120.0


class VoiceGate:
    """Voice-activity gate for one speaker's stream of chunks (not thread-safe)."""

    def __init__(self, config: GateConfig | None = None, rate: int = 48000) -> None:
        self.config = config or GateConfig()
        self.rate = rate
        self.is_open = False
        self.level_db = -120.0
        self._preroll: deque[Chunk] = deque()
        self._preroll_seconds = 0.0
        self._loud_seconds = 0.0
        self._quiet_seconds = 0.0
        # minimum statistics: minima of blocks of 0.5 s; the floor is the min over the window
        self._block_len = 0.5
        self._blocks: deque[float] = deque(maxlen=max(1, round(self.config.floor_window / 0.5)))
        self._block_min = math.inf
        self._block_seconds = 0.0

    @property
    def floor_db(self) -> float:
        """The current noise floor estimate (dBFS)."""
        floor = min(self._block_min, min(self._blocks, default=math.inf))
        return floor if floor != math.inf else -120.0

    def _track_floor(self, level: float, seconds: float) -> None:
        self._block_min = min(self._block_min, level)
        self._block_seconds += seconds
        if self._block_seconds >= self._block_len:
            self._blocks.append(self._block_min)
            self._block_min = math.inf
            self._block_seconds = 0.0

    def process(self, chunk: np.ndarray, hearing_time: float) -> list[GateEvent]:
        """Feed one chunk; returns the gate's events for it (usually none or one)."""
        cfg = self.config
        seconds = chunk.size / self.rate
        level = chunk_db(chunk)
        self.level_db = level
        floor = min(self._block_min, min(self._blocks, default=math.inf))
        if floor == math.inf:
            floor = level  # the very first chunk is its own floor
        self._track_floor(level, seconds)
        if not self.is_open:
            loud = level >= max(floor + cfg.open_margin_db, cfg.min_level_db)
            self._preroll.append((chunk, hearing_time))
            self._preroll_seconds += seconds
            self._loud_seconds = self._loud_seconds + seconds if loud else 0.0
            if self._loud_seconds >= cfg.attack - 1e-6:
                self.is_open = True
                self._quiet_seconds = 0.0
                chunks = list(self._preroll)
                self._preroll.clear()
                self._preroll_seconds = 0.0
                return [GateEvent("opened", chunks)]
            keep = cfg.preroll + self._loud_seconds
            while (
                self._preroll
                and self._preroll_seconds - self._preroll[0][0].size / self.rate >= keep - 1e-6
            ):
                old, _ = self._preroll.popleft()
                self._preroll_seconds -= old.size / self.rate
            return []
        voiced = level >= max(floor + cfg.keep_margin_db, cfg.min_level_db)
        self._quiet_seconds = 0.0 if voiced else self._quiet_seconds + seconds
        event = GateEvent("audio", [(chunk, hearing_time)])
        if self._quiet_seconds >= cfg.hangover - 1e-6:
            return [event, self._close()]
        return [event]

    def _close(self) -> GateEvent:
        self.is_open = False
        self._loud_seconds = 0.0
        self._quiet_seconds = 0.0
        return GateEvent("closed")

    def close(self) -> list[GateEvent]:
        """End the open utterance now (mute, recess, leaving); drops the pre-roll."""
        self._preroll.clear()
        self._preroll_seconds = 0.0
        self._loud_seconds = 0.0
        return [self._close()] if self.is_open else []
