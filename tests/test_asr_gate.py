"""The voice gate and the resampler: pure numpy and PyAV, no models."""

from __future__ import annotations

import numpy as np
import pytest
from asr_audio import CHUNK, RATE, chunks, corpus, noise, silence, speech_bounds, timeline

from asr.gate import GateConfig, VoiceGate
from asr.resample import Resampler


@pytest.fixture(scope="session")
def audio(tmp_path_factory):
    return corpus(tmp_path_factory)


def run_gate(samples: np.ndarray, t0: float = 0.0, config: GateConfig | None = None):
    gate = VoiceGate(config)
    events = []
    for chunk, t in chunks(samples, t0):
        events += [(t, e) for e in gate.process(chunk, t)]
    return gate, events


@pytest.mark.parametrize(
    "samples",
    [
        silence(5.0),
        noise(5.0, -70.0),
        noise(5.0, -30.0),  # a loud steady fan from the first chunk on
        (np.sin(np.arange(5 * RATE) * 2 * np.pi * 50 / RATE) * 3000).astype(np.int16),  # mains hum
    ],
    ids=["digital-silence", "faint-noise", "loud-steady-noise", "hum"],
)
def test_silence_and_steady_noise_keep_the_gate_closed(samples):
    gate, events = run_gate(samples)
    assert events == []
    assert not gate.is_open


def test_speech_opens_with_preroll_and_closes_after_hangover(audio):
    speech = audio.samples("The hearing is now in session.")
    samples, [(start, end)] = timeline([1.0, speech, 2.0])
    t0 = 100.0
    config = GateConfig()
    gate, events = run_gate(samples, t0, config)
    kinds = [e.kind for _, e in events]
    assert kinds[0] == "opened" and kinds.count("opened") == 1 and kinds.count("closed") == 1
    opened = events[0][1]
    # the first chunk sent is at least the pre-roll before the onset, the chunks are contiguous
    first_time = opened.chunks[0][1]
    assert t0 + start - first_time >= config.preroll - 0.03
    assert t0 + start - first_time <= config.preroll + config.attack + 0.1
    times = [t for _, t in opened.chunks]
    assert np.allclose(np.diff(times), CHUNK / RATE)
    # opened promptly, closed one hangover (plus a chunk or two) after the speech ends
    assert events[0][0] - (t0 + start) <= config.attack + 0.06
    closed_at = next(t for t, e in events if e.kind == "closed") + CHUNK / RATE
    assert config.hangover - 0.03 <= closed_at - (t0 + end) <= config.hangover + 0.25
    # every chunk between opening and closing was passed on, once
    sent = [c for _, e in events for c, _ in e.chunks]
    assert sum(c.size for c in sent) / RATE == pytest.approx(
        closed_at - first_time, abs=CHUNK / RATE
    )


def test_speech_over_steady_noise_opens_and_the_noise_alone_closes_again(audio):
    speech = audio.samples("Please state your name for the record.")
    bed = noise(9.0, -40.0, seed=3)
    samples = bed.copy()
    start = 3 * RATE
    samples[start : start + speech.size] = np.clip(
        bed[start : start + speech.size].astype(np.int32) + speech, -32768, 32767
    )
    _, speech_end = speech_bounds(speech)
    gate, events = run_gate(samples)
    kinds = [e.kind for _, e in events]
    assert kinds.count("opened") == 1 and kinds.count("closed") == 1
    assert abs(events[0][0] - 3.0) < 0.5
    closed_at = next(t for t, e in events if e.kind == "closed")
    assert closed_at < 3.0 + speech_end + 1.0


def test_a_sudden_louder_noise_closes_within_the_floor_window():
    samples = np.concatenate([noise(2.0, -65.0), noise(8.0, -30.0, seed=1)])
    config = GateConfig()
    gate, events = run_gate(samples, config=config)
    assert not gate.is_open
    closed = [t for t, e in events if e.kind == "closed"]
    assert len(closed) <= 1
    if closed:
        assert closed[0] < 2.0 + config.floor_window + config.hangover + 0.6


def test_gate_close_ends_an_open_utterance(audio):
    speech = audio.samples("The witness may step down.")
    samples, _ = timeline([0.5, speech])
    gate = VoiceGate()
    for chunk, t in chunks(samples[: samples.size // 2]):
        gate.process(chunk, t)
    assert gate.is_open
    assert [e.kind for e in gate.close()] == ["closed"]
    assert gate.close() == []


def test_resampler_is_sample_exact_and_aligned():
    t = np.arange(RATE) / RATE
    tone = (np.sin(2 * np.pi * 440 * t) * 10000).astype(np.int16)
    resampler = Resampler()
    out = [resampler.push(chunk) for chunk, _ in chunks(tone)]
    out.append(resampler.flush())
    y = np.concatenate(out).astype(np.float64)
    assert y.size == 16000 == resampler.out_samples
    ref = np.sin(2 * np.pi * 440 * np.arange(16000) / 16000) * 10000
    assert np.abs(y[100:-100] - ref[100:-100]).mean() < 50  # no lag, no drift
