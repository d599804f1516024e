"""The access log: method, path, status and time, never the query string (it carries tokens)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %d %.1fms',
            request.remote,
            request.method,
            request.rel_url.path,  # no query: /ws?token=... must not reach a log
            response.status,
            time * 1000,
        )
