"""Our receive path between two real aiortc peers on loopback, and in the pod."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import av
import numpy as np
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from media_helpers import LOOPBACK_MEDIA, tone_power, wait_frames

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from signaling.opus import OpusDecoder
from signaling.receiver import (
    AudioReceive,
    PlayoutTrack,
    VideoReceive,
    ask_for_opus_fec,
    take_over,
    take_over_track,
)


async def connect(sender: RTCPeerConnection, receiver: RTCPeerConnection) -> None:
    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(RTCSessionDescription(receiver.localDescription.sdp, "answer"))


async def test_video_and_audio_through_real_peers() -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    paths: dict[str, object] = {}
    tracks: dict[str, MediaStreamTrack] = {}

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        paths[track.kind] = take_over_track(receiver, track)
        tracks[track.kind] = track

    sender.addTrack(ToneTrack(440.0))
    sender.addTrack(PatternTrack(width=320, height=180, fps=15))
    try:
        await connect(sender, receiver)
        video_path, audio_path = paths["video"], paths["audio"]
        assert isinstance(video_path, VideoReceive) and isinstance(audio_path, AudioReceive)
        playout = PlayoutTrack(audio_path, tracks["audio"])

        frames: list[tuple[av.VideoFrame, float | None, float]] = []

        async def read_video() -> None:
            while len(frames) < 30:
                frame = await tracks["video"].recv()
                frames.append((frame, video_path.arrival_of(frame.pts), time.monotonic()))

        audio: list[np.ndarray] = []

        async def read_audio() -> None:
            while len(audio) < 150:  # 3 s
                audio.append((await playout.recv()).to_ndarray().reshape(-1))

        await asyncio.wait_for(asyncio.gather(read_video(), read_audio()), timeout=40)
    finally:
        await sender.close()
        await receiver.close()

    # video: decoded pictures, each traced to the moment its last packet arrived
    assert all(f.width == 320 and f.height == 180 for f, _, _ in frames)
    traced = [(arrived, decoded) for _, arrived, decoded in frames if arrived is not None]
    assert len(traced) >= 25
    decode_ms = sorted((decoded - arrived) * 1000 for arrived, decoded in traced)
    assert decode_ms[len(decode_ms) // 2] < 60, decode_ms  # not a frame interval (67 ms) behind
    stats = video_path.stats()
    assert stats["frames"] >= 30 and stats["frames_lost"] == 0

    # audio: the tone, played from a buffer that stayed shallow on a clean link
    heard = np.concatenate(audio[-50:])
    assert tone_power(heard, 440.0) > 100
    a = audio_path.stats()
    assert a["played"] >= 100 and a["concealed_lost"] == 0
    assert a["target_packets"] <= 4, a


class Lossy:
    """Drops every n-th packet before our receive path sees it (after aiortc's NACK bookkeeping,
    so nothing is retransmitted: a real loss)."""

    def __init__(self, path: object, every: int) -> None:
        self.path, self.every, self.seen, self.dropped = path, every, 0, 0

    def add(self, packet: object) -> tuple[bool, None]:
        self.seen += 1
        if self.seen % self.every == 0:
            self.dropped += 1
            return False, None
        return self.path.add(packet)  # type: ignore[attr-defined, no-any-return]


async def test_loss_through_real_peers_is_concealed_and_recovered() -> None:
    sender, receiver = RTCPeerConnection(), RTCPeerConnection()
    paths: dict[str, object] = {}
    lossy: dict[str, Lossy] = {}
    tracks: dict[str, MediaStreamTrack] = {}

    @receiver.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        paths[track.kind] = take_over_track(receiver, track)
        tracks[track.kind] = track
        for t in receiver.getTransceivers():
            if t.receiver.track is track:
                lossy[track.kind] = Lossy(paths[track.kind], 41 if track.kind == "video" else 23)
                t.receiver._RTCRtpReceiver__jitter_buffer = lossy[track.kind]

    sender.addTrack(ToneTrack(440.0))
    sender.addTrack(PatternTrack(width=320, height=180, fps=15))
    decoded: list[float] = []
    audio: list[np.ndarray] = []
    try:
        await connect(sender, receiver)
        video_path, audio_path = paths["video"], paths["audio"]
        assert isinstance(video_path, VideoReceive) and isinstance(audio_path, AudioReceive)
        playout = PlayoutTrack(audio_path, tracks["audio"])

        async def read_video() -> None:
            while len(decoded) < 60:
                await tracks["video"].recv()
                decoded.append(time.monotonic())

        async def read_audio() -> None:
            while len(audio) < 200:
                audio.append((await playout.recv()).to_ndarray().reshape(-1))

        await asyncio.wait_for(asyncio.gather(read_video(), read_audio()), timeout=60)
    finally:
        await sender.close()
        await receiver.close()
    v, a = video_path.stats(), audio_path.stats()
    assert lossy["video"].dropped > 0 and lossy["audio"].dropped > 0
    # video: damaged frames dropped, keyframes asked for, and the picture kept coming
    assert v["frames_lost"] > 0 and v["keyframe_requests"] > 0, v
    # (bounds with room for a busy machine: its stalls look like loss and jitter too)
    assert max(b - a for a, b in zip(decoded[5:], decoded[6:], strict=False)) < 1.5
    # audio: lost packets concealed (FEC or PLC; on a busy machine some fall in a flush after a
    # stall instead), the tone still there, hardly any silence
    assert a["concealed_lost"] >= 1 and a["fec"] + a["plc"] >= a["concealed_lost"], a
    heard = np.concatenate(audio[-100:])
    assert tone_power(heard, 440.0) > 100
    quiet = sum(np.abs(chunk.astype(np.int32)).mean() < 100 for chunk in audio[-100:])
    assert quiet <= 25, f"{quiet} of 100 frames silent"


async def test_concealment_is_not_silence() -> None:
    """The decoder's concealment continues the sound after a loss (libopus PLC)."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "mono", "s16"
    t = np.arange(48000) / 48000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    packets: list[bytes] = []
    for i in range(0, 48000, 960):
        frame = av.AudioFrame.from_ndarray(pcm[i : i + 960].reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts = 48000, i
        packets += [bytes(p) for p in encoder.encode(frame)]
    dec = OpusDecoder()
    for p in packets[:20]:
        dec.decode(p)
    concealed = dec.conceal(960)
    recovered = dec.recover(packets[22], 960)  # no FEC in these packets: concealed as well
    assert len(concealed) == 960 and len(recovered) == 960
    assert np.abs(concealed.astype(np.int32)).mean() > 500  # not silence
    dec.close()


def test_our_answer_asks_for_opus_fec() -> None:
    sdp = "\r\n".join([
        "v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 96 0", "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10",
        "m=video 9 UDP/TLS/RTP/SAVPF 102", "a=rtpmap:102 H264/90000", "a=fmtp:102 packetization-mode=1", "",
    ])
    lines = ask_for_opus_fec(sdp).split("\r\n")
    assert lines[lines.index("a=rtpmap:96 opus/48000/2") + 1] == "a=fmtp:96 useinbandfec=1"
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in lines
    assert "a=fmtp:102 packetization-mode=1" in lines and not any(line.startswith("a=fmtp:0") for line in lines)
    assert ask_for_opus_fec("\r\n".join(lines)) == "\r\n".join(lines)  # once is enough


def test_take_over_refuses_what_it_does_not_know() -> None:
    try:
        take_over(object())  # type: ignore[arg-type]
    except RuntimeError as exc:
        assert "jitter buffer" in str(exc)
    else:
        raise AssertionError("take_over accepted an object without a jitter buffer")


def test_other_aiortc_versions_are_refused_at_import() -> None:
    code = "import aiortc; aiortc.__version__ = '1.17.0'; import signaling.receiver"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, timeout=60)
    assert run.returncode != 0
    assert "aiortc 1.17.0 is installed" in run.stderr and "rtcrtpreceiver.py" in run.stderr


async def test_pod_reports_its_receive_path_and_hold_times(server_factory, api_factory) -> None:
    server = await server_factory("--video-size", "320x180", "--fps", "15", *LOOPBACK_MEDIA)
    api = api_factory(server)
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    tokens = {p["role"]: p for p in people}
    judge = Participant(server.url, tokens["judge"]["token"], ToneTrack(440.0), PatternTrack())
    plaintiff = Participant(server.url, tokens["plaintiff"]["token"], ToneTrack(660.0), PatternTrack())
    try:
        await judge.connect()
        await judge.act("open")
        await plaintiff.connect()
        await judge.act("admit", tokens["plaintiff"]["id"])
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await asyncio.gather(judge.start_media(), plaintiff.start_media())
        assert await wait_frames(judge, 20, timeout=20)
        await asyncio.sleep(1.0)
        stats = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
        metrics = (await api.request("GET", "/metrics", api.admin_key)).text
    finally:
        await asyncio.gather(judge.close(), plaintiff.close(), return_exceptions=True)
    latency = stats["latency"]
    for kind in ("video_hold_ms", "audio_hold_ms"):
        assert latency[kind]["samples"] > 0 and 0 <= latency[kind]["p50"] <= latency[kind]["p95"], latency
    assert latency["pictures_on_cameras"] + latency["pictures_on_deadline"] > 0
    for who in ("judge", "plaintiff"):
        receive = stats["uplinks"][tokens[who]["id"]]["receive"]
        assert receive["audio"]["played"] > 0 and receive["audio"]["target_packets"] >= 1, receive
        assert receive["audio"]["depth_ms"] >= 0 and receive["audio"]["jitter_ms"] >= 0
        assert receive["video"]["frames"] > 0, receive
    judge_id = tokens["judge"]["id"]
    assert f'courtroom_jitter_buffer_ms{{hearing="{hearing["id"]}",participant="{judge_id}"}}' in metrics
    assert "courtroom_uplink_jitter_ms{" in metrics
    assert f'courtroom_video_hold_ms{{hearing="{hearing["id"]}",quantile="p95"}}' in metrics
    assert f'courtroom_audio_hold_ms{{hearing="{hearing["id"]}",quantile="p50"}}' in metrics
