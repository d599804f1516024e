"""Whisper (faster-whisper, CTranslate2 int8 on CPU): the record engine, and the live engine
where no Vosk model exists for the court's language.

Whisper reads a 30 s window and loses context on fragments, so a stream collects a whole
utterance (the voice gate's open span) and transcribes it when the gate closes.  A long turn
is cut at a pause once it passes ``soft_limit`` seconds, and anywhere quiet at ``hard_limit``.
While the utterance is open, :meth:`WhisperStream.partial` re-reads it (greedy, at most every
``partial_interval`` seconds, as the pipeline asks) for partial captions.
Decoding is greedy-reproducible (``temperature=0``, no conditioning on previous text);
repetition loops and echoes of the initial prompt, the known failure modes of that setting,
are dropped.  Mandarin output is converted to simplified characters (:mod:`asr.simplify`).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import zlib
from collections.abc import Iterable
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any

import numpy as np

from .engine import (
    RECOGNITION_NICE,
    SAMPLE_RATE,
    Engine,
    RecognitionResult,
    RecognizerStream,
    Word,
    call_niced,
)
from .simplify import simplifies, simplify

__all__ = ["WhisperEngine", "WhisperStream", "is_repetitive", "ZH_PROMPT"]

#: steers Mandarin output to simplified characters and punctuation
ZH_PROMPT = "以下是普通话的句子。"

_FRAME = SAMPLE_RATE // 50  # 20 ms
_REPEAT = re.compile(r"(.{1,12}?)(?:[\s,，、.。!！?？-]*\1){4,}", re.S)
_PUNCT = re.compile(r"[\W_]+", re.U)
#: what Whisper writes on a turn's trailing silence, learnt from subtitled videos (seen here:
#: "作词作作曲" after a real Mandarin sentence); a segment that is only this is dropped
_CREDITS = re.compile(r"^(?:[作词曲编]{2,}|.*(?:字幕|订阅|点赞|打赏|栏目|谢谢观看|感谢观看).*)$")


def is_repetitive(text: str) -> bool:
    """A short phrase repeated five or more times in a row, or text that compresses like a
    loop (the gzip ratio Whisper itself uses)."""
    text = text.strip()
    if not text:
        return False
    if _REPEAT.search(text):
        return True
    data = text.encode("utf-8")
    return len(data) > 24 and len(data) / len(zlib.compress(data)) > 2.4


def _frame_db(samples: np.ndarray) -> np.ndarray:
    """dBFS of each 20 ms frame of int16 or float ([-1, 1]) samples."""
    n = samples.size // _FRAME
    if n == 0:
        return np.zeros(0)
    x = samples[: n * _FRAME].astype(np.float32).reshape(n, _FRAME)
    if samples.dtype == np.int16:
        x /= 32768.0
    return 10.0 * np.log10(np.mean(x * x, axis=1) + 1e-12)


def _voice_onset(samples: np.ndarray) -> float:
    """Seconds to the first frame within 25 dB of the loud frames (Whisper tends to put the
    first word at 0.0, i.e. at the start of the gate's pre-roll)."""
    db = _frame_db(samples)
    if db.size == 0:
        return 0.0
    loud = np.flatnonzero(db >= max(float(np.percentile(db, 90)) - 25.0, -55.0))
    return float(loud[0]) * _FRAME / SAMPLE_RATE if loud.size else 0.0


class WhisperStream(RecognizerStream):
    has_partials = True
    partial_interval = 1.0  # a re-read costs a Whisper pass: about once a second
    partial_window = 10.0  # seconds: a partial reads at most the end of a long utterance

    def __init__(self, engine: WhisperEngine) -> None:
        super().__init__()
        self._engine = engine
        self._pieces: list[np.ndarray] = []
        self._buffered = 0
        self._start = 0  # stream sample where the buffered utterance starts

    def accept(self, pcm: bytes) -> list[RecognitionResult]:
        samples = np.frombuffer(pcm, dtype=np.int16)
        if self._buffered == 0:
            self._start = self.samples
        self.samples += samples.size
        self._pieces.append(samples)
        self._buffered += samples.size
        if self._buffered < self._engine.soft_limit * SAMPLE_RATE:
            return []
        audio = np.concatenate(self._pieces)
        cut = self._find_cut(audio)
        if cut is None:
            self._pieces = [audio]
            return []
        head, tail = audio[:cut], audio[cut:]
        start = self._start
        self._start += cut
        self._pieces = [tail] if tail.size else []
        self._buffered = tail.size
        return self._engine.transcribe(head, start / SAMPLE_RATE)

    def _find_cut(self, audio: np.ndarray) -> int | None:
        """A pause after ``soft_limit`` (a 100 ms run 20 dB under the loud frames), or at
        ``hard_limit`` the quietest 100 ms of the last seconds."""
        engine = self._engine
        db = _frame_db(audio)
        if db.size < 10:
            return None
        speech = float(np.percentile(db, 90))
        soft = int(engine.soft_limit * 50)
        run = 5
        quiet = db < speech - 20.0
        for i in range(max(soft, run), db.size - run + 1):
            if quiet[i : i + run].all():
                return (i + run // 2) * _FRAME
        if audio.size < engine.hard_limit * SAMPLE_RATE:
            return None
        lo = max(0, db.size - 5 * 50)
        smooth = np.convolve(db[lo:], np.ones(run) / run, mode="valid")
        return (lo + int(np.argmin(smooth)) + run // 2) * _FRAME

    def partial(self) -> RecognitionResult | None:
        """The open utterance re-read (greedy, no word times): a caption, never the record."""
        if self._buffered < SAMPLE_RATE // 2:
            return None
        audio = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        self._pieces = [audio]
        window = int(self.partial_window * SAMPLE_RATE)
        offset = max(0, audio.size - window)
        results = self._engine.transcribe(
            audio[offset:], (self._start + offset) / SAMPLE_RATE, beam_size=1, words=False
        )
        if not results:
            return None
        text = results[0].text
        end = self.samples / SAMPLE_RATE
        return RecognitionResult(text, False, self._start / SAMPLE_RATE, end, [], results[0].language)

    def end_utterance(self) -> list[RecognitionResult]:
        if not self._buffered:
            return []
        audio = np.concatenate(self._pieces) if len(self._pieces) > 1 else self._pieces[0]
        self._pieces = []
        self._buffered = 0
        return self._engine.transcribe(
            audio, self._start / SAMPLE_RATE, beam_size=self._engine.live_beam_size
        )

    def close(self) -> None:
        self._pieces = []
        self._buffered = 0


class WhisperEngine(Engine):
    name = "whisper"

    def __init__(
        self,
        model: Any,
        model_path: Path,
        language: str | None,
        *,
        initial_prompt: str | None = None,
        beam_size: int = 5,
        live_beam_size: int = 5,
        soft_limit: float = 20.0,
        hard_limit: float = 25.0,
    ) -> None:
        self.model = model
        self.model_path = model_path
        self.language = language
        self.initial_prompt = initial_prompt
        if initial_prompt is None and language == "zh":
            self.initial_prompt = ZH_PROMPT
        self.beam_size = beam_size
        self.live_beam_size = live_beam_size
        self.soft_limit = soft_limit
        self.hard_limit = hard_limit
        self._prompt_key = _PUNCT.sub("", self.initial_prompt or "")
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_path: Path,
        language: str | None = None,
        workers: int = 1,
        nice: int = RECOGNITION_NICE,
        **options: Any,
    ) -> WhisperEngine:
        """CTranslate2 computes on threads it starts here: they are started from a thread at
        ``nice`` so that they inherit it (the worker threads only wait for them)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        # It logs every pass at INFO: with partials about once a second per speaker.
        logging.getLogger("faster_whisper").setLevel(logging.WARNING)

        def build() -> Any:
            return WhisperModel(
                str(model_path),
                device="cpu",
                compute_type="int8",
                cpu_threads=1,
                num_workers=max(1, workers),
                local_files_only=True,
            )

        model = call_niced(build, nice) if nice else build()
        if not model.model.is_multilingual and language not in (None, "en"):
            raise ValueError(f"the Whisper model at {model_path} is English-only, not {language!r}")
        return cls(model, Path(model_path), language, **options)

    def new_stream(self) -> WhisperStream:
        return WhisperStream(self)

    def prompt_for(self, vocabulary: str | None) -> str | None:
        """The initial prompt with a hearing's words before it (Whisper heeds the prompt's
        words; the closing sentence still steers the script and punctuation)."""
        if not vocabulary:
            return self.initial_prompt
        stop = "。" if simplifies(self.language) else ". "
        return f"{vocabulary.rstrip('。. ')}{stop}{self.initial_prompt or ''}".strip()

    def transcribe(
        self,
        audio: np.ndarray,
        offset: float,
        *,
        beam_size: int | None = None,
        vocabulary: str | None = None,
        words: bool = True,
    ) -> list[RecognitionResult]:
        """Transcribe one utterance (16 kHz, int16 or float in [-1, 1]); times are ``offset``
        + seconds into it.  ``vocabulary``: the hearing's words, put in the prompt."""
        duration = audio.size / SAMPLE_RATE
        if duration < 0.1:
            return []
        if audio.dtype == np.int16:
            samples = audio.astype(np.float32) / 32768.0
        else:
            samples = audio.astype(np.float32)
        language = self.language
        if language is None and not self.model.model.is_multilingual:
            language = "en"
        segments, info = self.model.transcribe(
            samples,
            language=language,
            task="transcribe",
            beam_size=beam_size or self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=self.prompt_for(vocabulary),
            word_timestamps=words,
            vad_filter=False,
            without_timestamps=not words,  # a partial needs no times: a shorter decode
            max_new_tokens=min(200, int(12 * duration) + 24),
            compression_ratio_threshold=2.4,
            hallucination_silence_threshold=2.0,
        )
        vocab_key = _PUNCT.sub("", vocabulary or "")
        return self._results(
            segments, info.language, offset, offset + _voice_onset(samples), vocab_key
        )

    def _is_echo(self, key: str, vocab_key: str) -> bool:
        """Whisper repeating its prompt on noise or unreadable speech: the closing sentence
        (or a near copy), or a long stretch of the hearing's word list."""
        if self._prompt_key and (
            key in self._prompt_key or SequenceMatcher(None, key, self._prompt_key).ratio() >= 0.6
        ):
            return True
        # one name or term said is speech; a dozen characters of the list in its order is not
        return len(key) >= 12 and key in vocab_key

    def _results(
        self,
        segments: Iterable[Any],
        language: str,
        offset: float,
        onset: float,
        vocab_key: str = "",
    ) -> list[RecognitionResult]:
        words: list[Word] = []
        texts: list[str] = []
        chinese = simplifies(language)
        for segment in segments:
            text = segment.text.strip()
            if chinese:
                text = simplify(text)
            key = _PUNCT.sub("", text)
            if not key or is_repetitive(text) or segment.compression_ratio > 2.4:
                continue
            if self._is_echo(key, vocab_key) or (chinese and _CREDITS.match(key)):
                continue
            texts.append(text)
            for w in segment.words or []:
                word = simplify(w.word.strip()) if chinese else w.word.strip()
                if word:
                    end = offset + float(w.end)
                    start = min(max(offset + float(w.start), onset), end)
                    words.append(Word(word, start, end, float(w.probability)))
        if not texts:
            return []
        spaced = language not in ("zh", "ja", "th", "lo", "my", "yue")
        text = (" " if spaced else "").join(texts)
        if words:
            start, end = words[0].start, words[-1].end
        else:
            start, end = offset, offset
        return [RecognitionResult(text, True, start, end, words, language)]
