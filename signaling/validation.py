"""Input checks at the edge, in one place for HTTP and the WebSocket.

Everything a client sends is checked here before the domain sees it: header bytes, JSON
(size, nesting depth, numbers that are finite and in range), integer query and path
parameters, ICE candidates. A failure is an `EdgeError` (a code and a message) that the HTTP
side answers with a 4xx and the WebSocket side with an `error` message on a socket that
stays open.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from courtroom.config import Config

# The pod's configuration, for limits read at the edge (body_timeout) without importing the pod.
EDGE_CONFIG = web.AppKey("edge_config", Config)

MAX_JSON_DEPTH = 32
# Integers a client may send: within a signed 64-bit column (SQLite's INTEGER), and floats
# below it too, so that nothing becomes `Infinity` or overflows a store column later.
MAX_INT = (1 << 63) - 1
MAX_FLOAT = 1e18
MAX_CANDIDATE_CHARS = 1024
MAX_SDP_MID_CHARS = 64


@dataclass
class EdgeError(Exception):
    status: int
    code: str
    message: str

    def __str__(self) -> str:
        return self.message


# --- header bytes -------------------------------------------------------------------------

_HEADER_TEXT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")


def credential_text(value: str) -> str:
    """A credential from a header or query: printable ASCII only. aiohttp hands over header
    bytes that are not UTF-8 as surrogate escapes, which no comparison may ever see."""
    if len(value) > 4096 or not _HEADER_TEXT.fullmatch(value):
        raise EdgeError(401, "unauthorized", "the credential must be printable ASCII")
    return value


# --- JSON ----------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects, strings left out (brackets in them count
    for nothing). Checked before parsing: the parser would recurse once per level."""
    depth = deepest = 0
    for m in _BRACKET.finditer(_STRING.sub('""', text)):
        if m.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _no_constant(name: str) -> Any:
    raise EdgeError(400, "malformed_json", f"{name} is not a JSON number")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or abs(value) > MAX_FLOAT:
        raise EdgeError(400, "malformed_json", f"the number {text[:40]} is out of range")
    return value


def _int(text: str) -> int:
    if len(text.lstrip("-")) > 19:
        raise EdgeError(400, "malformed_json", f"the number {text[:40]}… is out of range")
    value = int(text)
    if abs(value) > MAX_INT:
        raise EdgeError(400, "malformed_json", f"the number {text} is out of range")
    return value


def parse_json(raw: bytes | str, limit: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON value: at most `limit` bytes, `max_depth` levels, finite numbers in range."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise EdgeError(413, "too_large", f"the body is larger than {limit} bytes")
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError:
        raise EdgeError(400, "malformed_json", "the body is not UTF-8") from None
    if json_depth(text) > max_depth:
        raise EdgeError(400, "malformed_json", f"JSON may nest at most {max_depth} levels")
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_float, parse_int=_int)
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise EdgeError(400, "malformed_json", "the body is not valid JSON") from None


def json_object(raw: bytes | str, limit: int) -> dict[str, Any]:
    value = parse_json(raw, limit)
    if not isinstance(value, dict):
        raise EdgeError(400, "malformed_json", "the body must be a JSON object")
    return value


# --- numbers in the URL --------------------------------------------------------------------


def bounded_int(text: str, name: str, low: int = 0, high: int = MAX_INT, code: str = "invalid_field") -> int:
    """An integer query or path parameter: digits only, within [low, high]."""
    stripped = text[1:] if text.startswith("-") else text
    if not stripped.isdigit() or not stripped.isascii() or len(stripped) > 19:
        raise EdgeError(400, code, f"{name} must be an integer from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise EdgeError(400, code, f"{name} must be an integer from {low} to {high}")
    return value


# --- ICE candidates ------------------------------------------------------------------------

_FOUNDATION = re.compile(r"[A-Za-z0-9+/]{1,32}")
_MDNS_NAME = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.local")
_TYPES = frozenset({"host", "srflx", "prflx", "relay"})
_TCP_TYPES = frozenset({"active", "passive", "so"})


def _address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return len(text) <= 253 and bool(_MDNS_NAME.fullmatch(text))  # a browser's mDNS name


def _port(text: str) -> bool:
    return text.isdigit() and text.isascii() and len(text) <= 5 and int(text) <= 65535


@dataclass(frozen=True)
class CandidateMessage:
    text: str  # without the `candidate:` prefix
    sdp_mid: str | None
    sdp_mline_index: int | None


def check_candidate(message: dict[str, Any]) -> CandidateMessage | None:
    """A trickled candidate (RFC 8839 grammar) and where it belongs; None at the end of
    candidates. Raises EdgeError(bad_sdp) with what is wrong."""
    candidate = message.get("candidate")
    if candidate in (None, ""):
        return None
    if not isinstance(candidate, str) or len(candidate) > MAX_CANDIDATE_CHARS:
        raise EdgeError(400, "bad_sdp", f"candidate must be a string of at most {MAX_CANDIDATE_CHARS} characters")
    if not candidate.isascii() or not candidate.isprintable():
        raise EdgeError(400, "bad_sdp", "candidate must be printable ASCII")
    text = candidate.removeprefix("a=").removeprefix("candidate:")
    bits = text.split(" ")
    if len(bits) < 8 or bits[6] != "typ":
        raise EdgeError(400, "bad_sdp", "candidate must be: foundation component transport priority address port typ type")
    foundation, component, transport, priority, address, port, _, kind = bits[:8]
    if not _FOUNDATION.fullmatch(foundation):
        raise EdgeError(400, "bad_sdp", "bad candidate foundation")
    if not (component.isdigit() and len(component) <= 3 and 1 <= int(component) <= 256):
        raise EdgeError(400, "bad_sdp", "bad candidate component")
    if transport.lower() not in ("udp", "tcp"):
        raise EdgeError(400, "bad_sdp", "candidate transport must be udp or tcp")
    if not (priority.isdigit() and len(priority) <= 10 and int(priority) < 1 << 32):
        raise EdgeError(400, "bad_sdp", "bad candidate priority")
    if not _address(address) or not _port(port):
        raise EdgeError(400, "bad_sdp", "bad candidate address or port")
    if kind not in _TYPES:
        raise EdgeError(400, "bad_sdp", "candidate type must be host, srflx, prflx or relay")
    rest = bits[8:]
    if len(rest) % 2:
        raise EdgeError(400, "bad_sdp", "candidate extensions come in name value pairs")
    for name, value in zip(rest[::2], rest[1::2], strict=True):
        if (name == "raddr" and not _address(value)) or (name == "rport" and not _port(value)) or (
            name == "tcptype" and value not in _TCP_TYPES
        ):
            raise EdgeError(400, "bad_sdp", f"bad candidate {name}")
    mid = message.get("sdpMid")
    index = message.get("sdpMLineIndex")
    if mid is not None and (not isinstance(mid, str) or not mid or len(mid) > MAX_SDP_MID_CHARS or not mid.isprintable()):
        raise EdgeError(400, "bad_sdp", "sdpMid must be a short string")
    if index is not None and (isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < 64):
        raise EdgeError(400, "bad_sdp", "sdpMLineIndex must be an integer from 0 to 63")
    if mid is None and index is None:
        raise EdgeError(400, "bad_sdp", "a candidate needs sdpMid or sdpMLineIndex")
    return CandidateMessage(text, mid, index)


# --- what aiohttp's own parser refuses -----------------------------------------------------


class OneLineParserErrors(logging.Filter):
    """aiohttp answers a malformed request (control bytes in a header, a bad request line)
    with a 400 itself, and logs a full traceback for each: anyone could fill the log with
    them. One warning line is enough."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], BadHttpMessage):
            record.msg = "refused a malformed request: %s"
            record.args = (str(record.exc_info[1]).splitlines()[0][:200],)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_parser_errors() -> None:
    logger = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, OneLineParserErrors) for f in logger.filters):
        logger.addFilter(OneLineParserErrors())


# --- bodies that do not move ----------------------------------------------------------------

T = TypeVar("T")


class BodyPace:
    """A request body must keep moving: no pause longer than `idle` seconds, and after
    `grace` seconds an average of at least `min_rate` bytes a second. A body sent one byte
    at a time is cut off with 408 instead of holding a request open indefinitely."""

    def __init__(self, idle: float, min_rate: float = 16 * 1024, grace: float | None = None) -> None:
        self.idle = idle
        self.min_rate = min_rate
        self.grace = idle if grace is None else grace
        self.started = time.monotonic()

    async def read(self, pending: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self.idle):
                return await pending
        except TimeoutError:
            raise EdgeError(408, "body_timeout", f"the request body stopped for {self.idle:g} s") from None

    @classmethod
    def for_request(cls, request: web.Request, default_idle: float, min_rate: float) -> BodyPace:
        config = request.config_dict.get(EDGE_CONFIG)
        return cls(idle=config.body_timeout if config is not None else default_idle, min_rate=min_rate)

    def check(self, received: int) -> None:
        elapsed = time.monotonic() - self.started
        if elapsed > self.grace and received < self.min_rate * elapsed:
            raise EdgeError(408, "body_timeout", f"the request body arrives too slowly (under {self.min_rate / 1024:g} KiB/s)")
