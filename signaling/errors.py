"""Errors at the edge: every failure is `{"error": code, "message": text}`, never a traceback."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from courtroom.auth import AuthError
from courtroom.court import InvalidInput
from courtroom.leases import HeldElsewhere
from courtroom.postgres import DatabaseUnavailable
from courtroom.procedure import ActionRefused
from courtroom.store import NotFound

from .validation import EDGE_CONFIG, EdgeError, json_object

DEFAULT_BODY_TIMEOUT = 10.0  # seconds for a whole JSON body (config body_timeout)

log = logging.getLogger("courtroom.http")


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def error_response(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def classify(exc: BaseException) -> tuple[int, str, str] | None:
    """Map a domain exception onto (status, code, message); None for an unexpected one."""
    if isinstance(exc, ApiError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, EdgeError):
        return exc.status, exc.code, exc.message
    if isinstance(exc, ActionRefused):
        return exc.status, exc.code, exc.message
    if isinstance(exc, InvalidInput):
        return 400, exc.code, exc.message
    if isinstance(exc, AuthError):
        return 401, exc.code, exc.message
    if isinstance(exc, NotFound):
        return 404, "not_found", str(exc)
    if isinstance(exc, HeldElsewhere):
        return 409, "held_elsewhere", f"{exc}; try again shortly"
    if isinstance(exc, DatabaseUnavailable):
        return 503, "store_unavailable", "the court's database cannot be reached now; nothing was stored: try again"
    return None


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
        }.get(exc.status, exc.reason.lower().replace(" ", "_"))
        return error_response(exc.status, code, exc.text or exc.reason)
    except Exception as exc:  # noqa: BLE001 - the edge: nothing leaks out as a traceback
        mapped = classify(exc)
        if mapped is not None:
            return error_response(*mapped)
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response(500, "internal", "the server could not complete this request")


async def read_json(request: web.Request, limit: int, timeout: float | None = None) -> dict[str, object]:
    """A JSON object body, bounded in size and in time (the whole body within `body_timeout` s)."""
    if timeout is None:
        config = request.config_dict.get(EDGE_CONFIG)
        timeout = config.body_timeout if config is not None else DEFAULT_BODY_TIMEOUT
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        # A small body has no excuse to be slow: all of it within `timeout`, however it trickles.
        async with asyncio.timeout(timeout):
            # read() returns what has arrived so far: loop until the body ends or passes the limit.
            while chunk := await request.content.read(limit + 1 - size):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    raise ApiError(413, "too_large", f"the body is larger than {limit} bytes")
    except TimeoutError:
        raise ApiError(408, "body_timeout", f"the request body took longer than {timeout:g} s") from None
    return json_object(b"".join(chunks), limit)  # depth, numbers: signaling/validation.py
