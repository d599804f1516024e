"""Resources follow hearings (issue 16): no encoding with nobody connected, per-hearing tables
pruned at close, a fair WebSocket writer under a burst, presence events rate-limited, slow
bodies and idle connections cut off, a closed hearing's live playlist gone."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.conftest import Api, CourtroomServer, make_server
from tests.hostile import CASES, RawWebSocket, head, raw_request
from tests.media_helpers import LOOPBACK_MEDIA, eventually, wait_frames


@pytest.fixture(scope="module")
def tight_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourtroomServer]:
    base = tmp_path_factory.mktemp("tight")
    config = base / "tight.toml"
    config.write_text("body_timeout = 1.0\nidle_timeout = 1.0\n")
    server = make_server(base, "--config", str(config), *LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10")
    server.start_sync()
    try:
        yield server
    finally:
        server.terminate()


async def _held(api: Api) -> dict[str, float]:
    text = (await api.request("GET", "/metrics", api.admin_key)).text
    return {m[1]: float(m[2]) for m in re.finditer(r'courtroom_held_entries\{table="([a-z_]+)"\} (\S+)', text)}


async def _encoded(api: Api, hid: str) -> float:
    stats = (await api.request("GET", f"/api/hearings/{hid}/stats", api.admin_key)).json
    return float(stats.get("frames_encoded", 0))


async def test_no_encoding_with_nobody_connected_and_tables_pruned_at_close(tight_server, api_factory) -> None:
    api: Api = api_factory(tight_server)
    hearings = []
    for _ in range(3):
        hearing, (judge_p,) = await api.hearing_with(("judge", "王法官"))
        await api.act(hearing["id"], "open")
        await api.act(hearing["id"], "start", token=judge_p["token"])
        hearings.append((hearing["id"], judge_p))
    await asyncio.sleep(1.5)  # 15 picture ticks at 10 fps
    for hid, _ in hearings:
        assert await _encoded(api, hid) == 0, "a hearing with nobody connected encoded its picture"
    # A participant with media: the picture is made for them and the record; gone again after.
    hid, judge_p = hearings[0]
    judge = Participant(tight_server.url, judge_p["token"], ToneTrack(440), PatternTrack(160, 90, 10))
    await judge.connect()
    try:
        await judge.start_media()
        assert await wait_frames(judge, 5, timeout=15)
        assert await _encoded(api, hid) > 0
    finally:
        await judge.close()
    assert await eventually(lambda: True, 0.5)
    before = await _encoded(api, hid)
    await asyncio.sleep(1.0)
    assert await _encoded(api, hid) - before <= 2, "encoding went on after the last participant left"
    held = await _held(api)
    assert held["rooms"] == 3 and held["court_clocks"] >= 3, held
    for hid, judge_p in hearings:
        await api.act(hid, "close", token=judge_p["token"])

    async def all_free() -> bool:
        held = await _held(api)
        return all(v == 0 for k, v in held.items() if k != "presence_budgets")

    for _ in range(100):
        if await all_free():
            break
        await asyncio.sleep(0.1)
    held = await _held(api)
    assert all(v == 0 for k, v in held.items() if k != "presence_budgets"), held
    CASES["resources"] += 2


async def test_a_burst_of_300_messages_from_a_reading_client_is_answered(tight_server, api_factory) -> None:
    api: Api = api_factory(tight_server)
    _, (judge_p,) = await api.hearing_with(("judge", "王法官"))
    ws = await RawWebSocket.connect(tight_server.port, f"/ws?token={judge_p['token']}")
    try:
        # All 300 in one TCP write: the server parses them at once and reads them from its
        # buffer without the loop ever switching, unless the reader yields to the writer.
        ws.send_all([json.dumps({"type": "ping", "t": i}) for i in range(300)])
        pongs: set[int] = set()
        while len(pongs) < 300:
            opcode, payload = await asyncio.wait_for(ws.receive(), 15)
            assert opcode != 8, f"closed after {len(pongs)} pongs: {payload!r}"
            m = json.loads(payload)
            if m["type"] == "pong":
                pongs.add(m["t"])
    finally:
        ws.close()
    CASES["resources"] += 1


async def _state_of(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The first state message (a socket first gets its ICE servers)."""
    while True:
        message = json.loads((await ws.receive(timeout=10)).data)
        if message["type"] == "state":
            return message


async def test_a_reconnect_storm_does_not_grow_the_event_log_without_bound(tight_server, api_factory) -> None:
    api: Api = api_factory(tight_server)
    hearing, (_, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    url = tight_server.url.replace("http", "ws") + f"/ws?token={plaintiff_p['token']}"
    async with aiohttp.ClientSession() as session:
        for _ in range(40):
            ws = await session.ws_connect(url)
            await _state_of(ws)
            await ws.close()
    await asyncio.sleep(0.5)
    presence = [e for e in await api.events(hearing["id"])
                if e["kind"] in ("participant.join", "participant.return", "participant.drop")]
    assert 10 <= len(presence) <= 14, len(presence)  # a burst of 10, then one per 10 s
    # The participant still connects, and the hearing still knows it.
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(url)
        state = await _state_of(ws)
        assert state["you"]["connected"] is True
        await ws.close()
    CASES["resources"] += 1


async def test_a_body_sent_one_byte_at_a_time_is_cut_off(tight_server, api_factory) -> None:
    api: Api = api_factory(tight_server)
    body = json.dumps({"case_number": "(2026)京0491民初5号"}).encode()
    for path, ctype in (("/api/hearings", b"application/json"),
                        ("/public/verify", b"multipart/form-data; boundary=X")):
        reader, writer = await asyncio.open_connection("127.0.0.1", tight_server.port)
        lines = [f"POST {path} HTTP/1.1".encode(), b"Host: x", b"Connection: close",
                 b"Authorization: Bearer " + api.admin_key.encode(), b"Content-Type: " + ctype,
                 f"Content-Length: {len(body) + 1000}".encode()]
        writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        if ctype.startswith(b"multipart"):
            writer.write(b'--X\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n')
        t0 = time.monotonic()
        answer = b""
        for byte in body * 10:  # one byte every 50 ms, far longer than body_timeout (1 s)
            try:
                writer.write(bytes([byte]))
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.05)
            if reader.at_eof() or len(reader._buffer) > 0:  # type: ignore[attr-defined]
                break
        # The answer comes at once (aiohttp then lingers on the rest of the body for a while).
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        length = int(re.search(rb"Content-Length: (\d+)", answer, re.I)[1])  # type: ignore[index]
        answer += await asyncio.wait_for(reader.readexactly(length), 10)
        elapsed = time.monotonic() - t0
        writer.close()
        assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
        assert b"body_timeout" in answer and elapsed < 6, elapsed
        CASES["resources"] += 1


async def test_idle_connections_are_closed(tight_server) -> None:
    for opening in (b"", b"GET /healthz HTTP/1.1\r\nHost: x\r\n"):  # nothing; headers never finished
        reader, writer = await asyncio.open_connection("127.0.0.1", tight_server.port)
        writer.write(opening)
        t0 = time.monotonic()
        data = await asyncio.wait_for(reader.read(), 10)
        assert data == b"" and time.monotonic() - t0 < 4
        writer.close()
        CASES["resources"] += 1
    # An ordinary request on the same server is untouched.
    reply = await raw_request(tight_server.port, head("GET", "/healthz"))
    assert reply.status == 200

