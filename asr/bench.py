"""How much speech recognition one core carries, and how late the finals come.

    python -m asr.bench [--engine vosk|whisper] [--model PATH] [--language L]

Per engine, on espeak-ng utterances (needs ``espeak-ng`` and ``sox``; nothing is downloaded):

1. **RTF**: one speaker's utterances pushed as fast as possible through a
   :class:`~asr.pipeline.Transcriber` with one worker; process CPU seconds per second of
   gated speech, after the speaker's first utterance (the recognizer's warm-up, reported
   on its own).
2. **Speakers per core**: 1/RTF, then a measured run: N = floor(1/RTF) speakers all
   talking at once (utterances back to back), paced in real time, one worker thread;
   reports dropped audio, the largest backlog and the finals' delay under that load.
3. **End of utterance → final**: one speaker in real time, utterances 1.5 s apart; the delay
   from pushing the chunk holding the last speech sample to receiving the utterance's last
   final (it includes the gate's hangover, 0.4 s by default), p50/p95.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .engine import Engine, make_engine
from .models import ModelError
from .pipeline import SpeakerResult, SpeakerStream, Transcriber

RATE = 48000
CHUNK = 960
NICE = 0  # set by --nice

ENGLISH = [
    "The hearing is now in session.",
    "Please state your name for the record.",
    "The plaintiff asks the court for damages.",
    "The defendant denies the claim.",
    "We will take a short recess.",
    "The court will now hear the first witness.",
    "Do you agree with the evidence that was shown?",
    "The parties may now make their closing statements.",
    "Thank you, your honour.",
]
KOREAN = [
    "안녕하세요 오늘 재판을 시작하겠습니다",
    "원고는 청구 취지를 말씀해 주십시오",
    "피고는 원고의 주장을 인정합니까",
    "증인은 사실대로 말하겠다고 선서하십시오",
    "다음 기일은 추후 지정하겠습니다",
    "이상으로 오늘 재판을 마치겠습니다",
    "원고 대리인은 증거를 제출하십시오",
    "피고 측 의견을 말씀해 주십시오",
    "재판장님 질문이 있습니다",
]
MANDARIN = [
    "现在开庭。",
    "请原告陈述诉讼请求。",
    "被告是否同意原告的请求。",
    "请证人如实作证。",
    "现在进行法庭调查。",
    "请双方当事人发表辩论意见。",
    "本庭宣布休庭十分钟。",
    "今天的庭审到此结束。",
    "谢谢审判长。",
]


def espeak(text: str, voice: str, folder: Path, name: str) -> np.ndarray:
    """48 kHz mono int16 speech from espeak-ng (resampled by sox)."""
    raw, wav = folder / f"{name}.raw.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(wav)], check=True)
    with wave.open(str(wav)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def speech_end(samples: np.ndarray, threshold_db: float = -45.0) -> float:
    frame = RATE // 100
    n = samples.size // frame
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    loud = np.flatnonzero(10 * np.log10(np.mean(x * x, axis=1) + 1e-12) > threshold_db)
    return (loud[-1] + 1) * frame / RATE if loud.size else 0.0


def quiet(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(round(seconds * RATE)) * 10).astype(np.int16)


@dataclass
class Timeline:
    samples: np.ndarray
    ends: list[float] = field(default_factory=list)  # stream seconds where each speech ends
    speech_seconds: float = 0.0


def timeline(utterances: list[np.ndarray], gap: float, lead: float = 1.0) -> Timeline:
    parts = [quiet(lead)]
    position = lead
    out = Timeline(np.zeros(0, dtype=np.int16))
    for i, u in enumerate(utterances):
        parts += [u, quiet(gap, i + 1)]
        out.ends.append(position + speech_end(u))
        out.speech_seconds += u.size / RATE
        position += (u.size / RATE) + gap
    out.samples = np.concatenate(parts)
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def measure_rtf(
    engine: Engine, utterances: list[np.ndarray], warm_up: np.ndarray
) -> dict[str, float]:
    """Process CPU per second of gated audio, after a first (warm-up) utterance.  (Process,
    not thread: CTranslate2 computes on threads of its own.)"""
    transcriber = Transcriber(engine, workers=1, nice=NICE)
    results: list[SpeakerResult] = []
    loop = asyncio.get_running_loop()
    speaker = transcriber.open_speaker("bench", results.append, loop)

    async def feed(tl: Timeline, t0: float) -> None:
        for i in range(0, tl.samples.size, CHUNK):
            speaker.push(tl.samples[i : i + CHUNK], t0 + i / RATE)
            if i % (CHUNK * 25) == 0:
                await asyncio.sleep(0)
        for _ in range(100_000):  # until the worker has recognised all of it
            if not transcriber.stats().speakers["bench"].busy:
                break
            await asyncio.sleep(0.005)

    first = timeline([warm_up], 1.0)
    cpu0 = time.process_time()
    await feed(first, 0.0)
    first_cpu = time.process_time() - cpu0
    warm = transcriber.stats().speakers["bench"]
    rest = timeline(utterances, 1.0)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    await feed(rest, 100.0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    done = transcriber.stats().speakers["bench"]
    await asyncio.wrap_future(speaker.close())
    transcriber.close()
    audio = done.audio_seconds - warm.audio_seconds
    return {
        "rtf": cpu / audio,
        "rtf_speech": cpu / rest.speech_seconds,
        "busy_rtf": (done.busy_seconds - warm.busy_seconds) / audio,
        "wall_rtf": wall / (rest.samples.size / RATE),
        "first_utterance_cpu": first_cpu,
        "first_utterance_seconds": warm.audio_seconds,
        "gated_seconds": audio,
    }


async def realtime_run(
    engine: Engine,
    utterances: list[np.ndarray],
    warm_up: np.ndarray,
    speakers: int,
    gap: float,
    lead: float = 1.0,
) -> dict[str, float]:
    """``speakers`` people talking at once in real time, one worker: delays, drops, backlog.

    Each speaker first says ``warm_up`` (not measured): a Vosk recognizer's first speech
    costs it about 1.5 s of extra CPU, a one-off per participant that the hearing's opening
    formalities absorb, and that would otherwise dominate a short run."""
    transcriber = Transcriber(engine, workers=1, nice=NICE)
    loop = asyncio.get_running_loop()
    tls: list[Timeline] = []
    streams: list[SpeakerStream] = []
    arrivals: list[list[tuple[float, SpeakerResult]]] = []
    for k in range(speakers):
        order = utterances[k % len(utterances) :] + utterances[: k % len(utterances)]
        tls.append(timeline(order, gap, lead + 0.13 * k))
        got: list[tuple[float, SpeakerResult]] = []
        arrivals.append(got)

        def arrived(result: SpeakerResult, got: list = got) -> None:
            got.append((loop.time(), result))

        streams.append(transcriber.open_speaker(f"s{k}", arrived, loop))
    warm = timeline([warm_up], 0.6)
    for n in range(0, warm.samples.size, CHUNK):
        for stream in streams:
            stream.push(warm.samples[n : n + CHUNK], n / RATE)
        await asyncio.sleep(0)
    for _ in range(100_000):
        if not any(s.busy for s in transcriber.stats().speakers.values()):
            break
        await asyncio.sleep(0.05)
    t0 = 1000.0  # the measured part, on its own stretch of the hearing clock
    pushed_at: list[dict[int, float]] = [{} for _ in range(speakers)]
    n_chunks = max(tl.samples.size for tl in tls) // CHUNK
    worst_backlog = 0.0
    start = loop.time()
    for n in range(n_chunks):
        for k, tl in enumerate(tls):
            i = n * CHUNK
            if i < tl.samples.size:
                streams[k].push(tl.samples[i : i + CHUNK], t0 + i / RATE)
                pushed_at[k][n] = loop.time()
        if n % 10 == 0:
            worst_backlog = max(worst_backlog, transcriber.stats().backlog_seconds)
        delay = start + (n + 1) * CHUNK / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    stats = transcriber.stats()
    await asyncio.gather(*(asyncio.wrap_future(s.close()) for s in streams))
    transcriber.close()
    delays: list[list[float]] = []
    for k, tl in enumerate(tls):
        per: list[float] = []
        finals = [(t, r) for t, r in arrivals[k] if r.final and r.text and r.start >= t0]
        for u, end in enumerate(tl.ends):
            prev_end = tl.ends[u - 1] if u else 0.0
            mine = [t for t, r in finals if t0 + prev_end + 0.3 < r.end <= t0 + end + 0.6]
            if mine:
                per.append(max(mine) - pushed_at[k][int(end * RATE) // CHUNK])
        delays.append(per)
    steady = [d for per in delays for d in per[1:]]  # without each speaker's first utterance
    return {
        "speakers": speakers,
        "seconds": n_chunks * CHUNK / RATE,
        "p50": pct(steady, 0.5),
        "p95": pct(steady, 0.95),
        "first": statistics.mean([per[0] for per in delays if per]) if any(delays) else math.nan,
        "all_p50": pct([d for per in delays for d in per], 0.5),
        "answered": sum(len(per) for per in delays) / sum(len(tl.ends) for tl in tls),
        "dropped_seconds": stats.dropped_seconds,
        "worst_backlog": worst_backlog,
    }


def load(engine_name: str, model: Path | None, language: str | None) -> Engine:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    engine = make_engine(engine_name, model, language, workers=1, nice=NICE)
    assert engine is not None
    return engine


async def bench(args: argparse.Namespace) -> int:
    engines = [args.engine] if args.engine else ["vosk", "whisper"]
    folder = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    for name in engines:
        language = args.language
        if name == "whisper" and language is None:
            language = "en"
        if name == "vosk":
            texts, voice = KOREAN, "ko"
        elif language == "zh":
            texts, voice = MANDARIN, "cmn-latn-pinyin"
        else:
            texts, voice = ENGLISH, "en-us"
        utterances = [espeak(t, voice, folder, f"{voice}-{i}") for i, t in enumerate(texts)]
        warm_up = utterances.pop()  # said once by every speaker before the measured runs
        utterances = utterances[: args.utterances]
        t0 = time.perf_counter()
        try:
            engine = load(name, args.model, language)
        except ModelError as exc:
            print(f"asr.bench: {exc}", file=sys.stderr)
            return 1
        model_path = getattr(engine, "model_path", args.model)
        print(f"== {name}  model {model_path}  language {language}  voice {voice}  nice {NICE}")
        print(f"load average         {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"load                 {time.perf_counter() - t0:.2f} s")
        mean_len = statistics.mean(u.size / RATE for u in utterances)
        print(f"utterances           {len(utterances)} x {mean_len:.1f} s (espeak-ng {voice})")
        rtf = await measure_rtf(engine, utterances, warm_up)
        print(
            f"RTF per stream       {rtf['rtf']:.3f} per second of gated audio "
            f"({rtf['rtf_speech']:.3f} per second of speech; worker busy {rtf['busy_rtf']:.3f}); "
            f"first utterance {rtf['first_utterance_cpu']:.2f} s CPU "
            f"for {rtf['first_utterance_seconds']:.1f} s"
        )
        per_core = 1.0 / rtf["rtf"]
        print(f"speakers per core    {per_core:.1f} (1/RTF, everyone talking at once)")
        n = args.speakers or max(1, min(8, math.floor(per_core)))
        load_run = await realtime_run(engine, utterances, warm_up, n, gap=0.6)
        print(
            f"measured, 1 worker   {n} speakers for {load_run['seconds']:.0f} s: "
            f"dropped {load_run['dropped_seconds']:.1f} s, worst backlog "
            f"{load_run['worst_backlog']:.1f} s, final delay p50 {load_run['p50']:.2f} s "
            f"p95 {load_run['p95']:.2f} s, {load_run['answered']:.0%} of utterances answered"
        )
        one = await realtime_run(engine, utterances, warm_up, 1, gap=1.5)
        print(
            f"end of utterance → final, 1 speaker: p50 {one['p50']:.2f} s  p95 {one['p95']:.2f} s "
            f"(first measured {one['first']:.2f} s; gate hangover 0.40 s included)"
        )
    return 0


def memory_bench(args: argparse.Namespace) -> int:
    from .bench_court import memory_run, rss_mb

    name = args.engine or "vosk"
    language = args.language or ("ko" if name == "vosk" else "zh")
    folder = Path(tempfile.mkdtemp(prefix="asr-bench-"))
    texts, voice = (KOREAN, "ko") if name == "vosk" else (MANDARIN, "cmn-latn-pinyin")
    utterances = [espeak(t, voice, folder, f"{voice}-{i}") for i, t in enumerate(texts)]
    before = rss_mb()
    engine = load(name, args.model, language)
    print(f"== memory: {name} ({language}), {args.memory:g} min of speech, recycle after "
          f"{args.recycle:g} s; RSS before load {before:.0f} MB, after {rss_mb():.0f} MB")
    t0 = time.perf_counter()
    marks = memory_run(engine, utterances, args.memory, args.recycle)
    print(f"RSS each minute of speech (MB): {' '.join(f'{m:.0f}' for m in marks)}  "
          f"({time.perf_counter() - t0:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asr.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=["vosk", "whisper"], help="default: both")
    parser.add_argument("--model", type=Path, help="model folder (default: the engine's own)")
    parser.add_argument("--language", help="Whisper language (default en; zh uses Mandarin)")
    parser.add_argument("--utterances", type=int, default=8)
    parser.add_argument("--speakers", type=int, help="speakers in the load run (default 1/RTF)")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the recognition threads (default 0: measure the engine, not the "
        "other load on the machine; the server uses 10)",
    )
    parser.add_argument("--court", metavar="LANG",
                        help="the court run: the language's default engines, live + record (asr.bench_court)")
    parser.add_argument("--cycles", type=int, default=3, help="court run: times the clips are said")
    parser.add_argument("--gap", type=float, default=2.0, help="court run: seconds between turns")
    parser.add_argument("--live-only", action="store_true", help="court run: without the record engine")
    parser.add_argument("--memory", type=float, metavar="MINUTES",
                        help="memory run: MINUTES of speech into one recognizer (--engine, --recycle)")
    parser.add_argument("--recycle", type=float, default=300.0,
                        help="memory run: renew the recognizer after this much audio (0: never)")
    args = parser.parse_args(argv)
    if args.court:
        from .bench_court import court_run

        return asyncio.run(court_run(args.court, args.cycles, args.gap, args.live_only)) or 0
    if args.memory:
        return memory_bench(args)
    global NICE
    NICE = args.nice
    if args.model and not args.engine:
        parser.error("--model needs --engine")
    return asyncio.run(bench(args))


if __name__ == "__main__":
    sys.exit(main())
