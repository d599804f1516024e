"""The bench's seats over HTTP: `POST /api/hearings/{id}/panel` {"participant", "seat"} where seat
is presiding (审判长), judge (审判员) or juror (人民陪审员). The clerk's key or the presiding judge."""

from __future__ import annotations

from aiohttp import web

from courtroom.panel import SEATS, presides
from courtroom.procedure import HearingState
from courtroom.roles import Role

from .access import caller, require_hearing
from .errors import ApiError, read_json
from .pod import pod_of


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/hearings/{hearing_id}/panel", set_seat)


async def set_seat(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    body = await read_json(request, pod.config.max_json_bytes)
    hearing = await pod.court.get_hearing(hearing_id)
    people = await pod.court.participants(hearing_id)
    if actor.participant is not None and not (actor.role is Role.JUDGE and presides(actor.participant, hearing, people)):
        raise ApiError(403, "forbidden", "the clerk or the presiding judge seats the panel")
    if hearing.state is HearingState.CLOSED:
        raise ApiError(409, "invalid_state", "the hearing is closed")
    seat, target = body.get("seat"), body.get("participant")
    if seat not in SEATS:
        raise ApiError(400, "invalid_seat", f"seat must be one of: {', '.join(SEATS)}")
    judge = next((p for p in people if p.id == target), None)
    if judge is None or judge.role is not Role.JUDGE:
        raise ApiError(400, "invalid_field", "participant must be a judge of this hearing")
    panel = dict(hearing.extra.get("panel") or {})
    if seat == "presiding":  # one presiding judge: the former one sits as a judge
        panel = {k: ("judge" if v == "presiding" else v) for k, v in panel.items()}
        for p in people:
            if p.role is Role.JUDGE and p.id != judge.id and p.id not in panel:
                panel[p.id] = "judge"
    elif not any(v == "presiding" for v in panel.values()):
        # Seating someone else keeps today's presiding judge presiding.
        current = next((p for p in people if p.role is Role.JUDGE and presides(p, hearing, people)), None)
        if current is not None and current.id != judge.id:
            panel[current.id] = "presiding"
    panel[judge.id] = str(seat)
    updated = await pod.court.update_extra(hearing_id, panel=panel)
    await pod.court.record_event(hearing_id, "panel.seat", actor.id, judge.id, seat=seat)
    return web.json_response({"panel": updated.extra["panel"]})
