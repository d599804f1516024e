"""A synthetic participant: a real aiortc peer that joins a hearing through the public API."""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiohttp
import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy


class Participant:
    """Joins with a token, publishes the given tracks, records what comes back.

    Kept bounded: only the last `keep_audio_seconds` of received audio and the latest
    received picture are held.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        keep_audio_seconds: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.audio = audio
        self.video = video
        self.messages: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.video_frames = 0
        self.video_times: deque[float] = deque(maxlen=600)
        self.last_frame: av.VideoFrame | None = None
        self.audio_samples: deque[np.ndarray] = deque(maxlen=int(keep_audio_seconds * 50))
        self.audio_frames = 0
        self.on_frame: Callable[[av.VideoFrame, float], None] | None = None
        self.pc: RTCPeerConnection | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._answer: asyncio.Future[str] | None = None
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[dict[str, Any]]]] = []

    # signaling
    async def connect(self) -> None:
        self._session = aiohttp.ClientSession()
        url = self.base_url.replace("http", "ws", 1) + f"/ws?token={self.token}"
        self._ws = await self._session.ws_connect(url, max_msg_size=8 * 1024 * 1024)
        self._tasks.append(asyncio.create_task(self._read()))
        await self.wait_for(lambda m: m["type"] == "state", timeout=10)

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(msg.data)
            self.messages.append(message)
            if len(self.messages) > 5000:
                del self.messages[:1000]
            if message["type"] == "state":
                self.state = message
            if message["type"] == "answer" and self._answer and not self._answer.done():
                self._answer.set_result(message["sdp"])
            for predicate, future in list(self._waiters):
                if not future.done() and predicate(message):
                    future.set_result(message)

    async def send(self, message: dict[str, Any]) -> None:
        assert self._ws is not None
        await self._ws.send_str(json.dumps(message))

    async def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> dict[str, Any]:
        for message in self.messages:
            if predicate(message):
                return message
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters.append((predicate, future))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiters.remove((predicate, future))

    async def act(self, action: str, participant: str | None = None, **extra: Any) -> None:
        await self.send({"type": "action", "action": action, "participant": participant, **extra})

    # media
    async def start_media(self, timeout: float = 15.0) -> None:
        pc = self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        pc.addTransceiver(self.audio if self.audio is not None else "audio", direction="sendrecv" if self.audio else "recvonly")
        pc.addTransceiver(self.video if self.video is not None else "video", direction="sendrecv" if self.video else "recvonly")

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            reader = self._read_video if track.kind == "video" else self._read_audio
            self._tasks.append(asyncio.create_task(reader(track)))

        await pc.setLocalDescription(await pc.createOffer())
        self._answer = asyncio.get_running_loop().create_future()
        await self.send({"type": "offer", "sdp": pc.localDescription.sdp})
        answer = await asyncio.wait_for(self._answer, timeout)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    async def _read_video(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                self.video_frames += 1
                self.video_times.append(now)
                self.last_frame = frame  # type: ignore[assignment]
                if self.on_frame is not None:
                    self.on_frame(frame, now)  # type: ignore[arg-type]
        except MediaStreamError:
            pass

    async def _read_audio(self, track: MediaStreamTrack) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        try:
            while True:
                frame = await track.recv()
                self.audio_frames += 1
                for out in resampler.resample(frame):  # type: ignore[arg-type]
                    self.audio_samples.append(out.to_ndarray().reshape(-1).copy())
        except MediaStreamError:
            pass

    def fps(self, window: float = 2.0) -> float:
        now = time.monotonic()
        recent = [t for t in self.video_times if now - t <= window]
        return len(recent) / window

    def recent_audio(self, seconds: float) -> np.ndarray:
        chunks = list(self.audio_samples)
        if not chunks:
            return np.zeros(0, dtype=np.int16)
        data = np.concatenate(chunks)
        return data[-int(seconds * 48000):]

    def clear_audio(self) -> None:
        self.audio_samples.clear()

    async def stop_media(self) -> None:
        if self.pc is not None:
            await self.pc.close()
            self.pc = None

    async def close(self) -> None:
        await self.stop_media()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()
