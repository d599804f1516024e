"""TURN as the README deploys it: a real coturn on loopback relays a participant who can only
reach the pod through it (relay-only ICE), and the hearing's picture and sound still flow."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCBundlePolicy, RTCIceTransportPolicy

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.conftest import free_port
from tests.media_helpers import LOOPBACK_MEDIA, eventually

USER, SECRET, REALM = "courtroom", "s3cret-for-tests", "court.test"


@pytest.fixture
def coturn(tmp_path):
    """coturn on 127.0.0.1 only, long-term credentials, loopback peers allowed (tests only)."""
    binary = shutil.which("turnserver")
    assert binary, "coturn is installed by `make setup` (Debian package coturn)"
    port = free_port()
    log = tmp_path / "turnserver.log"
    proc = subprocess.Popen(
        [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
         "--min-port=49160", "--max-port=49300", "--lt-cred-mech", f"--user={USER}:{SECRET}",
         f"--realm={REALM}", "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",
         "--no-multicast-peers", "--fingerprint", "--verbose", f"--log-file={log}", "--simple-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        yield port, log
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_a_participant_behind_turn_gets_the_hearing(coturn, server_factory, api_factory):
    port, log = coturn
    turn = f"turn:127.0.0.1:{port}?transport=udp"
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10",
                                  "--ice-server", f"{turn},{USER},{SECRET}")
    api = api_factory(server)
    hearing, (judge_p, party_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    judge = Participant(server.url, judge_p["token"], ToneTrack(440), PatternTrack(160, 90, 10))
    party = Participant(server.url, party_p["token"])  # its socket only; media through TURN below
    pc = RTCPeerConnection(RTCConfiguration(
        iceServers=[RTCIceServer(urls=turn, username=USER, credential=SECRET)],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,  # as if behind a NAT that blocks all else
        bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
    ))
    frames: list = []

    @pc.on("track")
    def on_track(track):
        async def read():
            while True:
                frames.append(await track.recv())

        if track.kind == "video":
            asyncio.ensure_future(read())

    try:
        await judge.connect()
        await judge.act("open")
        await party.connect()
        await judge.act("admit", party_p["id"])
        await judge.act("start")
        await judge.start_media()
        pc.addTransceiver(ToneTrack(660), direction="sendrecv")
        pc.addTransceiver(PatternTrack(160, 90, 10), direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        assert "typ relay" in offer and "typ host" not in offer, "the party must offer relay candidates only"
        n = len(party.messages)
        await party.send({"type": "offer", "sdp": offer})
        assert await eventually(lambda: any(m["type"] == "answer" for m in party.messages[n:]), 10)
        answer = next(m for m in party.messages[n:] if m["type"] == "answer")
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        assert await eventually(lambda: len(frames) >= 10, 20), "no picture through TURN"
        stats = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
        assert stats["uplinks"][party_p["id"]]["video_frames_in"] > 0, "the party's camera did not arrive through TURN"
        text = log.read_text(errors="replace")
        assert "ALLOCATE" in text.upper() or "allocation" in text.lower(), "coturn saw no allocation"
    finally:
        await pc.close()
        await judge.close()
        await party.close()
