"""Vosk (Kaldi) streaming recognition: partial hypotheses while someone speaks, finals with
word times at each endpoint and whenever the voice gate closes.

The model (~530 MB, 3.3 s to load) is loaded once and shared; each speaker keeps one
``KaldiRecognizer`` for the whole session, because a new recognizer spends about two seconds
of CPU warming up on its first speech.  Vosk's word times count every sample the recognizer
has accepted since it was created, across ``FinalResult()`` calls, which is exactly the
stream sample counter of :class:`asr.engine.RecognizerStream`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import vosk

from .engine import RECOGNITION_NICE, SAMPLE_RATE, Engine, RecognitionResult, RecognizerStream, Word
from .simplify import simplifies, simplify

__all__ = ["VoskEngine", "VoskStream"]

_PIECE = SAMPLE_RATE // 5 * 2  # feed 200 ms at a time so endpoints are found promptly


def _words(items: list[dict[str, Any]]) -> list[Word]:
    return [
        Word(str(w["word"]), float(w["start"]), float(w["end"]), float(w.get("conf", 1.0)))
        for w in items
        if "start" in w and "end" in w
    ]


class VoskStream(RecognizerStream):
    has_partials = True

    def __init__(self, engine: VoskEngine) -> None:
        super().__init__()
        self._engine = engine
        self._rec = vosk.KaldiRecognizer(engine.model, SAMPLE_RATE)
        self._rec.SetWords(True)
        self._rec.SetPartialWords(True)
        self._dirty = False  # audio accepted since the last final

    def _result(self, raw: str, final: bool) -> RecognitionResult | None:
        data = json.loads(raw)
        text = str(data.get("text" if final else "partial", "")).strip()
        words = _words(data.get("result" if final else "partial_result", []) or [])
        if not text:
            return None
        if simplifies(self._engine.language):  # vosk-model-cn writes simplified; others may not
            text = simplify(text)
            words = [Word(simplify(w.word), w.start, w.end, w.conf) for w in words]
        if words:
            start, end = words[0].start, words[-1].end
        else:
            end = self.samples / SAMPLE_RATE
            start = end
        return RecognitionResult(text, final, start, end, words, self._engine.language)

    def accept(self, pcm: bytes) -> list[RecognitionResult]:
        results: list[RecognitionResult] = []
        for i in range(0, len(pcm), _PIECE):
            piece = pcm[i : i + _PIECE]
            self.samples += len(piece) // 2
            self._dirty = True
            if self._rec.AcceptWaveform(piece):
                self._dirty = False
                result = self._result(self._rec.Result(), final=True)
                if result is not None:
                    results.append(result)
        return results

    def partial(self) -> RecognitionResult | None:
        if not self._dirty:
            return None
        return self._result(self._rec.PartialResult(), final=False)

    def end_utterance(self) -> list[RecognitionResult]:
        if not self._dirty:
            return []
        self._dirty = False
        result = self._result(self._rec.FinalResult(), final=True)
        return [result] if result is not None else []

    def warm_up(self) -> None:
        """Half a second of faint noise: takes about a third off the first utterance's cost."""
        rng = np.random.default_rng(0)
        noise = (rng.standard_normal(SAMPLE_RATE // 2) * 300).astype(np.int16).tobytes()
        self.accept(noise)
        self._dirty = False
        self._rec.FinalResult()

    def close(self) -> None:
        self._rec = None


class VoskEngine(Engine):
    name = "vosk"

    def __init__(self, model: vosk.Model, model_path: Path, language: str | None) -> None:
        self.model = model
        self.model_path = model_path
        self.language = language
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        model_path: Path,
        language: str | None = None,
        workers: int = 1,
        nice: int = RECOGNITION_NICE,
    ) -> VoskEngine:
        """Vosk decodes on the calling (worker) thread, so ``nice`` is the Transcriber's."""
        vosk.SetLogLevel(-1)
        return cls(vosk.Model(str(model_path)), Path(model_path), language)

    def new_stream(self) -> VoskStream:
        with self._lock:
            return VoskStream(self)
