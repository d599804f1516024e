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
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy

from signaling.receiver import AudioReceive, PlayoutTrack, take_over_track

VideoCallback = Callable[[int, av.VideoFrame, float], None]
AudioCallback = Callable[[int, np.ndarray, float], None]
MessageCallback = Callable[[dict[str, Any], float], None]


def video_codecs(name: str) -> list[Any]:
    """aiortc's video codec capabilities restricted to one codec (and its RTX)."""
    mime = f"video/{name}".lower()
    codecs = RTCRtpSender.getCapabilities("video").codecs
    return [c for c in codecs if c.mimeType.lower() in (mime, "video/rtx")]


class Participant:
    """Joins with a token, publishes the given tracks, records what comes back.

    Kept bounded: only the last `keep_audio_seconds` of received audio (of the first audio
    stream) and the latest received picture are held.

    `receive_slots` > 1 offers that many audio and video streams to receive (the first pair
    also carries what this participant sends, the others are recvonly): a forwarding server
    sends each other participant's camera and microphone on a slot of its own. The slot of a
    stream is its transceiver's position among those of its kind. `video_codec` ("h264",
    "vp8") limits what the video transceivers negotiate; a camera that sends pre-encoded
    H.264 packets needs "h264".

    It receives through the pod's own receive path (signaling/receiver.py: frames released on
    their marker bit, an adaptive audio jitter buffer played out every 20 ms), as a browser
    uses its own rather than aiortc's.
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        audio: MediaStreamTrack | None = None,
        video: MediaStreamTrack | None = None,
        keep_audio_seconds: float = 10.0,
        *,
        receive_slots: int = 1,
        video_codec: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.audio = audio
        self.video = video
        self.receive_slots = max(1, receive_slots)
        self.video_codec = video_codec
        self.messages: list[dict[str, Any]] = []
        self.state: dict[str, Any] | None = None
        self.video_frames = 0
        self.video_times: deque[float] = deque(maxlen=600)
        self.last_frame: av.VideoFrame | None = None
        self.audio_samples: deque[np.ndarray] = deque(maxlen=int(keep_audio_seconds * 50))
        self.audio_frames = 0
        self.on_frame: Callable[[av.VideoFrame, float], None] | None = None
        self.on_video: VideoCallback | None = None
        self.on_audio: AudioCallback | None = None
        self.on_message: MessageCallback | None = None
        self.pc: RTCPeerConnection | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._answer: asyncio.Future[str] | None = None
        self._waiters: list[tuple[Callable[[dict[str, Any]], bool], asyncio.Future[dict[str, Any]]]] = []

    # signaling
    async def connect(self) -> None:
        self._session = aiohttp.ClientSession()
        # `hearing` lets a multi-pod court's proxy route the socket to the pod holding the hearing.
        url = self.base_url.replace("http", "ws", 1) + f"/ws?token={self.token}&hearing={hearing_of(self.token)}"
        self._ws = await self._session.ws_connect(url, max_msg_size=8 * 1024 * 1024)
        self._tasks.append(asyncio.create_task(self._read()))
        await self.wait_for(lambda m: m["type"] == "state", timeout=10)

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            now = time.monotonic()
            message = json.loads(msg.data)
            self.messages.append(message)
            if len(self.messages) > 5000:
                del self.messages[:1000]
            if message["type"] == "state":
                self.state = message
            if message["type"] == "answer" and self._answer and not self._answer.done():
                self._answer.set_result(message["sdp"])
            if self.on_message is not None:
                self.on_message(message, now)
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
        video = pc.addTransceiver(self.video if self.video is not None else "video", direction="sendrecv" if self.video else "recvonly")
        videos = [video]
        for _ in range(self.receive_slots - 1):
            pc.addTransceiver("audio", direction="recvonly")
            videos.append(pc.addTransceiver("video", direction="recvonly"))
        if self.video_codec:
            for transceiver in videos:
                transceiver.setCodecPreferences(video_codecs(self.video_codec))
        keyframe = getattr(self.video, "request_keyframe", None)
        if callable(keyframe):
            # A camera of pre-encoded packets: the sender's own keyframe flag would do
            # nothing, so a picture-loss report must reach the camera's encoder.
            sender = video.sender
            original = sender._send_keyframe

            def on_picture_loss() -> None:
                original()
                keyframe()

            sender._send_keyframe = on_picture_loss  # type: ignore[method-assign]

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            slot = self._slot_of(track)
            path = take_over_track(pc, track)
            if isinstance(path, AudioReceive):
                track = PlayoutTrack(path, track)
            reader = self._read_video if track.kind == "video" else self._read_audio
            self._tasks.append(asyncio.create_task(reader(track, slot)))

        await pc.setLocalDescription(await pc.createOffer())
        self._answer = asyncio.get_running_loop().create_future()
        await self.send({"type": "offer", "sdp": pc.localDescription.sdp})
        answer = await asyncio.wait_for(self._answer, timeout)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))

    def _slot_of(self, track: MediaStreamTrack) -> int:
        assert self.pc is not None
        same_kind = [t for t in self.pc.getTransceivers() if t.kind == track.kind]
        for slot, transceiver in enumerate(same_kind):
            if transceiver.receiver.track is track:
                return slot
        return 0

    async def _read_video(self, track: MediaStreamTrack, slot: int = 0) -> None:
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                self.video_frames += 1
                self.video_times.append(now)
                self.last_frame = frame  # type: ignore[assignment]
                if self.on_frame is not None:
                    self.on_frame(frame, now)  # type: ignore[arg-type]
                if self.on_video is not None:
                    self.on_video(slot, frame, now)  # type: ignore[arg-type]
        except MediaStreamError:
            pass

    async def _read_audio(self, track: MediaStreamTrack, slot: int = 0) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        try:
            while True:
                frame = await track.recv()
                now = time.monotonic()
                self.audio_frames += 1
                for samples in _mono_48k(frame, resampler):  # type: ignore[arg-type]
                    if slot == 0:
                        self.audio_samples.append(samples)
                    if self.on_audio is not None:
                        self.on_audio(slot, samples, now)
        except MediaStreamError:
            pass

    async def receiver_stats(self) -> list[dict[str, Any]]:
        """aiortc's inbound RTP statistics of every stream received: kind, slot,
        packetsReceived, packetsLost, jitter (cumulative since the stream began)."""
        if self.pc is None:
            return []
        out: list[dict[str, Any]] = []
        slots: dict[str, int] = {}
        for transceiver in self.pc.getTransceivers():
            slot = slots.get(transceiver.kind, 0)
            slots[transceiver.kind] = slot + 1
            report = await transceiver.receiver.getStats()
            for stats in report.values():
                if getattr(stats, "type", None) == "inbound-rtp":
                    out.append({
                        "kind": transceiver.kind,
                        "slot": slot,
                        "packetsReceived": int(stats.packetsReceived),
                        "packetsLost": int(stats.packetsLost),
                        "jitter": float(stats.jitter),
                    })
        return out

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


def _mono_48k(frame: av.AudioFrame, resampler: av.AudioResampler) -> list[np.ndarray]:
    """A received frame as 48 kHz mono int16. aiortc decodes Opus to packed s16 stereo at
    48 kHz: averaging the channels with numpy costs a fraction of a PyAV resampler call."""
    if frame.format.name == "s16" and frame.sample_rate == 48000 and len(frame.layout.channels) in (1, 2):
        data = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
        mono = data[:, 0] if data.shape[1] == 1 else (data[:, 0].astype(np.int32) + data[:, 1]) // 2
        return [mono.astype(np.int16)]
    return [out.to_ndarray().reshape(-1).copy() for out in resampler.resample(frame)]


def hearing_of(token: str) -> str:
    """The hearing id a join token names (read, not verified: the server verifies)."""
    import base64
    import json

    payload = token.split(".")[0]
    try:
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["h"])
    except (ValueError, KeyError, TypeError):
        return ""
