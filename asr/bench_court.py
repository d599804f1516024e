"""Two engines, one record, measured: ``python -m asr.bench --court zh`` (or ``--memory``).

**Court run** (``--court LANG``): the engines the court's language gets by default
(:func:`asr.plan.plan_speech`), one speaker in real time saying real recorded turns (for
``zh`` the Mandarin clips in ``tests/fixtures/zh``; other languages espeak-ng) with
``--gap`` seconds between turns, the hearing's words in the record engine's prompt.  Reports
CPU per second of speech of the live engine (finals + partials) and of the record pass,
the first partial after speech onset, the live final and the record reading after the end of
speech (p50/p95), and what the hearing's words change (plain prompt vs hearing prompt, CER).

**Memory run** (``--memory MINUTES``): one speaker's recognizer fed MINUTES of speech as fast
as it goes, RSS sampled each minute of speech, with and without recycling.
"""

from __future__ import annotations

import asyncio
import os
import resource
import statistics
import time
import wave
from pathlib import Path

import numpy as np

from .bench import CHUNK, RATE, pct, quiet, speech_end
from .engine import Engine
from .pipeline import SpeakerResult, Transcriber
from .plan import load_plan, plan_speech
from .record_pass import RecordReader
from .resample import Resampler

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "zh"
#: the clips and what they say (tests/fixtures/zh/README.md)
ZH_CLIPS = {
    "aishell-BAC009S0724W0121.wav": "广州市房地产中介协会分析",
    "wenet-mid.wav": "大学生利用漏洞免费吃肯德基获刑",
    "wenet-long.wav": "富士康在印度工厂出现大规模感染目前工厂产量已下降超百分之五十",
}
#: the hearing's words for the run: a party named like the association, the court's words
ZH_HEARING = "王法官、张三、广州市房地产中介协会、审判长、原告、被告、诉讼请求、举证、质证、本院、获刑"


def read_16k(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def to_48k(samples16: np.ndarray) -> np.ndarray:
    """16 → 48 kHz by PyAV (the pipeline resamples back)."""
    import av

    frame = av.AudioFrame.from_ndarray(samples16.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = 16000
    res = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    out = [f.to_ndarray().reshape(-1) for f in res.resample(frame)]
    out += [f.to_ndarray().reshape(-1) for f in res.resample(None)]
    return np.concatenate(out).astype(np.int16)


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate over Chinese characters and digits (punctuation ignored)."""
    keep = [c for c in hypothesis if c.isalnum()]
    ref = [c for c in reference if c.isalnum()]
    row = list(range(len(keep) + 1))
    for i, r in enumerate(ref, 1):
        prev, row = row, [i] + [0] * len(keep)
        for j, h in enumerate(keep, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (r != h))
    return row[-1] / max(1, len(ref))


async def court_run(language: str, cycles: int, gap: float, live_only: bool = False) -> None:
    plan = plan_speech(language)
    assert plan is not None
    t0 = time.perf_counter()
    live, record = load_plan(plan, workers=1, nice=0)
    print(f"== court language {language}: live {plan.live_engine} {plan.live_model}, "
          f"record {plan.record_model}  (load {time.perf_counter() - t0:.1f} s)")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (shared machine)")
    clips = [(read_16k(FIXTURES / name), text) for name, text in ZH_CLIPS.items()]
    if record is not None:
        plain, heard = [], []
        record_cpu = 0.0
        for audio, text in clips:
            p = "".join(r.text for r in record.transcribe(audio, 0.0))
            cpu0 = time.process_time()
            h = "".join(r.text for r in record.transcribe(audio, 0.0, vocabulary=ZH_HEARING))
            record_cpu += time.process_time() - cpu0
            plain.append(cer(text, p))
            heard.append(cer(text, h))
            print(f"  {text}\n    plain prompt   {p}  (CER {plain[-1]:.2f})\n"
                  f"    hearing words  {h}  (CER {heard[-1]:.2f})")
        print(f"record engine CER, whole clips: plain prompt {statistics.mean(plain):.3f}, "
              f"with the hearing's words {statistics.mean(heard):.3f}")
        clip_seconds = sum(a.size for a, _ in clips) / 16000
        print(f"record pass CPU (beam 5, the hearing's words): {record_cpu / clip_seconds:.2f} s per second "
              f"of speech ({record_cpu / len(clips):.2f} s per turn of {clip_seconds / len(clips):.1f} s)")
    if live_only:
        record = None
        print("-- live engine alone (no record pass) --")
    reader = RecordReader(record, nice=0) if record is not None else None
    transcriber = Transcriber(live, workers=1, nice=0, record=reader)
    loop = asyncio.get_running_loop()
    arrivals: list[tuple[float, SpeakerResult]] = []
    speaker = transcriber.open_speaker("bench", lambda r: arrivals.append((loop.time(), r)), loop)
    speaker.vocabulary = ZH_HEARING
    # the timeline: lead, then (clip, gap) x cycles; onsets/ends in stream seconds
    parts = [quiet(1.0)]
    spans: list[tuple[float, float, str]] = []
    position = 1.0
    for c in range(cycles):
        for k, (audio, text) in enumerate(clips):
            s48 = to_48k(audio)
            onset = position + _speech_start(s48)
            spans.append((onset, position + speech_end(s48), text))
            parts += [s48, quiet(gap, c * 10 + k)]
            position += s48.size / RATE + gap
    samples = np.concatenate(parts)
    await asyncio.sleep(2.0)  # the recognizer is created before the speech
    cpu0 = time.process_time()
    start = loop.time()
    pushed: dict[int, float] = {}
    for n in range(samples.size // CHUNK):
        speaker.push(samples[n * CHUNK : (n + 1) * CHUNK], n * CHUNK / RATE)
        pushed[n] = loop.time()
        delay = start + (n + 1) * CHUNK / RATE - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.wrap_future(speaker.close())
    if reader is not None:
        await asyncio.to_thread(reader.wait_idle, 300)
    await asyncio.sleep(0.1)
    cpu = time.process_time() - cpu0
    stats = transcriber.stats()
    transcriber.close()
    speech = sum(e - s for s, e, _ in spans)
    live_busy = speaker.stats().busy_seconds
    record_busy = reader.busy_seconds if reader is not None else 0.0
    first_partial, live_final, record_final, live_cer, record_cer = [], [], [], [], []
    for onset, end, text in spans:
        def at(t: float) -> float:
            return pushed[min(int(t * RATE) // CHUNK, len(pushed) - 1)]

        mine = [(t, r) for t, r in arrivals if onset - 0.6 <= r.start <= end]
        partials = [t for t, r in mine if not r.final]
        finals = [(t, r) for t, r in mine if r.final and r.source == "live"]
        readings = [(t, r) for t, r in mine if r.source == "record"]
        if partials:
            first_partial.append(min(partials) - at(onset))
        if finals:
            live_final.append(max(t for t, _ in finals) - at(end))
            live_cer.append(cer(text, "".join(r.text for _, r in finals)))
        if readings:
            record_final.append(max(t for t, _ in readings) - at(end))
            record_cer.append(cer(text, "".join(r.text for _, r in readings)))
    print(f"turns {len(spans)} ({speech:.0f} s of speech, {gap:.1f} s between turns), "
          f"dropped {stats.dropped_seconds:.1f} s")
    print(f"process CPU per second of speech: {cpu / speech:.2f} s "
          f"({'live engine only: finals + partials' if reader is None else 'live engine + record pass'}); "
          f"worker wall time: live {live_busy / speech:.2f}, record {record_busy / speech:.2f}")
    print(f"first partial after speech onset   p50 {pct(first_partial, .5):.2f} s  p95 {pct(first_partial, .95):.2f} s"
          f"  ({len(first_partial)}/{len(spans)} turns)")
    print(f"live final after end of speech     p50 {pct(live_final, .5):.2f} s  p95 {pct(live_final, .95):.2f} s"
          f"  ({len(live_final)}/{len(spans)})")
    print(f"record reading after end of speech p50 {pct(record_final, .5):.2f} s  p95 {pct(record_final, .95):.2f} s"
          f"  ({len(record_final)}/{len(spans)})")
    if live_cer:
        print(f"CER through the live path: captions {statistics.mean(live_cer):.3f}, "
              f"record {statistics.mean(record_cer) if record_cer else float('nan'):.3f}")


def _speech_start(samples: np.ndarray, threshold_db: float = -45.0) -> float:
    frame = RATE // 100
    n = samples.size // frame
    x = samples[: n * frame].astype(np.float64).reshape(n, frame) / 32768.0
    loud = np.flatnonzero(10 * np.log10(np.mean(x * x, axis=1) + 1e-12) > threshold_db)
    return loud[0] * frame / RATE if loud.size else 0.0


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


def memory_run(engine: Engine, utterances: list[np.ndarray], minutes: float, recycle: float) -> list[float]:
    """Feed one recognizer ``minutes`` of speech straight (no pipeline thread: the stream's
    own memory), recycling it like the pipeline does at pauses; RSS after each minute."""
    stream = engine.new_stream()
    stream.warm_up()
    samples = 0
    marks: list[float] = [rss_mb()]
    next_mark = 60 * 16000
    i = 0
    while samples < minutes * 60 * 16000:
        res = Resampler(RATE)
        pcm = np.concatenate([res.push(utterances[i % len(utterances)]), res.flush()])
        i += 1
        stream.accept(pcm.tobytes())
        stream.end_utterance()
        samples += pcm.size
        if recycle and stream.samples >= recycle * 16000:
            stream.close()
            stream = engine.new_stream()
            stream.warm_up()
        if samples >= next_mark:
            marks.append(rss_mb())
            next_mark += 60 * 16000
    stream.close()
    return marks
