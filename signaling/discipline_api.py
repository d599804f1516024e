"""The court discipline and the witness's undertaking over HTTP (courtroom/discipline.py):
`GET /api/hearings/{id}/discipline` (the texts this participant must acknowledge, and what it has)
and `POST` {"acknowledge": "discipline" | "undertaking"} with the participant's own token."""

from __future__ import annotations

from aiohttp import web

from courtroom.discipline import KINDS, UNDERTAKING, acknowledged, discipline_text, must_acknowledge

from .access import caller, require_hearing
from .errors import ApiError, read_json
from .pod import pod_of


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/hearings/{hearing_id}/discipline", get_discipline)
    app.router.add_post("/api/hearings/{hearing_id}/discipline", acknowledge)


async def _me(request: web.Request) -> tuple[str, object]:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    return hearing_id, actor


async def get_discipline(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id, actor = await _me(request)
    participant = getattr(actor, "participant", None)
    body: dict[str, object] = {"discipline": discipline_text(pod.config.discipline_text), "undertaking": UNDERTAKING}
    if participant is not None:
        body["required"] = must_acknowledge(participant)
        body["acknowledged"] = acknowledged(participant.id, await pod.court.events(hearing_id))
    return web.json_response(body)


async def acknowledge(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id, actor = await _me(request)
    participant = getattr(actor, "participant", None)
    if participant is None:
        raise ApiError(403, "forbidden", "a participant acknowledges with its own join link")
    body = await read_json(request, pod.config.max_json_bytes)
    what = body.get("acknowledge")
    if what not in KINDS:
        raise ApiError(400, "invalid_field", "acknowledge must be discipline or undertaking")
    if what not in must_acknowledge(participant):
        raise ApiError(400, "invalid_field", f"a {participant.role.value} does not sign the {what}")
    done = acknowledged(participant.id, await pod.court.events(hearing_id))
    if what not in done:  # once is enough
        await pod.court.record_event(hearing_id, KINDS[str(what)], participant.id, participant.id)
        done = sorted({*done, str(what)})
    return web.json_response({"acknowledged": done}, status=201)
