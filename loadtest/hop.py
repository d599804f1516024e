"""One receive hop, measured: two aiortc peers in one process on loopback, receiving either
through aiortc's own path or ours (signaling/receiver.py).

    python -m loadtest.hop --receive ours|aiortc [--seconds 10] [--fps 15]

Video: each camera frame's send time is kept by its pts; latency = decoded at the receiver −
handed to the sender's encoder (the encode is in both). Audio: a 20 ms click every 0.5 s;
latency = the received frame with the click's onset handed to the reader − the click's frame
handed to the sender. aiortc's path has no playout clock (frames come when its jitter buffer
lets them go); ours is played out every 20 ms, as a player would. Light enough (one 320x180
camera, one microphone) to measure on a busy machine; print JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import time
from typing import Any

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from signaling.receiver import AudioReceive, PlayoutTrack, take_over_track

RATE = 48000
CHUNK = 960
CLICK_EVERY = 25  # chunks: 0.5 s


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "samples": 0}
    v = sorted(values)
    return {"p50": round(v[len(v) // 2], 1), "p95": round(v[min(len(v) - 1, int(0.95 * len(v)))], 1), "samples": len(v)}


class Camera(MediaStreamTrack):
    kind = "video"

    def __init__(self, fps: int, sent: dict[int, float]) -> None:
        super().__init__()
        self.fps, self.sent, self.n = fps, sent, 0
        self.start: float | None = None

    async def recv(self) -> av.VideoFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.n / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        image = np.full((180, 320, 3), 90, dtype=np.uint8)
        image[:, (self.n * 8) % 320:(self.n * 8) % 320 + 8] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = self.n * 90000 // self.fps
        frame.time_base = fractions.Fraction(1, 90000)
        self.sent[frame.pts] = time.monotonic()
        self.n += 1
        return frame


class Clicks(MediaStreamTrack):
    kind = "audio"

    def __init__(self, sent: list[float]) -> None:
        super().__init__()
        self.sent, self.n = sent, 0
        self.start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self.start is None:
            self.start = time.monotonic()
        due = self.start + self.n * CHUNK / RATE
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        samples = np.zeros(CHUNK, dtype=np.int16)
        if self.n % CLICK_EVERY == 0 and self.n > 0:
            t = np.arange(CHUNK) / RATE
            samples[:] = (0.5 * 32767 * np.sin(2 * np.pi * 1000 * t)).astype(np.int16)
            self.sent.append(time.monotonic())
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self.n * CHUNK, fractions.Fraction(1, RATE)
        self.n += 1
        return frame


async def measure(receive: str, seconds: float, fps: int) -> dict[str, Any]:
    sent_video: dict[int, float] = {}
    sent_audio: list[float] = []
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    sender.addTrack(Clicks(sent_audio))
    sender.addTrack(Camera(fps, sent_video))
    tracks: dict[str, MediaStreamTrack] = {}
    paths: list[AudioReceive] = []

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        if receive == "ours":
            path = take_over_track(receiver, track)
            if isinstance(path, AudioReceive):
                paths.append(path)
                track = PlayoutTrack(path, track)
        tracks[track.kind] = track

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(RTCSessionDescription(receiver.localDescription.sdp, "answer"))

    video_ms: list[float] = []
    audio_ms: list[float] = []
    warmup = time.monotonic() + 2.0
    end = warmup + seconds

    async def read_video() -> None:
        while time.monotonic() < end:
            frame = await tracks["video"].recv()
            assert isinstance(frame, av.VideoFrame)
            now = time.monotonic()
            sent = sent_video.get(frame.pts) if frame.pts is not None else None
            if sent is not None and now > warmup:
                video_ms.append((now - sent) * 1000)

    async def read_audio() -> None:
        loud = False
        while time.monotonic() < end:
            frame = await tracks["audio"].recv()
            now = time.monotonic()
            assert isinstance(frame, av.AudioFrame)
            data = frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0].astype(np.float64)
            blocks = np.abs(data).reshape(-1, 48).mean(axis=1) if len(data) % 48 == 0 else np.abs(data)
            above = np.nonzero(blocks > 3000)[0]
            if above.size and not loud and sent_audio and now > warmup:
                onset = now + above[0] * 48 / RATE  # handed over + the onset's offset in the frame
                click = max((s for s in sent_audio if s <= onset + 0.001), default=None)
                if click is not None:
                    audio_ms.append((onset - click) * 1000)
            loud = bool(above.size)

    try:
        await asyncio.wait_for(asyncio.gather(read_video(), read_audio()), timeout=seconds + 30)
    except (MediaStreamError, TimeoutError):
        pass
    finally:
        await sender.close()
        await receiver.close()
    return {"receive": receive, "seconds": seconds, "fps": fps,
            "video_ms": percentiles(video_ms), "audio_ms": percentiles(audio_ms),
            "jitter_buffer": paths[0].stats() if paths else None}


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.hop", description=__doc__.split("\n\n")[0])
    p.add_argument("--receive", choices=["ours", "aiortc"], default="ours")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--fps", type=int, default=15)
    args = p.parse_args()
    print(json.dumps(asyncio.run(measure(args.receive, args.seconds, args.fps))))


if __name__ == "__main__":
    main()
