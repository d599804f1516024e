"""The record engine: Whisper reads each speaker's whole turn once the turn has ended, and its
text replaces the live engine's text in the record.

One thread (niced below media, like the live workers) and a bounded queue of turns.  A turn
that does not fit (the reader is behind) is not waited for: the speaker keeps it aside (its
live text stays in the record, marked) and hands it in again when the speaker's stream closes,
i.e. after the hearing, when nobody waits for captions any more.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .engine import RECOGNITION_NICE, SAMPLE_RATE, RecognitionResult, TimeMap, set_thread_nice
from .whisper_engine import WhisperEngine

__all__ = ["RecordReader", "TurnJob"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TurnJob:
    """One whole turn: 16 kHz int16 audio whose sample ``s`` was heard at ``times.to_hearing``."""

    participant_id: str
    turn: int
    audio: np.ndarray
    times: TimeMap
    vocabulary: str | None
    on_done: Callable[[TurnJob, list[RecognitionResult]], None]
    deferred: bool = False  # handed in again after the hearing
    queued_at: float = field(default_factory=time.monotonic)

    @property
    def seconds(self) -> float:
        return self.audio.size / SAMPLE_RATE


class RecordReader:
    """Reads whole turns with a Whisper engine on its own low-priority thread."""

    def __init__(
        self, engine: WhisperEngine, *, max_turns: int = 8, nice: int = RECOGNITION_NICE
    ) -> None:
        self.engine = engine
        self.max_turns = max_turns
        self.nice = nice
        self._queue: queue.Queue[TurnJob | None] = queue.Queue()
        self._lock = threading.Lock()
        self._waiting = 0  # live (not deferred) turns queued: the bounded part
        self._idle = threading.Condition(self._lock)
        self._active = 0
        self.turns_read = 0
        self.busy_seconds = 0.0  # wall time spent reading (CTranslate2 computes on its own threads)
        self.audio_seconds = 0.0  # turn audio read
        self._thread = threading.Thread(target=self._run, name="asr-record", daemon=True)
        self._thread.start()

    def submit(self, job: TurnJob, force: bool = False) -> bool:
        """Queue a turn; False (nothing queued) when ``max_turns`` live turns already wait.
        ``force`` (deferred turns after the hearing) ignores the bound."""
        with self._lock:
            if not force and self._waiting >= self.max_turns:
                return False
            if not force:
                self._waiting += 1
            self._active += 1
        self._queue.put(job)
        return True

    def backlog(self) -> int:
        with self._lock:
            return self._active

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every queued turn has been read (not on the event loop)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._active:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, wait: float = 0.0) -> None:
        """Stop after the turns queued so far; ``wait`` > 0 joins the thread that long
        (blocks: not on the event loop)."""
        self._queue.put(None)
        if wait > 0:
            self._thread.join(wait)

    def _run(self) -> None:
        set_thread_nice(self.nice)
        while True:
            job = self._queue.get()
            if job is None:
                return
            with self._lock:
                if not job.deferred:
                    self._waiting -= 1
            t0 = time.perf_counter()
            results: list[RecognitionResult] = []
            try:
                results = self.engine.transcribe(job.audio, 0.0, vocabulary=job.vocabulary)
            except Exception:
                log.exception("the record engine failed on a turn of %s", job.participant_id)
            self.busy_seconds += time.perf_counter() - t0
            self.audio_seconds += job.seconds
            self.turns_read += 1
            try:
                job.on_done(job, results)
            except Exception:
                log.exception("delivering a record reading failed")
            with self._idle:
                self._active -= 1
                if not self._active:
                    self._idle.notify_all()
