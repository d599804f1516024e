"""The server's own share of the delay, and its figures for stats and /metrics.

Hold time: from the last packet of a camera frame (or the audio packet) arriving to the
first packet of the picture (or mix) that contains it being handed to a participant's
sender. Kept as the most recent samples, so the percentiles describe the last few seconds.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .rooms import RoomManager


class HoldTimes:
    def __init__(self, keep: int = 4000) -> None:
        self._ms: deque[float] = deque(maxlen=keep)
        self.count = 0

    def since(self, arrivals: tuple[float, ...], now: float | None = None) -> None:
        t = time.monotonic() if now is None else now
        for a in arrivals:
            self._ms.append((t - a) * 1000)
        self.count += len(arrivals)

    def summary(self) -> dict[str, float | int | None]:
        if not self._ms:
            return {"p50": None, "p95": None, "max": None, "samples": self.count}
        ordered = sorted(self._ms)
        n = len(ordered)
        return {
            "p50": round(ordered[n // 2], 1),
            "p95": round(ordered[min(n - 1, int(0.95 * n))], 1),
            "max": round(ordered[-1], 1),
            "samples": self.count,
        }


def latency_gauges(rooms: RoomManager) -> list[tuple[str, str, dict[str, str], float]]:
    """/metrics: the server's hold times and each uplink's jitter buffer, read at scrape time."""
    out: list[tuple[str, str, dict[str, str], float]] = []
    for hearing_id, room in rooms.rooms.items():
        h = {"hearing": hearing_id}
        for kind, hold in (("video", room.video_hold), ("audio", room.audio_hold)):
            summary = hold.summary()
            for q in ("p50", "p95"):
                value = summary[q]
                if value is not None:
                    out.append((f"courtroom_{kind}_hold_ms", f"server hold time of {kind}, last packet in to first out",
                                {**h, "quantile": q}, float(value)))
        for pid, up in room.uplinks.items():
            p = {**h, "participant": pid}
            receive: dict[str, Any] = room.receive_stats(up)
            audio = receive.get("audio")
            if audio:
                out.append(("courtroom_jitter_buffer_ms", "audio jitter buffer depth of an uplink (smoothed)", p, audio["depth_ms"]))
                out.append(("courtroom_uplink_jitter_ms", "measured audio arrival jitter of an uplink", p, audio["jitter_ms"]))
                out.append(("courtroom_audio_concealed", "audio frames concealed (FEC/PLC) for lost packets", p,
                            float(audio["concealed_lost"])))
            video = receive.get("video")
            if video:
                out.append(("courtroom_video_frames_lost", "camera frames lost in the receive path", p, float(video["frames_lost"])))
    return out
