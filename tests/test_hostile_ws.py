"""Hostile WebSocket input: every bad message gets an `error` message and the socket stays open.

Before issue 16 a message nested 1,000 deep killed the socket with an HTTP 500 written into
the upgraded stream, and a bad ICE candidate after the offer answered `internal`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

import pytest

from loadtest.participant import Participant
from tests.conftest import Api, CourtroomServer, make_server
from tests.hostile import CASES, nested
from tests.media_helpers import LOOPBACK_MEDIA, wait_frames

pytestmark = pytest.mark.asyncio
_pings = itertools.count(1)


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourtroomServer]:
    server = make_server(tmp_path_factory.mktemp("hostile_ws"), *LOOPBACK_MEDIA, "--video-size", "320x180")
    server.start_sync()
    try:
        yield server
    finally:
        server.terminate()


async def answer_to(peer: Participant, text: str | bytes) -> list[dict]:
    """What the server said to one raw message: everything before the pong that follows it."""
    assert peer._ws is not None and not peer._ws.closed
    before = len(peer.messages)
    if isinstance(text, bytes):
        await peer._ws.send_bytes(text)
    else:
        await peer._ws.send_str(text)
    t = next(_pings)
    await peer.send({"type": "ping", "t": t})
    await peer.wait_for(lambda m: m["type"] == "pong" and m.get("t") == t, timeout=10)
    idx = next(i for i, m in enumerate(peer.messages) if m["type"] == "pong" and m.get("t") == t)
    return peer.messages[before:idx]


def error_code(answer: list[dict]) -> str | None:
    errors = [m for m in answer if m["type"] == "error"]
    assert len(errors) <= 1, errors
    if errors:
        assert "Traceback" not in errors[0]["message"]
        return str(errors[0]["code"])
    return None


MESSAGES: list[tuple[str | bytes, str]] = [
    (nested(1000), "malformed_json"),
    ('{"type": "ping", "t": ' + nested(1000) + "}", "malformed_json"),
    ('{"a":' * 1000 + "1" + "}" * 1000, "malformed_json"),
    ("[" * 50000, "malformed_json"),
    ('{"type": "ping", "t": ' + nested(40) + "}", "malformed_json"),
    ('{"type": "ping", "t": 1e999}', "malformed_json"),
    ('{"type": "ping", "t": NaN}', "malformed_json"),
    ('{"type": "ping", "t": -Infinity}', "malformed_json"),
    ('{"type": "ping", "t": 123456789012345678901234567890}', "malformed_json"),
    ('{"type": "ping", "t": ' + "9" * 5000 + "}", "malformed_json"),
    ('{"type": "pi\\udcffng"}', "unknown_type"),  # a lone surrogate, escaped
    ("\x00", "malformed_json"),
    ("", "malformed_json"),
    ('"just a string"', "bad_message"),
    ("null", "bad_message"),
    ('{"type": ["offer"]}', "bad_message"),
    ('{"type": null}', "bad_message"),
    ('{"type": "' + "x" * 10000 + '"}', "unknown_type"),
    ('{"type": "提交"}', "unknown_type"),
    ('{"type": "action", "action": null}', "invalid_field"),
    ('{"type": "action", "action": {"a": 1}}', "invalid_field"),
    ('{"type": "action", "action": "' + "a" * 5000 + '"}', "unknown_action"),
    ('{"type": "offer", "sdp": ' + nested(10) + "}", "bad_sdp"),
    ('{"type": "offer", "sdp": "v=0\\u0000\\nm=audio"}', "bad_sdp"),
    ('{"type": "offer", "sdp": "' + "v=0\\r\\n" + "a=x\\r\\n" * 20000 + '"}', "bad_sdp"),
    ('{"type": "candidate", "candidate": 5, "sdpMid": "0"}', "bad_sdp"),
    (b"\x00\xff binary", "bad_message"),
]


async def test_bad_messages_before_media(media_server: CourtroomServer, api_factory) -> None:
    api: Api = api_factory(media_server)
    _, people = await api.hearing_with(("judge", "王法官"))
    judge = Participant(media_server.url, people[0]["token"])
    await judge.connect()
    try:
        for text, code in MESSAGES:
            assert error_code(await answer_to(judge, text)) == code, (str(text)[:80], judge.messages[-3:])
            CASES["ws message"] += 1
        await judge.act("open")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "open")
    finally:
        await judge.close()


GOOD = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host"
CANDIDATES: list[dict] = [
    {"candidate": "garbage", "sdpMid": "0"},
    {"candidate": "candidate:garbage", "sdpMid": "0"},
    {"candidate": GOOD + "\x00", "sdpMid": "0"},
    {"candidate": GOOD},  # neither sdpMid nor sdpMLineIndex
    {"candidate": GOOD, "sdpMid": 5},
    {"candidate": GOOD, "sdpMid": ""},
    {"candidate": GOOD, "sdpMid": "x" * 500},
    {"candidate": GOOD, "sdpMLineIndex": -1},
    {"candidate": GOOD, "sdpMLineIndex": True},
    {"candidate": GOOD, "sdpMLineIndex": 10**12},
    {"candidate": GOOD, "sdpMLineIndex": "0"},
    {"candidate": "candidate:1 1 udp 2130706431 127.0.0.1 70000 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 99999999999999 127.0.0.1 9 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 0 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 sctp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 999.1.1.1 9 typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ evil", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 kind host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ srflx raddr", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ srflx raddr ::g rport 1", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host tcptype sideways", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 127.0.0.1 ٩ typ host", "sdpMid": "0"},
    {"candidate": "candidate:1 1 udp 1 主机.local 9 typ host", "sdpMid": "0"},
    {"candidate": "candidate:" + "x " * 600, "sdpMid": "0"},
    {"candidate": ["candidate:1"], "sdpMid": "0"},
]


async def test_bad_candidates_after_the_offer_are_bad_sdp(media_server: CourtroomServer, api_factory) -> None:
    api: Api = api_factory(media_server)
    _, people = await api.hearing_with(("judge", "王法官"))
    judge = Participant(media_server.url, people[0]["token"])
    await judge.connect()
    try:
        await judge.act("open")
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await judge.start_media()
        assert await wait_frames(judge, 3, timeout=15)
        for candidate in CANDIDATES:
            text = json.dumps({"type": "candidate", **candidate})
            assert error_code(await answer_to(judge, text)) == "bad_sdp", candidate
            CASES["ws candidate"] += 1
        # Good ones are still taken: with the a= prefix, with sdpMLineIndex only, an mDNS name, the end.
        for candidate in ({"candidate": "a=" + GOOD, "sdpMid": "0"},
                          {"candidate": GOOD, "sdpMLineIndex": 0},
                          {"candidate": "candidate:2 1 udp 1 3f2a-11.local 9 typ host", "sdpMid": "0"},
                          {"candidate": "candidate:3 1 tcp 1 127.0.0.1 9 typ host tcptype passive", "sdpMid": "0"},
                          {"candidate": ""}, {"candidate": None}):
            assert error_code(await answer_to(judge, json.dumps({"type": "candidate", **candidate}))) is None, candidate
        # The socket and the media lived through it.
        assert await wait_frames(judge, 5, timeout=10)
        assert "Traceback" not in media_server.log()
    finally:
        await judge.close()
