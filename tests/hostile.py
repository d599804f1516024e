"""Helpers of the hostile-input suite: raw bytes on a loopback socket, and case counting.

aiohttp's client refuses to send much of what an attacker would (header bytes that are not
UTF-8, a body one byte at a time), so these requests are written by hand.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

# How many hostile cases each test tried, by kind (printed at the end of a run with -s).
CASES: Counter[str] = Counter()


@dataclass
class RawReply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


async def raw_request(port: int, head: bytes, body: bytes = b"", timeout: float = 10.0) -> RawReply:
    """One HTTP/1.1 request written as bytes; the answer read to the end (Connection: close)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head + b"\r\n" + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    return parse_reply(data)


def parse_reply(data: bytes) -> RawReply:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        out = b""
        while body:
            size_text, _, rest = body.partition(b"\r\n")
            size = int(size_text, 16)
            if size == 0:
                break
            out += rest[:size]
            body = rest[size + 2:]
        body = out
    return RawReply(status, headers, body)


def head(method: str, path: str, *headers: bytes, body_length: int | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Connection: close", *headers]
    if body_length is not None:
        lines += [b"Content-Type: application/json", f"Content-Length: {body_length}".encode()]
    return b"\r\n".join(lines) + b"\r\n"


async def raw_json(port: int, method: str, path: str, auth: bytes, body: bytes) -> RawReply:
    return await raw_request(port, head(method, path, b"Authorization: " + auth, body_length=len(body)), body)


def assert_edge_error(reply: RawReply, status: int, code: str | None = None) -> None:
    assert reply.status == status, (reply.status, reply.body[:300])
    assert b"Traceback" not in reply.body
    data = reply.json
    assert isinstance(data, dict) and set(data) == {"error", "message"}, reply.body[:300]
    if code is not None:
        assert data["error"] == code, data


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --- a raw WebSocket client: many frames in one write --------------------------------------


class RawWebSocket:
    """Just enough of RFC 6455 to write a burst of frames in one TCP write, as a client that
    pipelines would, and read the server's text frames back."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(cls, port: int, path: str) -> RawWebSocket:
        import base64
        import os

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16))
        writer.write(b"\r\n".join([f"GET {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", b"Upgrade: websocket",
                                   b"Connection: Upgrade", b"Sec-WebSocket-Key: " + key,
                                   b"Sec-WebSocket-Version: 13"]) + b"\r\n\r\n")
        answer = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        assert answer.startswith(b"HTTP/1.1 101"), answer
        return cls(reader, writer)

    @staticmethod
    def frame(text: str) -> bytes:
        import os

        payload = text.encode()
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def send_all(self, texts: list[str]) -> None:
        self.writer.write(b"".join(self.frame(t) for t in texts))

    async def receive(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next frame from the server (never masked)."""
        b0, b1 = await self.reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await self.reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await self.reader.readexactly(8), "big")
        return b0 & 0x0F, await self.reader.readexactly(n)

    def close(self) -> None:
        self.writer.close()
