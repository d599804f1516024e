"""One hearing's synthetic participants, in a process of their own.

`python -m loadtest.worker SPEC.json` joins the hearing described in SPEC (made by the load
test, which created the hearing and its participants through the API), starts every
participant's camera and microphone, and writes JSON lines to stdout: `{"event": "ready"}`
once media flows (or `{"event": "error"}`), then every second `{"event": "samples", ...}`
with what was measured since the last line, timestamped on the machine's monotonic clock
(the same in every process, so the parent can cut a measurement window). A line `stop` on
stdin, end of stdin, or the spec's `lifetime` ends it.

A process per hearing keeps one hearing's aiortc work (packetizing, decoding, jitter
buffers: pure Python) from delaying another's, so the generator can use every core.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

from signaling.ice import restrict_host_addresses

from .participant import Participant
from .probes import BeepDetector, CaptionClock, PictureClock, match_beep, seats_from_state
from .report import CAPTION_WAIT
from .speech import build_script, make_wavs
from .synthetic import CameraSource, ScriptMic

restrict_host_addresses(["127.0.0.1"])  # media stays on loopback


def cpu_seconds(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def emit(event: str, **data: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, "t": time.monotonic(), **data}, separators=(",", ":")) + "\n")
    sys.stdout.flush()


class Hearing:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.people: list[dict[str, Any]] = spec["participants"]
        self.relay = spec["design"] == "relay"
        self.fps = int(spec["fps"])
        cam_w, cam_h = spec["camera"]
        roles = [p["role"] for p in self.people]
        wavs = make_wavs(Path(spec["wav_dir"]), spec["language"], roles)
        self.script = build_script(roles, wavs)
        self.epoch = time.monotonic() + 1.0
        n = len(self.people)
        if spec["camera_encoders"] == "each":
            self.sources = [CameraSource(cam_w, cam_h, self.fps, spec["camera_bitrate"], seed=i) for i in range(n)]
        else:
            self.sources = [CameraSource(cam_w, cam_h, self.fps, spec["camera_bitrate"], seed=spec.get("seed", 0))]
        self.mics = [ScriptMic(self.script.tracks[i], self.script.chunks, self.epoch) for i in range(n)]
        slots = n - 1 if self.relay else 1
        self.peers = [
            Participant(
                spec["base_url"], p["token"], self.mics[i], self.sources[i % len(self.sources)].track(),
                keep_audio_seconds=0.1, receive_slots=slots, video_codec=spec.get("video_codec", "h264"),
            )
            for i, p in enumerate(self.people)
        ]
        self.index = {p["id"]: i for i, p in enumerate(self.people)}
        keys = {p["id"]: i for i, p in enumerate(self.people)}
        keys.update({p["name"]: i for i, p in enumerate(self.people)})
        self.captions = CaptionClock(keys)
        self.clocks = [PictureClock((cam_w, cam_h)) for _ in self.people]
        freqs = {i: t.frequency for i, t in enumerate(self.script.tracks)}
        self.detectors: dict[tuple[int, int], BeepDetector] = {}
        for rx in range(n):
            others = {i: f for i, f in freqs.items() if i != rx}
            for slot in range(slots):
                self.detectors[(rx, slot)] = BeepDetector(others)
        self.matched: dict[tuple[int, int], float] = {}
        self.seats: tuple[Any, ...] = ()
        self.video: list[list[float]] = []
        self.frames: list[list[float]] = []
        self.audio: list[list[float]] = []
        self.loop_lag: list[float] = []
        self.first_video: set[tuple[int, int]] = set()
        self.first_audio: set[tuple[int, int]] = set()
        self.tasks: list[asyncio.Task[Any]] = []
        for rx, peer in enumerate(self.peers):
            peer.on_video = self._video_handler(rx)
            peer.on_audio = self._audio_handler(rx)
        self.peers[0].on_message = self._on_judge_message

    def others(self, rx: int) -> list[int]:
        return [i for i in range(len(self.people)) if i != rx]

    # receiving
    def _on_judge_message(self, message: dict[str, Any], now: float) -> None:
        if message.get("type") == "state":
            self.seats = seats_from_state(message)
        self.captions.on_message(message, now)

    def _video_handler(self, rx: int) -> Any:
        others = self.others(rx)

        def on_video(slot: int, frame: av.VideoFrame, now: float) -> None:
            self.first_video.add((rx, slot))
            pts_ms = float(frame.pts * frame.time_base * 1000) if frame.pts is not None and frame.time_base else -1.0
            self.frames.append([rx, slot, now, pts_ms])
            clock = self.clocks[rx]
            if self.relay:
                if slot >= len(others):
                    return
                rects = [(others[slot], (0, 0, frame.width, frame.height))]
            else:
                tiles = clock.tiles(frame.width, frame.height, self.seats)
                rects = [(self.index[pid], rect) for pid, rect in tiles.items() if pid in self.index and self.index[pid] != rx]
            for sender, age in clock.read(frame, now, rects):
                self.video.append([now, rx, sender, age])

        return on_video

    def _audio_handler(self, rx: int) -> Any:
        def on_audio(slot: int, samples: np.ndarray, now: float) -> None:
            self.first_audio.add((rx, slot))
            detector = self.detectors.get((rx, slot))
            if detector is None:
                return
            for sender, heard in detector.feed(samples, now):
                key = (rx, sender)
                sent = match_beep(self.mics[sender].beeps, heard, self.matched.get(key, 0.0))
                if sent is not None:
                    self.matched[key] = sent
                    self.audio.append([heard, rx, sender, (heard - sent) * 1000])

        return on_audio

    # joining
    async def join(self) -> None:
        judge, others = self.peers[0], self.peers[1:]
        timeout = 20.0
        await judge.connect()
        state = (judge.state or {}).get("hearing", {}).get("state")
        if state not in ("open", "in_session"):
            await judge.act("open")
            await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] in ("open", "in_session"), timeout)
        await asyncio.gather(*(p.connect() for p in others))
        witnesses = []
        for p in self.people[1:]:
            if p["role"] == "witness":
                witnesses.append(p["id"])
            else:
                await judge.act("admit", p["id"])
        if (judge.state or {}).get("hearing", {}).get("state") != "in_session":
            await judge.act("start")
            await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session", timeout)
        for pid in witnesses:
            await judge.act("call_witness", pid)
        wanted = {p["id"] for p in self.people}

        def everyone_in(m: dict[str, Any]) -> bool:
            if m["type"] != "state" or m["hearing"].get("state") != "in_session":
                return False
            return {s.participant_id for s in seats_from_state(m)} >= wanted

        await judge.wait_for(everyone_in, timeout)
        self.seats = seats_from_state(judge.state)
        self.tasks += [asyncio.create_task(source.run()) for source in self.sources]
        await asyncio.gather(*(p.start_media(timeout) for p in self.peers))

    async def wait_media(self, timeout: float) -> list[str]:
        """Until every participant receives every stream; returns what is still missing."""
        slots = len(self.people) - 1 if self.relay else 1
        wanted = {(rx, s) for rx in range(len(self.people)) for s in range(slots)}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if wanted <= self.first_video and wanted <= self.first_audio:
                return []
            await asyncio.sleep(0.1)
        missing = [f"video {rx}/{s}" for rx, s in sorted(wanted - self.first_video)]
        missing += [f"audio {rx}/{s}" for rx, s in sorted(wanted - self.first_audio)]
        return missing

    # reporting
    async def _loop_lag(self) -> None:
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.05)
            self.loop_lag.append((time.monotonic() - t - 0.05) * 1000)

    def _captions(self, now: float) -> list[list[Any]]:
        """[end, speaker, delay ms or None] for each sentence whose window has closed: the
        speaker began the next one, or CAPTION_WAIT seconds passed (None: no final came)."""
        out: list[list[Any]] = []
        for i, mic in enumerate(self.mics):
            while mic.utterances:
                end = mic.utterances[0][1]
                later = mic.utterances[1][0] if len(mic.utterances) > 1 else None
                window_end = min(later if later is not None else now, end + CAPTION_WAIT)
                if later is None and now < end + CAPTION_WAIT:
                    break
                mic.utterances.popleft()
                out.append([end, i, self.captions.resolve(i, end, window_end)])
        return out

    async def report_forever(self) -> None:
        self.tasks.append(asyncio.create_task(self._loop_lag()))
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            rtp = []
            for rx, peer in enumerate(self.peers):
                try:
                    for s in await peer.receiver_stats():
                        rtp.append([rx, s["kind"], s["slot"], s["packetsReceived"], s["packetsLost"], s["jitter"]])
                except Exception:  # noqa: BLE001 - statistics are best effort
                    pass
            captions = self._captions(now) if self.spec.get("captions") else []
            lag = self.loop_lag
            emit(
                "samples",
                video=self.video, frames=self.frames, audio=self.audio, captions=captions, rtp=rtp,
                loop_lag_ms=[round(max(lag), 1), round(float(np.percentile(lag, 95)), 1)] if lag else [0, 0],
                cpu_s=cpu_seconds(),
                unreadable=sum(c.unreadable for c in self.clocks),
                camera_encode_s=sum(s.encode_seconds for s in self.sources),
                unknown_speakers=self.captions.unknown_speakers,
            )
            self.video, self.frames, self.audio, self.loop_lag = [], [], [], []

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(asyncio.wait_for(p.close(), 5) for p in self.peers), return_exceptions=True)


async def _stdin_stop() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line or line.strip() == b"stop":
            return


async def main(spec: dict[str, Any]) -> int:
    hearing = Hearing(spec)
    stop = asyncio.create_task(_stdin_stop())
    try:
        try:
            await asyncio.wait_for(hearing.join(), spec.get("join_timeout", 40.0))
            missing = await hearing.wait_media(spec.get("media_timeout", 20.0))
        except Exception as exc:  # noqa: BLE001 - told to the parent, which decides
            emit("error", message=f"{type(exc).__name__}: {exc}")
            return 1
        emit("ready", missing=missing, participants=[p["id"] for p in hearing.people])
        report = asyncio.create_task(hearing.report_forever())
        await asyncio.wait({stop, report}, timeout=spec.get("lifetime", 600.0), return_when=asyncio.FIRST_COMPLETED)
        report.cancel()
        await asyncio.gather(report, return_exceptions=True)
    finally:
        stop.cancel()
        await hearing.close()
        emit("bye")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main(json.loads(Path(sys.argv[1]).read_text()))))
