"""Helpers for tests that run real aiortc peers against a real server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import numpy as np

from loadtest.participant import Participant
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
