"""Mix-minus: each participant hears everyone else, never themselves; muted means silent."""

from __future__ import annotations

import numpy as np
import pytest

from signaling.mixer import (
    CHUNK_SAMPLES,
    SAMPLE_RATE,
    SILENCE_DB,
    ActiveSpeaker,
    AudioMixer,
    dbfs,
)

# 50 Hz bins over a 20 ms chunk: these land exactly on FFT bins, no leakage.
TONES = {"judge": 400, "plaintiff": 800, "defendant": 1200, "witness": 1600}


def tone(freq: float, amplitude: float = 6000.0) -> np.ndarray:
    t = np.arange(CHUNK_SAMPLES) / SAMPLE_RATE
    return np.round(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def present(signal: np.ndarray, freq: float) -> bool:
    """True if the chunk carries a clear tone at freq."""
    spectrum = np.abs(np.fft.rfft(signal.astype(np.float64))) / CHUNK_SAMPLES
    return bool(spectrum[round(freq * CHUNK_SAMPLES / SAMPLE_RATE)] > 100)


@pytest.fixture
def chunks() -> dict[str, np.ndarray | None]:
    return {pid: tone(freq) for pid, freq in TONES.items()}


def test_each_minus_has_the_others_but_not_itself(chunks: dict[str, np.ndarray | None]) -> None:
    result = AudioMixer().mix(chunks, muted=(), record=True)
    assert set(result.minus) == set(TONES)
    for listener, mix in result.minus.items():
        assert mix.dtype == np.int16 and mix.shape == (CHUNK_SAMPLES,)
        for speaker, freq in TONES.items():
            assert present(mix, freq) == (speaker != listener), (listener, speaker)
    for freq in TONES.values():
        assert present(result.full, freq)


def test_muted_participant_is_absent_everywhere(chunks: dict[str, np.ndarray | None]) -> None:
    result = AudioMixer().mix(chunks, muted={"defendant"}, record=True)
    assert not present(result.full, TONES["defendant"])
    for listener, mix in result.minus.items():
        assert not present(mix, TONES["defendant"]), listener
    # The muted one still hears everybody else.
    for speaker in ("judge", "plaintiff", "witness"):
        assert present(result.minus["defendant"], TONES[speaker])
    assert result.levels["defendant"] == SILENCE_DB


def test_missing_chunk_is_silence(chunks: dict[str, np.ndarray | None]) -> None:
    chunks["witness"] = None
    result = AudioMixer().mix(chunks, muted=(), record=True)
    assert result.levels["witness"] == SILENCE_DB
    assert not present(result.full, TONES["witness"])
    # The absent witness still gets a mix: everyone.
    for speaker in ("judge", "plaintiff", "defendant"):
        assert present(result.minus["witness"], TONES[speaker])


def test_clipping_saturates_instead_of_wrapping() -> None:
    loud = np.full(CHUNK_SAMPLES, 30000, dtype=np.int16)
    quiet = np.full(CHUNK_SAMPLES, -30000, dtype=np.int16)
    result = AudioMixer().mix(
        {"a": loud, "b": loud, "c": loud, "d": quiet, "e": quiet, "f": quiet, "g": quiet},
        muted=(),
        record=True,
    )
    # 3 x 30000 - 4 x 30000 = -30000: exact, no clipping needed.
    assert (result.full == -30000).all()
    # d hears 90000 - 90000 = 0; a hears 60000 - 120000 = -60000, clipped to -32768.
    assert (result.minus["d"] == 0).all()
    assert (result.minus["a"] == -32768).all()
    both = AudioMixer().mix({"a": loud, "b": loud, "c": None}, muted=(), record=True)
    assert (both.full == 32767).all()  # 60000 would wrap to a negative number
    assert (both.minus["c"] == 32767).all()
    assert (both.minus["a"] == 30000).all()


def test_no_record_gives_a_silent_full_mix(chunks: dict[str, np.ndarray | None]) -> None:
    result = AudioMixer().mix(chunks, muted=(), record=False)
    assert result.full.dtype == np.int16 and not result.full.any()
    # Participants still hear each other during a recess; only the record is silent.
    assert present(result.minus["judge"], TONES["plaintiff"])


def test_everyone_muted_or_absent() -> None:
    result = AudioMixer().mix({"a": None, "b": tone(400)}, muted={"b"}, record=True)
    assert not result.full.any()
    assert not result.minus["a"].any() and not result.minus["b"].any()
    assert result.levels == {"a": SILENCE_DB, "b": SILENCE_DB}


def test_levels_are_rms_dbfs() -> None:
    result = AudioMixer().mix(
        {"sine": tone(1000, 32767), "half": tone(1000, 16384), "zero": np.zeros(960, np.int16)},
        muted=(),
        record=True,
    )
    assert result.levels["sine"] == pytest.approx(-3.01, abs=0.05)
    assert result.levels["half"] == pytest.approx(-9.03, abs=0.05)
    assert result.levels["zero"] == SILENCE_DB
    assert dbfs(0.0) == SILENCE_DB


def test_wrong_chunk_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="shape"):
        AudioMixer().mix({"a": np.zeros(480, np.int16)}, muted=(), record=True)


def test_mix_returns_fresh_arrays(chunks: dict[str, np.ndarray | None]) -> None:
    mixer = AudioMixer()
    first = mixer.mix({"a": None, "b": None}, muted=(), record=True)
    first.minus["a"][:] = 123
    second = mixer.mix({"a": None, "b": None}, muted=(), record=True)
    assert not second.minus["a"].any() and not second.full.any()


# -- active speaker -----------------------------------------------------------------

LOUD, SOFT, QUIET = -20.0, -30.0, SILENCE_DB


def feed(speaker: ActiveSpeaker, levels: dict[str, float], chunks: int) -> list[str | None]:
    return [speaker.update(levels) for _ in range(chunks)]


def test_active_speaker_takes_the_floor_after_a_short_attack() -> None:
    s = ActiveSpeaker()  # attack 0.1 s = 5 chunks
    seen = feed(s, {"a": LOUD, "b": QUIET}, 5)
    assert seen[:4] == [None] * 4 and seen[4] == "a"


def test_a_cough_does_not_take_the_floor() -> None:
    s = ActiveSpeaker()
    feed(s, {"a": LOUD}, 10)
    feed(s, {"a": QUIET, "b": LOUD}, 2)  # 40 ms burst while a pauses
    assert s.current == "a"
    assert s.update({"a": QUIET, "b": QUIET}) == "a"


def test_current_speaker_holds_against_a_louder_interjection() -> None:
    s = ActiveSpeaker()  # hold 0.6 s = 30 chunks
    feed(s, {"a": SOFT, "b": QUIET}, 10)
    seen = feed(s, {"a": SOFT, "b": LOUD}, 29)
    assert set(seen) == {"a"}
    assert s.update({"a": SOFT, "b": LOUD}) == "b"  # louder for the whole hold


def test_switches_quickly_once_the_speaker_has_stopped() -> None:
    s = ActiveSpeaker()
    feed(s, {"a": LOUD, "b": QUIET}, 10)
    feed(s, {"a": QUIET, "b": QUIET}, 35)  # longer than the hold, shorter than the release
    assert s.current == "a"
    seen = feed(s, {"a": QUIET, "b": LOUD}, 5)
    assert seen == ["a"] * 4 + ["b"]  # only the attack


def test_an_answer_straight_after_a_question_waits_for_the_hold() -> None:
    s = ActiveSpeaker()
    feed(s, {"a": LOUD, "b": QUIET}, 10)
    seen = feed(s, {"a": QUIET, "b": LOUD}, 40)
    assert seen.index("b") == 29  # a's silence has to reach the hold first
    assert set(seen[29:]) == {"b"}


def test_pause_between_sentences_keeps_the_marker_then_releases() -> None:
    s = ActiveSpeaker()  # release 1.5 s = 75 chunks
    feed(s, {"a": LOUD}, 10)
    seen = feed(s, {"a": QUIET}, 80)
    assert seen[:74] == ["a"] * 74
    assert seen[74:] == [None] * 6


def test_threshold_ignores_background_noise() -> None:
    s = ActiveSpeaker(threshold_db=-45)
    assert set(feed(s, {"a": -50.0, "b": -60.0}, 50)) == {None}
