"""SDP checks and the public-address rewrite, and the ICE configuration the pod passes aiortc."""

from __future__ import annotations

import pytest

from courtroom.config import Config, IceServer
from signaling.peer import rtc_configuration
from signaling.sdp import SdpError, announce_address, check_offer

ANSWER = "\r\n".join([
    "v=0",
    "o=- 1 1 IN IP4 0.0.0.0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host",
    "a=candidate:2 1 udp 1694498815 203.0.113.9 40000 typ srflx raddr 10.0.0.5 rport 40000",
    "",
])


def test_host_candidates_announce_the_public_address_and_keep_their_port():
    out = announce_address(ANSWER, "198.51.100.7")
    assert "198.51.100.7 40000 typ host" in out
    assert "10.0.0.5 40000 typ host" not in out
    assert "203.0.113.9 40000 typ srflx" in out  # other candidates untouched


def test_a_bad_public_address_is_refused():
    with pytest.raises(ValueError):
        announce_address(ANSWER, "not-an-ip")


@pytest.mark.parametrize("sdp", [None, "", 42, "hello", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n", "v=0" + "x" * 70000])
def test_what_is_not_an_offer_is_refused_before_aiortc_sees_it(sdp):
    with pytest.raises(SdpError):
        check_offer(sdp)


def test_no_third_party_stun_server_unless_configured():
    assert rtc_configuration(Config()).iceServers == []
    turn = IceServer.parse("turn:turn.example.org:3478?transport=udp,court,secret")
    configured = rtc_configuration(Config(ice_servers=(turn,))).iceServers
    assert [(s.urls, s.username, s.credential) for s in configured] == [(turn.urls, "court", "secret")]


@pytest.mark.parametrize("text", ["http://x", "turn:a,b", "turn:a,b,c,d"])
def test_bad_ice_server_settings_are_refused(text):
    with pytest.raises(ValueError):
        IceServer.parse(text)
