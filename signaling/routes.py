"""Every route of the app, in one place."""

from __future__ import annotations

from aiohttp import web

from . import (
    api,
    docket_api,
    evidence_api,
    identity_api,
    public_api,
    transcript_api,
    web_routes,
    ws,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", api.healthz)
    app.router.add_get("/metrics", api.metrics)
    app.router.add_post("/api/hearings", api.create_hearing)
    app.router.add_get("/api/hearings", api.list_hearings)
    app.router.add_get("/api/hearings/{hearing_id}", api.get_hearing)
    app.router.add_post("/api/hearings/{hearing_id}/participants", api.add_participant)
    app.router.add_post("/api/hearings/{hearing_id}/actions", api.act)
    app.router.add_get("/api/hearings/{hearing_id}/events", api.events)
    app.router.add_get("/api/hearings/{hearing_id}/stats", api.stats)
    app.router.add_get("/ws", ws.websocket)
    transcript_api.add_routes(app)
    evidence_api.add_routes(app)
    identity_api.add_routes(app)
    public_api.add_routes(app)
    docket_api.add_routes(app)
    web_routes.add_routes(app)
