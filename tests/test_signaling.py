"""The signaling socket's failure paths: each bad message gets an error, the socket lives on."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.media_helpers import LOOPBACK_MEDIA, eventually, tone_power, wait_frames


@pytest.fixture
async def judge_socket(server_factory, api_factory):
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180")
    api = api_factory(server)
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("observer", "旁听者"))
    return server, api, hearing, {p["role"]: p for p in people}


async def _errors_after(peer: Participant, send, count_before: int, timeout: float = 5.0) -> dict:
    """The first error message that arrives after `count_before` messages."""
    await send()

    def new_error() -> dict | None:
        return next((m for m in peer.messages[count_before:] if m["type"] == "error"), None)

    assert await eventually(lambda: new_error() is not None, timeout), "no error message came back"
    error = new_error()
    assert error is not None
    return error


async def test_bad_messages_get_errors_and_the_socket_lives(judge_socket):
    server, api, hearing, people = judge_socket
    judge = Participant(server.url, people["judge"]["token"])
    await judge.connect()
    try:
        cases = [
            ("not json {", "malformed_json"),
            (json.dumps([1, 2]), "bad_message"),
            (json.dumps({"type": 5}), "bad_message"),
            (json.dumps({"type": "dance"}), "unknown_type"),
            (json.dumps({"type": "offer", "sdp": "v=0\r\nnonsense"}), "bad_sdp"),
            (json.dumps({"type": "offer", "sdp": 42}), "bad_sdp"),
            (json.dumps({"type": "candidate", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}), "bad_sdp"),
            (json.dumps({"type": "action", "action": "fly"}), "unknown_action"),
            (json.dumps({"type": "action", "action": "start"}), "invalid_state"),
            (json.dumps({"type": "action", "action": "admit", "participant": "nobody"}), "invalid_state"),
            (json.dumps({"type": "x", "pad": "a" * 300_000}), "too_large"),
        ]
        for text, code in cases:
            n = len(judge.messages)
            assert judge._ws is not None
            error = await _errors_after(judge, lambda t=text: judge._ws.send_str(t), n)
            assert error["code"] == code, (text[:60], error)
            assert "Traceback" not in error["message"]
        # Still alive: a ping is answered and an action works.
        await judge.send({"type": "ping", "t": 1})
        await judge.wait_for(lambda m: m["type"] == "pong")
        await judge.act("open")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "open")
        n = len(judge.messages)
        error = await _errors_after(judge, lambda: judge.act("admit", "nobody"), n)
        assert error["code"] == "not_found"
        # A malformed SDP on a live hearing is refused and the next good offer still works.
        n = len(judge.messages)
        error = await _errors_after(judge, lambda: judge.send({"type": "offer", "sdp": "v=0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}), n)
        assert error["code"] == "bad_sdp"
        judge.video = PatternTrack()
        judge.audio = ToneTrack(440)
        await judge.act("start")
        await judge.start_media()
        assert await wait_frames(judge, 5, timeout=10)
    finally:
        await judge.close()


async def test_socket_auth_failures(judge_socket):
    server, api, hearing, people = judge_socket
    async with aiohttp.ClientSession() as session:
        for token, code in (("", "unauthorized"), ("garbage", "bad_token"), (people["judge"]["token"] + "x", "bad_token")):
            async with session.get(f"{server.url}/ws?token={token}") as r:
                assert r.status == 401
                assert (await r.json())["error"] == code
        expired = server.signer(ttl=-10).issue(hearing["id"], people["plaintiff"]["id"], "plaintiff", "n")
        async with session.get(f"{server.url}/ws?token={expired}") as r:
            assert r.status == 401 and (await r.json())["error"] == "token_expired"


async def test_observer_watches_but_is_not_heard_and_replaced_socket(judge_socket):
    server, api, hearing, people = judge_socket
    judge = Participant(server.url, people["judge"]["token"], ToneTrack(440), PatternTrack())
    observer = Participant(server.url, people["observer"]["token"], ToneTrack(880), PatternTrack())
    await judge.connect()
    await judge.act("open")
    await observer.connect()
    await judge.act("admit", people["observer"]["id"])
    await judge.act("start")
    try:
        await judge.start_media()
        await observer.start_media()
        assert await wait_frames(observer, 10, timeout=10), "the observer does not see the hearing"
        await asyncio.sleep(2)
        audio = judge.recent_audio(1.5)
        assert tone_power(audio, 880) < 50, "the observer's microphone reached the hearing"
        # The observer opens the link again elsewhere: the first socket is told and closed.
        second = Participant(server.url, people["observer"]["token"])
        await second.connect()
        await observer.wait_for(lambda m: m["type"] == "error" and m["code"] == "replaced")
        await second.close()
    finally:
        await judge.close()
        await observer.close()


async def test_renegotiation_adds_a_camera_to_a_live_peer(judge_socket):
    """A participant joins with a microphone only, then turns a camera on: a new offer on the
    same peer; the server answers and the picture starts flowing both ways."""
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.rtcconfiguration import RTCBundlePolicy

    server, api, hearing, people = judge_socket
    judge = Participant(server.url, people["judge"]["token"])
    await judge.connect()
    await judge.act("open")
    await judge.act("start")
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    frames = []

    @pc.on("track")
    def on_track(track):
        async def read():
            while True:
                frames.append(await track.recv())

        if track.kind == "video":
            asyncio.ensure_future(read())

    async def negotiate() -> None:
        await pc.setLocalDescription(await pc.createOffer())
        n = len(judge.messages)
        await judge.send({"type": "offer", "sdp": pc.localDescription.sdp})
        assert await eventually(lambda: any(m["type"] == "answer" for m in judge.messages[n:]), 10)
        answer = next(m for m in judge.messages[n:] if m["type"] == "answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))

    try:
        pc.addTransceiver(ToneTrack(440), direction="sendrecv")
        await negotiate()
        await asyncio.sleep(1.0)
        assert not frames, "no video m-line yet, so no picture"
        pc.addTransceiver(PatternTrack(), direction="sendrecv")
        await negotiate()
        assert await eventually(lambda: len(frames) >= 10, 10), "no picture after adding the camera"
        stats = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
        assert stats["uplinks"][people["judge"]["id"]]["video_frames_in"] > 0, "the new camera does not reach the room"
    finally:
        await pc.close()
        await judge.close()
