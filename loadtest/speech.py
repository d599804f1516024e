"""What the synthetic hearing says: espeak-ng sentences taking turns, and marker beeps.

The script is one cycle of turns on a 20 ms chunk grid shared by every participant of a
hearing (the judge, the plaintiff, the defendant, a witness, then the others, each in turn),
looped. A turn is: a marker beep from the speaker, 0.25 s later the speaker's sentence with
another beep every half second inside it, then 1.0 s of silence before the next turn.

Beeps are 60 ms sine bursts, a frequency per participant (2.5 kHz + 400 Hz x index, above
most of the speech energy), starting exactly on a chunk boundary, so the time the chunk
left the microphone is the beep's "mouth" time. The beep before a sentence is 0.19 s from
it, shorter than the voice gate's 0.4 s hangover, so the recognizer sees one utterance, as
it would for an "uh" before a sentence; no beep falls in a speaker's silence, so the
beeps give the recognizers no extra work of their own.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .synthetic import CHUNK, RATE, read_wav_48k

BEEP_SECONDS = 0.06
BEEP_AMPLITUDE = 0.25
LEAD_SECONDS = 0.25  # beep, then the sentence
GAP_SECONDS = 1.0  # silence after a sentence
BEEP_EVERY = 0.5  # seconds between beeps inside a sentence
SPEECH_PEAK = 0.5
_SILENCE = np.zeros(CHUNK, dtype=np.int16)

SENTENCES: dict[str, dict[str, list[str]]] = {
    "en": {
        "judge": [
            "The court is now in session. Please state your names for the record.",
            "The plaintiff may present the claim.",
            "The defendant may respond to the evidence.",
        ],
        "plaintiff": [
            "The plaintiff asks for payment of the price under the sale contract.",
            "We delivered the goods on the first of March.",
            "The invoice was sent the same week.",
        ],
        "defendant": [
            "The defendant disputes the quality of the goods.",
            "Part of the delivery arrived damaged.",
            "We asked for a discount in writing.",
        ],
        "witness": [
            "I was at the warehouse when the truck arrived.",
            "The boxes looked dry and closed.",
            "I signed the delivery note myself.",
        ],
        "other": [
            "Noted for the record.",
            "The next document is exhibit three.",
            "Please speak a little more slowly.",
        ],
    },
    "ko": {
        "judge": [
            "지금부터 재판을 시작하겠습니다. 당사자는 이름을 말씀해 주십시오.",
            "원고는 청구 취지를 진술하십시오.",
            "피고는 증거에 대하여 의견을 말씀하십시오.",
        ],
        "plaintiff": [
            "원고는 매매 계약에 따른 대금의 지급을 청구합니다.",
            "저희는 삼월 일일에 물건을 인도하였습니다.",
            "같은 주에 청구서를 보냈습니다.",
        ],
        "defendant": [
            "피고는 물건의 품질에 대하여 다툽니다.",
            "물건 일부가 파손된 채로 도착했습니다.",
            "저희는 서면으로 가격 할인을 요청했습니다.",
        ],
        "witness": [
            "트럭이 도착했을 때 저는 창고에 있었습니다.",
            "상자들은 마르고 닫혀 있었습니다.",
            "제가 직접 인수증에 서명했습니다.",
        ],
        "other": [
            "기록에 남기겠습니다.",
            "다음 서류는 증거 제삼호입니다.",
            "조금 천천히 말씀해 주십시오.",
        ],
    },
}
VOICES = {"en": "en-us", "ko": "ko"}


def beep_frequency(index: int) -> float:
    return 2500.0 + 400.0 * index


#: real recorded Mandarin (espeak-ng's is unreadable to Whisper): see tests/fixtures/zh/README.md
ZH_RECORDINGS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zh"


def make_wavs(folder: Path, language: str, roles: list[str]) -> dict[str, list[Path]]:
    """The sentences of each role as WAV files made by espeak-ng (once, at start-up); for
    ``zh`` the recorded Mandarin clips, in a different order for each role."""
    if language == "zh":
        clips = sorted(ZH_RECORDINGS.glob("*.wav"))
        if not clips:
            raise RuntimeError(f"no Mandarin recordings in {ZH_RECORDINGS}")
        return {role: clips[i % len(clips):] + clips[: i % len(clips)] for i, role in enumerate(dict.fromkeys(roles))}
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    folder.mkdir(parents=True, exist_ok=True)
    lines = SENTENCES[language]
    out: dict[str, list[Path]] = {}
    for role in dict.fromkeys(roles):
        texts = lines.get(role, lines["other"])
        paths = []
        for n, text in enumerate(texts):
            path = folder / f"{language}-{role}-{n}.wav"
            if not path.exists():
                subprocess.run(
                    [exe, "-v", VOICES[language], "-s", "165", "-w", str(path), text],
                    check=True, capture_output=True, timeout=30,
                )
            paths.append(path)
        out[role] = paths
    return out


@dataclass
class Track:
    """One participant's part of the cycle, on the chunk grid.

    `segments` are (first sample, samples) to add into the signal; `beeps` are chunk
    indices where a beep starts; `utterances` are (first chunk, last chunk) of each sentence.
    """

    index: int
    frequency: float
    segments: list[tuple[int, np.ndarray]] = field(default_factory=list)
    beeps: set[int] = field(default_factory=set)
    utterances: list[tuple[int, int]] = field(default_factory=list)
    by_chunk: dict[int, list[tuple[int, np.ndarray]]] = field(default_factory=dict)

    def index_chunks(self) -> None:
        for start, samples in self.segments:
            first, last = start // CHUNK, (start + len(samples) - 1) // CHUNK
            for c in range(first, last + 1):
                self.by_chunk.setdefault(c, []).append((start, samples))

    def chunk(self, c: int) -> np.ndarray:
        """Samples of chunk c of the cycle (int16; do not write into it)."""
        if c not in self.by_chunk:
            return _SILENCE
        acc = np.zeros(CHUNK, dtype=np.int32)
        lo = c * CHUNK
        for start, samples in self.by_chunk.get(c, ()):
            a, b = max(lo, start), min(lo + CHUNK, start + len(samples))
            acc[a - lo : b - lo] += samples[a - start : b - start]
        return np.clip(acc, -32768, 32767).astype(np.int16)


@dataclass
class Script:
    chunks: int  # cycle length in chunks
    tracks: list[Track]
    rounds: int = 1  # every participant speaks once per round

    @property
    def seconds(self) -> float:
        return self.chunks * CHUNK / RATE

    @property
    def round_seconds(self) -> float:
        """Time in which every participant speaks once, wherever one starts listening."""
        return self.seconds / self.rounds


def _beep(frequency: float) -> np.ndarray:
    n = int(BEEP_SECONDS * RATE)
    t = np.arange(n) / RATE
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.004 * RATE))
    return (BEEP_AMPLITUDE * 32767 * ramp * np.sin(2 * np.pi * frequency * t)).astype(np.int32)


def _speech(path: Path) -> np.ndarray:
    samples = read_wav_48k(path).astype(np.float64)
    nz = np.nonzero(np.abs(samples) > 64)[0]
    if len(nz):
        samples = samples[nz[0] : nz[-1] + 1]  # espeak's own lead and tail silence
    peak = float(np.abs(samples).max()) or 1.0
    return (samples * (SPEECH_PEAK * 32767 / peak)).astype(np.int32)


def build_script(roles: list[str], wavs: dict[str, list[Path]]) -> Script:
    """Turns in role order (judge, plaintiff, defendant, witness, ...), every sentence of
    every role once per cycle."""
    tracks = [Track(i, beep_frequency(i)) for i in range(len(roles))]
    speech = {role: [_speech(p) for p in paths] for role, paths in wavs.items()}
    rounds = max(len(v) for v in speech.values())
    chunk_s = CHUNK / RATE
    c = 0
    for r in range(rounds):
        for i, role in enumerate(roles):
            lines = speech[role]
            sentence = lines[r % len(lines)]
            track = tracks[i]
            beep = _beep(track.frequency)
            track.segments.append((c * CHUNK, beep))
            track.beeps.add(c)
            first = c + round(LEAD_SECONDS / chunk_s)
            track.segments.append((first * CHUNK, sentence))
            last = first + (len(sentence) - 1) // CHUNK
            track.utterances.append((first, last))
            k = first + round(BEEP_EVERY / chunk_s)
            while k + round(BEEP_SECONDS / chunk_s) < last:
                track.segments.append((k * CHUNK, beep))
                track.beeps.add(k)
                k += round(BEEP_EVERY / chunk_s)
            c = last + 1 + round(GAP_SECONDS / chunk_s)
    for track in tracks:
        track.index_chunks()
    return Script(c, tracks, rounds)
