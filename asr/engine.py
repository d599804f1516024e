"""The recognizer interface every speech engine implements, and the engine factory.

An :class:`Engine` is loaded once per process (the model is shared); it hands out one
:class:`RecognizerStream` per speaker.  A stream takes 16 kHz mono int16 bytes of that
speaker's utterances and returns :class:`RecognitionResult` objects whose times are seconds
on the stream's own sample counter (every sample ever accepted, from 0).  The pipeline maps
those onto the hearing clock with a :class:`TimeMap`, because the voice gate skips silence.

A stream is used by one thread at a time; creating streams is thread-safe.
"""

from __future__ import annotations

import bisect
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "RECOGNITION_NICE",
    "SAMPLE_RATE",
    "Engine",
    "RecognitionResult",
    "RecognizerStream",
    "TimeMap",
    "Word",
    "make_engine",
]

SAMPLE_RATE = 16000
#: niceness of every thread that does recognition work: media threads come first
RECOGNITION_NICE = 10

T = TypeVar("T")


def set_thread_nice(nice: int) -> None:
    """Lower the calling thread's priority (Linux: niceness is per thread and inherited by
    the threads it creates).  Best effort."""
    if nice:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
        except (OSError, AttributeError):
            pass


def call_niced(fn: Callable[[], T], nice: int = RECOGNITION_NICE) -> T:
    """Run ``fn`` on a short-lived thread at ``nice``, so that the threads it starts (e.g.
    CTranslate2's compute threads, created when a model loads) inherit the lower priority."""
    box: dict[str, Any] = {}

    def run() -> None:
        set_thread_nice(nice)
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised on the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name="asr-load")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass(frozen=True, slots=True)
class Word:
    word: str
    start: float
    end: float
    conf: float


@dataclass(frozen=True, slots=True)
class RecognitionResult:
    text: str
    final: bool
    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    language: str | None = None


class RecognizerStream(ABC):
    """One speaker's recognizer.  Times are seconds since the stream's first sample."""

    #: emits partial hypotheses while someone speaks
    has_partials: bool = False
    #: seconds between partials at most often (None: the Transcriber's setting)
    partial_interval: float | None = None

    def __init__(self) -> None:
        self.samples = 0  # 16 kHz samples accepted so far

    @abstractmethod
    def accept(self, pcm: bytes) -> list[RecognitionResult]:
        """Feed 16 kHz mono int16 audio of the current utterance; returns any finals."""

    def partial(self) -> RecognitionResult | None:
        """The current hypothesis of the open utterance, if the engine has one."""
        return None

    @abstractmethod
    def end_utterance(self) -> list[RecognitionResult]:
        """The voice gate closed (or the speaker was muted): finish the utterance."""

    def warm_up(self) -> None:  # noqa: B027 - optional hook
        """Spend the first-use cost before the speaker talks (optional)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free the recognizer."""


class Engine(ABC):
    """A loaded speech model.  Load once per process, then create one stream per speaker."""

    name: str = "engine"

    @classmethod
    @abstractmethod
    def load(
        cls,
        model_path: Path,
        language: str | None = None,
        workers: int = 1,
        nice: int = RECOGNITION_NICE,
    ) -> Engine:
        """Load the model.  ``workers``: how many streams may run at once; ``nice``: the
        priority of any compute threads the engine starts."""

    @abstractmethod
    def new_stream(self) -> RecognizerStream: ...


def default_workers() -> int:
    """Recognition threads: half the cores (media needs the rest), at least 1, at most 4."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


class TimeMap:
    """Maps a stream's sample position to hearing time through anchors.

    An anchor ``(sample, hearing_time)`` is recorded wherever the fed audio is not contiguous
    in hearing time (the start of each utterance, a gap, a drop); between anchors time runs
    at the sample rate.  Anchors older than what a result can still refer to are pruned.
    """

    __slots__ = ("_samples", "_times", "rate")

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        self.rate = rate
        self._samples: list[int] = []
        self._times: list[float] = []

    def __len__(self) -> int:
        return len(self._samples)

    def expected(self, sample: int) -> float | None:
        """The hearing time ``sample`` would have if it continued the last anchor."""
        if not self._samples:
            return None
        return self._times[-1] + (sample - self._samples[-1]) / self.rate

    def anchor(self, sample: int, hearing_time: float, tolerance: float = 0.002) -> None:
        """Record that stream sample ``sample`` was heard at ``hearing_time``."""
        expected = self.expected(sample)
        if expected is not None and abs(expected - hearing_time) <= tolerance:
            return
        if self._samples and self._samples[-1] == sample:
            self._times[-1] = hearing_time
            return
        self._samples.append(sample)
        self._times.append(hearing_time)

    def to_hearing(self, seconds: float) -> float:
        """Stream time (seconds since its first sample) → hearing time."""
        sample = seconds * self.rate
        if not self._samples:
            return seconds
        i = bisect.bisect_right(self._samples, sample) - 1
        i = max(i, 0)
        return self._times[i] + (sample - self._samples[i]) / self.rate

    def prune(self, before_sample: int) -> None:
        """Forget anchors no longer needed for positions at or after ``before_sample``."""
        i = bisect.bisect_right(self._samples, before_sample) - 1
        if i > 0:
            del self._samples[:i]
            del self._times[:i]


def make_engine(
    name: str,
    model_path: Path | None = None,
    language: str | None = None,
    workers: int | None = None,
    nice: int = RECOGNITION_NICE,
) -> Engine | None:
    """Check and load the configured engine: ``vosk``, ``whisper`` or ``off`` (→ None).

    Raises :class:`asr.models.ModelError` when the model is missing or broken.
    """
    from .models import ModelError, check_model, default_model

    name = name.lower()
    if name in ("off", "none", ""):
        return None
    if name not in ("vosk", "whisper"):
        raise ModelError(f"unknown speech engine {name!r} (expected vosk, whisper or off)")
    path = check_model(name, model_path or default_model(name))
    engine: type[Engine]
    if name == "vosk":
        from .vosk_engine import VoskEngine

        engine = VoskEngine
    else:
        from .whisper_engine import WhisperEngine

        engine = WhisperEngine
    try:
        return engine.load(path, language, workers or default_workers(), nice)
    except Exception as exc:  # a corrupt model file, an English-only model asked for "zh"
        raise ModelError(f"cannot load the {name} model at {path}: {exc}") from exc
