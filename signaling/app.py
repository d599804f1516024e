"""The app factory: one aiohttp application per pod, background work in cleanup contexts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from courtroom.config import Config

from .errors import error_middleware
from .pod import HUB, POD, ROOMS, Pod
from .hub import Hub
from .ice import restrict_host_addresses
from .rooms import RoomManager
from .routes import setup_routes


def create_app(config: Config) -> web.Application:
    pod = Pod.open(config)
    if config.ice_addresses:
        restrict_host_addresses(config.ice_addresses)
    # Uploads are streamed to disk with their own limit; this bounds everything else.
    app = web.Application(middlewares=[error_middleware], client_max_size=config.evidence_max_bytes + (1 << 20))
    app[POD] = pod
    setup_routes(app)
    app[HUB] = Hub(pod.court)
    app[ROOMS] = RoomManager(pod.court)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_media)
    return app


async def _media(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[ROOMS].close()


async def _database(app: web.Application) -> AsyncIterator[None]:
    yield
    app[POD].db.close()
