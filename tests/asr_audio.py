"""Test audio for speech recognition: espeak-ng speech at 48 kHz, silence, noise, 20 ms
chunks, speech boundaries by energy, WER, and process-wide cached engines.

Other test suites may reuse it (``import asr_audio`` from a test module in tests/).
Audio is synthesised into pytest's temporary directories; nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import subprocess
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

RATE = 48000
CHUNK = 960  # 20 ms at 48 kHz

COURT_SENTENCES = [
    "The hearing is now in session.",
    "Please state your name for the record.",
    "The plaintiff asks the court for damages.",
    "The defendant denies the claim.",
    "We will take a short recess.",
    "The court will now hear the first witness.",
]
KOREAN_SENTENCES = [
    "안녕하세요 오늘 재판을 시작하겠습니다",
    "원고는 청구 취지를 말씀해 주십시오",
]
MANDARIN_SENTENCES = [
    "现在开庭。请原告陈述诉讼请求。",
    "被告是否同意原告的请求。",
]


def espeak(text: str, path: Path, voice: str = "en-us", speed: int | None = None) -> Path:
    """Synthesise ``text`` to a 48 kHz mono 16-bit WAV at ``path`` (espeak-ng + sox)."""
    raw = path.with_suffix(".espeak.wav")
    cmd = ["espeak-ng", "-v", voice, "-w", str(raw)]
    if speed:
        cmd += ["-s", str(speed)]
    subprocess.run([*cmd, text], check=True, capture_output=True)
    subprocess.run(
        ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(path)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return path


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype(np.int16).tobytes())
    return path


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * RATE), dtype=np.int16)


def noise(seconds: float, level_db: float = -60.0, seed: int = 0) -> np.ndarray:
    """White noise at ``level_db`` dBFS (RMS)."""
    rng = np.random.default_rng(seed)
    amplitude = 32768.0 * 10 ** (level_db / 20)
    return np.clip(rng.standard_normal(round(seconds * RATE)) * amplitude, -32768, 32767).astype(
        np.int16
    )


def speech_bounds(samples: np.ndarray, threshold_db: float = -45.0) -> tuple[float, float]:
    """(first, last) second where 10 ms frames are louder than ``threshold_db`` dBFS."""
    frame = RATE // 100
    n = samples.size // frame
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    db = 10 * np.log10(np.mean(x * x, axis=1) + 1e-12)
    loud = np.flatnonzero(db > threshold_db)
    assert loud.size, "no speech in these samples"
    return loud[0] * frame / RATE, (loud[-1] + 1) * frame / RATE


def chunks(samples: np.ndarray, t0: float = 0.0) -> Iterator[tuple[np.ndarray, float]]:
    """20 ms chunks (the last one padded) with the hearing time of their first sample."""
    for i in range(0, samples.size, CHUNK):
        chunk = samples[i : i + CHUNK]
        if chunk.size < CHUNK:
            chunk = np.concatenate([chunk, np.zeros(CHUNK - chunk.size, dtype=np.int16)])
        yield chunk, t0 + i / RATE


def words_of(text: str) -> list[str]:
    text = text.lower().replace("-", " ")
    return re.sub(r"[^a-z0-9' ]", " ", text).split()


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = words_of(reference), words_of(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1] / max(1, len(ref))


class Corpus:
    """Espeak utterances synthesised once into a directory."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self._cache: dict[tuple[str, str], Path] = {}

    def wav(self, text: str, voice: str = "en-us") -> Path:
        key = (text, voice)
        if key not in self._cache:
            name = f"{voice}-{len(self._cache):02d}.wav"
            self._cache[key] = espeak(text, self.folder / name, voice)
        return self._cache[key]

    def samples(self, text: str, voice: str = "en-us") -> np.ndarray:
        return read_wav(self.wav(text, voice))


_corpus: Corpus | None = None


def corpus(tmp_path_factory) -> Corpus:
    """The session's corpus (call from a session-scoped fixture with ``tmp_path_factory``)."""
    global _corpus
    if _corpus is None:
        _corpus = Corpus(tmp_path_factory.mktemp("asr-audio"))
    return _corpus


def timeline(
    parts: list[np.ndarray | float], quiet_db: float = -70.0
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Join speech arrays and pauses (float seconds, faint noise) into one stream.

    Returns the samples and, per speech part, its (start, end) seconds measured by energy.
    """
    out: list[np.ndarray] = []
    bounds: list[tuple[float, float]] = []
    position = 0
    for i, part in enumerate(parts):
        if isinstance(part, float | int):
            piece = noise(float(part), quiet_db, seed=i)
        else:
            piece = part
            s, e = speech_bounds(piece)
            bounds.append((position / RATE + s, position / RATE + e))
        out.append(piece)
        position += piece.size
    return np.concatenate(out), bounds


async def transcribe_live(
    transcriber,
    samples: np.ndarray,
    t0: float = 0.0,
    participant_id: str = "p1",
    realtime: float = 0.0,
) -> list:
    """Push ``samples`` through a speaker stream in 20 ms chunks and return every result.

    ``realtime`` = 0 pushes as fast as the loop allows; 1.0 paces at real time.
    """
    results: list = []
    loop = asyncio.get_running_loop()
    speaker = transcriber.open_speaker(participant_id, results.append, loop)
    start = loop.time()
    for n, (chunk, t) in enumerate(chunks(samples, t0)):
        speaker.push(chunk, t)
        if realtime:
            delay = start + (n + 1) * 0.02 / realtime - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        elif n % 50 == 0:
            await asyncio.sleep(0)
    await asyncio.wait_for(asyncio.wrap_future(speaker.close()), 120)
    return results


@functools.cache
def vosk_engine():
    from asr.engine import make_engine

    return make_engine("vosk")


@functools.cache
def whisper_tiny_engine():
    from asr.models import whisper_tiny_en
    from asr.whisper_engine import WhisperEngine

    return WhisperEngine.load(whisper_tiny_en(), "en", workers=1)


@functools.cache
def whisper_base_engine(language: str | None = "zh"):
    from asr.models import whisper_base
    from asr.whisper_engine import WhisperEngine

    return WhisperEngine.load(whisper_base(), language, workers=1)
