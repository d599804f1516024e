"""The live hearing record through real peers: attribution, hearing-time alignment, accuracy."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from asr.models import whisper_tiny_en
from asr.resample import Resampler
from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack, WavTrack
from tests.asr_audio import RATE, Corpus, timeline, wer, write_wav
from tests.media_helpers import LOOPBACK_MEDIA, eventually

SCRIPT = [
    "The hearing is now in session.",
    "The plaintiff asks the court to order payment of the contract price.",
    "The defendant says the goods were delivered late.",
]


@pytest.fixture(scope="module")
def speech_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("live-speech")


async def run_hearing(server, api, wav_path, seconds: float):
    """A judge (silent) and a plaintiff who speaks `wav_path`; returns the finals the judge saw."""
    hearing, (judge_p, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    judge = Participant(server.url, judge_p["token"], ToneTrack(0.0), PatternTrack(160, 90, 10))
    mic = WavTrack(wav_path)
    plaintiff = Participant(server.url, plaintiff_p["token"], mic, PatternTrack(160, 90, 10))
    try:
        await judge.connect()
        await judge.act("open")
        await plaintiff.connect()
        await judge.act("admit", plaintiff_p["id"])
        await judge.act("start")
        state = await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        opened_at = state["hearing"]["opened_at"]
        await judge.start_media()
        await plaintiff.start_media()
        assert await eventually(lambda: mic.started_at is not None, 10)
        await asyncio.sleep(seconds)
        finals = [m["segment"] for m in judge.messages if m["type"] == "transcript" and m["segment"]["final"]]
        partials = [m["segment"] for m in judge.messages if m["type"] == "transcript" and not m["segment"]["final"]]
        # Hearing time of the microphone's first sample: same machine, same wall clock.
        assert mic.started_at is not None
        mic_start = time.time() - opened_at - (time.monotonic() - mic.started_at)
        return hearing, plaintiff_p, finals, partials, mic_start
    finally:
        await judge.close()
        await plaintiff.close()


async def test_vosk_segments_are_attributed_and_on_the_hearing_clock(server_factory, api_factory, speech_dir):
    corpus = Corpus(speech_dir / "vosk")
    samples, bounds = timeline([2.0, corpus.samples(SCRIPT[0]), 1.5, corpus.samples(SCRIPT[1]), 2.5])
    wav = write_wav(speech_dir / "vosk.wav", samples)
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", asr_engine="vosk")
    api = api_factory(server)
    hearing, plaintiff, finals, partials, mic_start = await run_hearing(server, api, wav, samples.size / RATE + 6)
    assert finals, "no final segment came back"
    true_spans = [(mic_start + a, mic_start + b) for a, b in bounds]
    for seg in finals:
        assert seg["speaker"] == plaintiff["id"] and seg["role"] == "plaintiff" and seg["name"] == "张三"
        # Each final lines up with a real stretch of speech, on the hearing clock.
        best = min(true_spans, key=lambda s: abs(s[0] - seg["start"]))
        assert abs(seg["start"] - best[0]) < 0.5, (seg, best)
        assert abs(seg["end"] - best[1]) < 0.5, (seg, best)
    print("vosk finals vs speech:", [(round(s["start"], 2), round(s["end"], 2)) for s in finals], [(round(a, 2), round(b, 2)) for a, b in true_spans])
    # The record holds them, attributed.
    stored = (await api.request("GET", f"/api/hearings/{hearing['id']}/transcript?format=json", api.admin_key)).json
    assert len(stored["segments"]) == len(finals)


async def test_whisper_live_path_is_as_accurate_as_reading_the_file(server_factory, api_factory, speech_dir):
    corpus = Corpus(speech_dir / "whisper")
    parts: list = [1.0]
    for sentence in SCRIPT:
        parts += [corpus.samples(sentence), 1.2]
    samples, _ = timeline(parts)
    wav = write_wav(speech_dir / "whisper.wav", samples)
    model = whisper_tiny_en()
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10",
                                  "--asr-model", str(model), asr_engine="whisper")
    api = api_factory(server)
    _, plaintiff, finals, _, _ = await run_hearing(server, api, wav, samples.size / RATE + 8)
    live_text = " ".join(s["text"] for s in sorted(finals, key=lambda s: s["start"]))
    reference = " ".join(SCRIPT)
    live_wer = wer(reference, live_text)

    from asr.whisper_engine import WhisperEngine

    # The same engine reading each utterance straight from the WAV, resampled the same way.
    engine = await asyncio.to_thread(WhisperEngine.load, model, None, 1)
    offline: list[str] = []
    for sentence in SCRIPT:
        resampler = Resampler(RATE)
        sixteen = np.concatenate([resampler.push(corpus.samples(sentence)), resampler.flush()])
        results = await asyncio.to_thread(engine.transcribe, sixteen, 0.0)
        offline += [r.text for r in results]
    offline_wer = wer(reference, " ".join(offline))
    print(f"whisper tiny.en WER: live {live_wer:.3f} offline {offline_wer:.3f} ({len(finals)} finals)")
    assert all(s["speaker"] == plaintiff["id"] for s in finals)
    assert offline_wer < 0.5 and live_wer < 0.5
    assert live_wer <= offline_wer + 0.1, (live_text, offline)
