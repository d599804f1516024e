"""The app factory: one aiohttp application per pod, background work in cleanup contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from courtroom.config import Config

from .errors import error_middleware
from .pod import POD, Pod
from .routes import setup_routes


def create_app(config: Config) -> web.Application:
    pod = Pod.open(config)
    # Uploads are streamed to disk with their own limit; this bounds everything else.
    app = web.Application(middlewares=[error_middleware], client_max_size=config.evidence_max_bytes + (1 << 20))
    app[POD] = pod
    setup_routes(app)
    app.cleanup_ctx.append(_database)
    return app


async def _database(app: web.Application) -> AsyncIterator[None]:
    yield
    app[POD].db.close()
