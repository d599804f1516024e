"""Helpers for tests that run real aiortc peers against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack, WavTrack
from signaling.ice import restrict_host_addresses

# Media in tests stays on the loopback interface, on both ends (the server gets --ice-address).
restrict_host_addresses(["127.0.0.1"])
LOOPBACK_MEDIA = ("--ice-address", "127.0.0.1")


def tone_power(samples: np.ndarray, frequency: float, rate: int = 48000) -> float:
    """Relative power of a tone in a signal (its FFT bin against the median bin)."""
    if len(samples) < rate // 2:
        return 0.0
    x = samples.astype(np.float64) * np.hanning(len(samples))
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    band = (freqs > frequency - 15) & (freqs < frequency + 15)
    floor = float(np.median(spectrum)) + 1e-9
    return float(spectrum[band].max() / floor)


async def eventually(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        await asyncio.sleep(step)
    return check()


async def wait_frames(peer: Participant, count: int, timeout: float) -> bool:
    start = peer.video_frames
    return await eventually(lambda: peer.video_frames >= start + count, timeout)


@dataclass
class SpeakingHearing:
    """A hearing in session with a silent judge and a plaintiff whose microphone plays a WAV."""

    hearing: dict[str, Any]
    judge_p: dict[str, Any]
    plaintiff_p: dict[str, Any]
    judge: Participant
    plaintiff: Participant
    mic: WavTrack
    opened_at: float  # wall time of hearing time 0

    def hearing_now(self) -> float:
        return time.time() - self.opened_at

    def mic_start(self) -> float:
        """Hearing time of the microphone's first sample (same machine, same wall clock)."""
        assert self.mic.started_at is not None
        return self.hearing_now() - (time.monotonic() - self.mic.started_at)


@asynccontextmanager
async def speaking_hearing(server: Any, api: Any, wav: Path, public: bool = False, broadcast: bool = False,
                           mic: WavTrack | None = None, plaintiff: str = "张三") -> AsyncIterator[SpeakingHearing]:
    """Open, admit, start (and put on air), start media, wait for the microphone (`mic`, or
    one playing `wav`); close the peers on the way out."""
    hearing, (judge_p, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", plaintiff), public=public)
    judge = Participant(server.url, judge_p["token"], ToneTrack(0.0), PatternTrack(160, 90, 10))
    mic = mic or WavTrack(wav)
    speaker = Participant(server.url, plaintiff_p["token"], mic, PatternTrack(160, 90, 10))
    try:
        await judge.connect()
        await judge.act("open")
        await speaker.connect()
        await judge.act("admit", plaintiff_p["id"])
        await judge.act("start")
        state = await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        if broadcast:
            await judge.act("broadcast_on")
            await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["broadcast"])
        await judge.start_media()
        await speaker.start_media()
        assert await eventually(lambda: mic.started_at is not None, 15), "the microphone never started"
        yield SpeakingHearing(hearing, judge_p, plaintiff_p, judge, speaker, mic, state["hearing"]["opened_at"])
    finally:
        await judge.close()
        await speaker.close()


@asynccontextmanager
async def judge_in_session(url: str, token: str, frames: int = 5, timeout: float = 15.0) -> AsyncIterator[Participant]:
    """A judge alone (a tone and a moving pattern) who opens and starts the hearing and sees the
    picture; closed on the way out."""
    judge = Participant(url, token, ToneTrack(440), PatternTrack(160, 90, 10))
    try:
        await judge.connect()
        await judge.act("open")
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await judge.start_media()
        assert await wait_frames(judge, frames, timeout=timeout)
        yield judge
    finally:
        await judge.close()
