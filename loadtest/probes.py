"""What a synthetic participant measures in what it receives: the clock in the picture,
the beeps in the sound, the captions on the socket."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

import av
import numpy as np

from signaling.layout import Seat, courtroom_layout

from .barcode import Reader, age_ms, fitted, luma_plane
from .synthetic import RATE

MAX_VIDEO_AGE_MS = 10_000  # a decoded clock older than this is a misread, not a latency
MAX_AUDIO_AGE = 5.0  # seconds: a beep heard later than this is not matched
SHOWN_ROLES = {"judge", "clerk", "plaintiff", "defendant", "agent", "witness", "interpreter", "mediator"}


def seats_from_state(state: dict[str, Any] | None) -> tuple[Seat, ...]:
    """The seats of the courtroom picture, as the media room picks them: admitted people
    who may show video, a witness only while testifying, in the hearing's order."""
    if not state:
        return ()
    seats = []
    for p in state.get("hearing", {}).get("participants", []):
        if p.get("state") != "admitted" or p.get("role") not in SHOWN_ROLES:
            continue
        if p.get("role") == "witness" and p.get("witness_state") != "testifying":
            continue
        seats.append(Seat(p["id"], p["role"], p.get("name", ""), p.get("side")))
    return tuple(seats)


class PictureClock:
    """Reads the senders' clocks in one receiver's pictures.

    `composite`: the pod's courtroom picture, one tile per seat (where each tile is comes
    from `signaling.layout.courtroom_layout`, as the compositor places it); otherwise each
    received stream is one sender's own camera.
    """

    def __init__(self, camera: tuple[int, int]) -> None:
        self.camera = camera
        self.reader = Reader()
        self._layouts: dict[tuple[int, int, tuple[Seat, ...]], dict[str, tuple[int, int, int, int]]] = {}
        self.unreadable = 0

    def tiles(self, width: int, height: int, seats: tuple[Seat, ...]) -> dict[str, tuple[int, int, int, int]]:
        key = (width, height, seats)
        tiles = self._layouts.get(key)
        if tiles is None:
            try:
                layout = courtroom_layout(width, height, seats, False)
                tiles = {pid: fitted(*self.camera, (r.x, r.y, r.w, r.h)) for pid, r in layout.tiles.items()}
            except ValueError:
                tiles = {}
            if len(self._layouts) > 16:
                self._layouts.clear()
            self._layouts[key] = tiles
        return tiles

    def read(self, frame: av.VideoFrame, now: float, rects: Iterable[tuple[Any, tuple[int, int, int, int]]]) -> list[tuple[Any, int]]:
        """(sender, age in ms) for every rect whose clock reads cleanly."""
        luma = luma_plane(frame)
        now_ms = int(now * 1000)
        out = []
        for sender, rect in rects:
            stamp = self.reader.read(luma, rect)
            if stamp is None:
                self.unreadable += 1
                continue
            age = age_ms(now_ms, stamp)
            if age > MAX_VIDEO_AGE_MS:
                self.unreadable += 1
                continue
            out.append((sender, age))
        return out


class BeepDetector:
    """Finds the onsets of known beep frequencies in one received audio stream.

    Per 5 ms block it measures the power at each beep frequency and 300 Hz either side
    (one matrix product for all of them): a beep is a strong narrow line (amplitude over
    4 % of full scale, 10x the power of its neighbours, which speech harmonics never are).
    An onset is the first such block after 200 ms without one.
    """

    BLOCK = 240

    def __init__(self, frequencies: dict[int, float]) -> None:
        self.senders = list(frequencies)
        f = np.array([frequencies[s] for s in self.senders])
        probes = np.concatenate([f, f - 300.0, f + 300.0])
        n = np.arange(self.BLOCK)[:, None]
        self._basis = np.exp(-2j * np.pi * n * probes[None, :] / RATE).astype(np.complex64)
        self._pending = np.zeros(0, dtype=np.float32)
        self._last_loud: dict[int, float] = {}
        self._threshold = (0.04 * 32768 * self.BLOCK / 2) ** 2

    def feed(self, samples: np.ndarray, t_first: float) -> list[tuple[int, float]]:
        """Feed received samples whose first one was heard at t_first; returns onsets."""
        x = np.concatenate([self._pending, samples.astype(np.float32)])
        t0 = t_first - len(self._pending) / RATE
        blocks = len(x) // self.BLOCK
        self._pending = x[blocks * self.BLOCK :]
        if blocks == 0 or not self.senders:
            return []
        power = np.abs(x[: blocks * self.BLOCK].reshape(blocks, self.BLOCK) @ self._basis) ** 2
        k = len(self.senders)
        tone, low, high = power[:, :k], power[:, k : 2 * k], power[:, 2 * k :]
        loud = (tone > self._threshold) & (tone > 10 * np.maximum(low, high))
        onsets = []
        for b, i in zip(*np.nonzero(loud), strict=True):
            sender = self.senders[i]
            t = t0 + b * self.BLOCK / RATE
            last = self._last_loud.get(sender)
            if last is None or t - last > 0.2:
                onsets.append((sender, t))
            self._last_loud[sender] = t
        return onsets


def match_beep(sent: Sequence[float], heard: float, after: float) -> float | None:
    """The send time of the beep heard at `heard`: the latest one sent before it, later
    than the last one matched (`after`), within MAX_AUDIO_AGE."""
    for t in reversed(sent):
        if t <= heard:
            if t > after and heard - t <= MAX_AUDIO_AGE:
                return t
            return None
    return None


class CaptionClock:
    """Speech-to-caption delay: the end of a sentence (when its last chunk left the
    microphone) to the arrival of its final transcript segment on the socket.

    A sentence's final is the last non-empty final of that speaker received after the
    sentence ended and before the speaker's next sentence began (so a sentence split in
    two by the recognizer counts from its last piece). No final in that window: missing.
    """

    def __init__(self, keys: dict[str, int]) -> None:
        self.keys = keys  # participant id or name -> speaker index
        self.finals: dict[int, deque[float]] = {}
        self.unknown_speakers = 0

    def on_message(self, message: dict[str, Any], now: float) -> None:
        if message.get("type") != "transcript" or message.get("corrected"):
            return  # a clerk's correction is not the recognizer's output
        segment = message.get("segment", message)
        if not isinstance(segment, dict) or not segment.get("final") or not str(segment.get("text", "")).strip():
            return
        speaker = None
        for field in ("speaker", "participant", "participant_id", "speaker_id", "name"):
            value = segment.get(field)
            if isinstance(value, str) and value in self.keys:
                speaker = self.keys[value]
                break
        if speaker is None:
            self.unknown_speakers += 1
            return
        self.finals.setdefault(speaker, deque(maxlen=512)).append(now)

    def resolve(self, speaker: int, end: float, window_end: float) -> float | None:
        """Delay in ms of the sentence that ended at `end`, or None when no final came."""
        inside = [t for t in self.finals.get(speaker, ()) if end < t <= window_end]
        return (max(inside) - end) * 1000 if inside else None
