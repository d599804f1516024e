"""The live pipeline with real models: hearing-clock times and attribution (Vosk), accuracy
live vs offline (Whisper tiny.en), back-pressure, and utterance flushing."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from asr_audio import (
    COURT_SENTENCES,
    KOREAN_SENTENCES,
    chunks,
    corpus,
    timeline,
    transcribe_live,
    vosk_engine,
    wer,
    whisper_tiny_engine,
)
from faster_whisper import decode_audio

from asr.pipeline import OverloadReport, SpeakerResult, Transcriber


@pytest.fixture(scope="session")
def audio(tmp_path_factory):
    return corpus(tmp_path_factory)


def assert_on_speech(finals: list[SpeakerResult], bounds: list[tuple[float, float]], t0: float):
    """Every final lies on one utterance, and each utterance's finals start and end within
    0.5 s of where the speech really is."""
    spans: dict[int, list[SpeakerResult]] = {}
    for r in finals:
        k = next(
            (
                i
                for i, (s, e) in enumerate(bounds)
                if t0 + s - 0.5 <= r.start and r.end <= t0 + e + 0.5
            ),
            None,
        )
        assert k is not None, f"final {r.text!r} at {r.start:.2f}-{r.end:.2f} is on no speech"
        spans.setdefault(k, []).append(r)
        for w in r.words:
            assert r.start - 1e-6 <= w.start <= w.end <= r.end + 1e-6
    for k, rs in spans.items():
        s, e = bounds[k]
        assert abs(min(r.start for r in rs) - (t0 + s)) < 0.5
        assert abs(max(r.end for r in rs) - (t0 + e)) < 0.5
    return spans


async def test_vosk_finals_land_on_the_hearing_clock_and_carry_the_speaker(audio):
    """Korean espeak through the Korean model: the words are nonsense, the times are not."""
    s1, s2 = (audio.samples(text, "ko") for text in KOREAN_SENTENCES)
    alice, alice_bounds = timeline([2.0, s1, 1.5, s2, 1.0])
    bob, bob_bounds = timeline([4.0, audio.samples(COURT_SENTENCES[3]), 3.0])
    transcriber = Transcriber(vosk_engine(), workers=1)
    try:
        t0 = 100.0
        alice_results, bob_results = await asyncio.gather(
            transcribe_live(transcriber, alice, t0, "alice"),
            transcribe_live(transcriber, bob, t0 + 3.0, "bob"),
        )
    finally:
        transcriber.close()
    assert {r.participant_id for r in alice_results} == {"alice"}
    assert {r.participant_id for r in bob_results} == {"bob"}
    alice_finals = [r for r in alice_results if r.final and r.words]
    assert len(alice_finals) >= 1
    spans = assert_on_speech(alice_finals, alice_bounds, t0)
    assert len(spans) == 2, "each Korean utterance gave words"
    assert_on_speech([r for r in bob_results if r.final and r.words], bob_bounds, t0 + 3.0)
    assert transcriber.stats().dropped_seconds == 0


async def test_whisper_live_is_as_good_as_offline(audio):
    """English court sentences through 20 ms chunks, the gate and the resampler vs the same
    engine reading each WAV from disk.  The numbers are in docs/asr.md."""
    engine = whisper_tiny_engine()
    parts: list = [1.0]
    for sentence in COURT_SENTENCES:
        parts += [audio.samples(sentence), 1.2]
    samples, bounds = timeline(parts)
    transcriber = Transcriber(engine, workers=1)
    try:
        results = await transcribe_live(transcriber, samples, 50.0, "clerk")
    finally:
        transcriber.close()
    finals = [r for r in results if r.final]
    assert all(r.participant_id == "clerk" for r in results)
    assert len(finals) == len(COURT_SENTENCES)  # one final per turn, no partials
    assert_on_speech(finals, bounds, 50.0)
    reference = " ".join(COURT_SENTENCES)
    live = wer(reference, " ".join(r.text for r in finals))
    offline_text = []
    for sentence in COURT_SENTENCES:
        wav = decode_audio(str(audio.wav(sentence)), sampling_rate=16000)
        offline_text += [r.text for r in engine.transcribe(wav, 0.0)]
    offline = wer(reference, " ".join(offline_text))
    print(f"tiny.en WER live {live:.3f} offline {offline:.3f}")
    assert live < 0.5
    assert live <= offline + 0.1


async def test_overload_drops_the_oldest_audio_reports_it_and_catches_up(audio):
    engine = whisper_tiny_engine()
    reports: list[OverloadReport] = []
    bound = 1.0
    transcriber = Transcriber(
        engine, workers=1, max_backlog=bound, on_overload=reports.append, recover_after=0.5
    )
    results: list[SpeakerResult] = []
    loop = asyncio.get_running_loop()
    speaker = transcriber.open_speaker("talker", results.append, loop)
    try:
        parts: list = [0.5]
        for sentence in COURT_SENTENCES[:4]:
            parts += [audio.samples(sentence), 0.6]
        burst, _ = timeline(parts)
        worst = 0.0
        for chunk, t in chunks(burst, 0.0):  # far faster than anyone speaks
            speaker.push(chunk, t)
            worst = max(worst, transcriber.stats().backlog_seconds)
        assert worst <= bound + 0.02, "the backlog is bounded"
        stats = transcriber.stats()
        assert stats.overloaded and stats.speakers["talker"].overloaded
        assert stats.dropped_seconds > 1.0
        for _ in range(600):  # it catches up
            await asyncio.sleep(0.05)
            stats = transcriber.stats()
            if not stats.overloaded and not stats.speakers["talker"].busy:
                break
        assert not transcriber.stats().overloaded
        await asyncio.sleep(0)
        assert reports and reports[0].overloaded and reports[0].participant_id == "talker"
        assert not reports[-1].overloaded
        episodes = len(reports)
        # later audio is still recognised, in full
        later = COURT_SENTENCES[4]
        tail, bounds = timeline([1.0, audio.samples(later), 1.0])
        tail_start = burst.size / 48000 + 0.5
        for chunk, t in chunks(tail, tail_start):  # at twice the speed of speech
            speaker.push(chunk, t)
            await asyncio.sleep(0.01)
        await asyncio.wait_for(asyncio.wrap_future(speaker.close()), 60)
    finally:
        transcriber.close()
    last = [r for r in results if r.final and r.start >= tail_start]
    assert last and wer(later, " ".join(r.text for r in last)) < 0.5
    assert abs(last[0].start - (tail_start + bounds[0][0])) < 0.5
    assert len(reports) == episodes, "no new overload at the speed of speech"
    assert transcriber.stats().speakers == {}  # a closed speaker is forgotten


async def test_reset_and_close_flush_the_open_utterance(audio):
    engine = whisper_tiny_engine()
    transcriber = Transcriber(engine, workers=1)
    results: list[SpeakerResult] = []
    speaker = transcriber.open_speaker("judge", results.append, asyncio.get_running_loop())
    try:
        first = audio.samples("The hearing is now in session.")
        second = audio.samples("The witness may step down.")
        samples, _ = timeline([0.5, first])
        for chunk, t in chunks(samples, 0.0):  # muted right after the last word: no hangover
            speaker.push(chunk, t)
        speaker.reset()
        samples2, _ = timeline([0.5, second])
        for chunk, t in chunks(samples2, 20.0):  # and cut off mid-sentence by leaving
            speaker.push(chunk, t)
        future = speaker.close()
        speaker.push(np.zeros(960, dtype=np.int16), 30.0)  # ignored after close
        await asyncio.wait_for(asyncio.wrap_future(future), 60)
    finally:
        transcriber.close()
    finals = [r for r in results if r.final]
    assert len(finals) == 2
    assert finals[0].end < 20.0 <= finals[1].start
    assert wer("The hearing is now in session.", finals[0].text) < 0.5
