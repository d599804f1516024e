"""Routes of this part of the API (filled in by its own change)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    pass
