"""HTTP handlers of the hearing API (`docs/api.md`, `docs/openapi.json`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from courtroom.disclosure import COURT_OFFICERS, Viewer
from courtroom.identity import parse_registered

from .access import caller, require_clerk, require_hearing
from .disclose import disclosure_for
from .errors import ApiError, read_json
from .pod import HUB, ROOMS, pod_of
from .validation import bounded_int


async def healthz(request: web.Request) -> web.Response:
    """The pod answers (200) even while the court's database is unreachable: the media goes
    on. `store` says whether the pod's own writes are waiting for it (courtroom/outbox.py)."""
    pod = pod_of(request)
    outbox = pod.court.outbox
    store = {"state": "available" if outbox.available else "unavailable", "pending": outbox.pending,
             "lost": outbox.lost_total}
    effects = pod.court.effects
    return web.json_response({"status": "ok", "time": time.time(), "asr_engine": pod.config.asr_engine,
                              "time_zone": pod.config.time_zone, "store": store,
                              "effects": {"busy": effects.busy(), "done": effects.done, "failed": effects.failed}})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text. It names hearings and participants, so it is for the court's own
    monitoring: the scraper sends the clerk's key (Prometheus `authorization` with a bearer
    credential). Behind a reverse proxy every request comes from loopback, so the address
    proves nothing."""
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    return web.Response(text=pod.metrics.render(), content_type="text/plain", charset="utf-8")


async def create_hearing(request: web.Request) -> web.Response:
    pod = pod_of(request)
    actor = await caller(request, pod.court, pod.admin_key)
    require_clerk(actor)
    body = await read_json(request, pod.config.max_json_bytes)
    hearing = await pod.court.create_hearing(body, actor)
    return web.json_response(pod.court.describe(hearing, []), status=201)


async def list_hearings(request: web.Request) -> web.Response:
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    hearings = await pod.court.list_hearings()
    return web.json_response({"hearings": [h.to_dict() for h in hearings]})


async def get_hearing(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    rule = await disclosure_for(pod.court, hearing_id)
    described = pod.court.describe(rule.hearing, list(rule.people))
    return web.json_response(rule.hearing_view(Viewer.of(actor.participant), described))


async def add_participant(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_clerk(actor)
    body = await read_json(request, pod.config.max_json_bytes)
    participant, token = await pod.court.add_participant(hearing_id, body, actor)
    data = participant.public_dict()
    data.update(token=token, join_url=pod.court.join_url(participant, token))
    registered = parse_registered(body.get("identity"), participant.name)  # checked by the court already
    if registered is not None:
        data["identity"] = registered.to_dict()  # the number's last four only
    return web.json_response(data, status=201)


async def act(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    body = await read_json(request, pod.config.max_json_bytes)
    action = body.get("action")
    if not isinstance(action, str):
        raise ApiError(400, "invalid_field", "action must be a string")
    target = body.get("participant")
    change = await pod.court.act(hearing_id, actor, action, target if isinstance(target, str) else None, body)
    rule = await disclosure_for(pod.court, hearing_id, change.hearing, change.participants)
    data = rule.hearing_view(Viewer.of(actor.participant), pod.court.describe(change.hearing, change.participants))
    events = [e.to_dict() for e in change.events] if rule.sees_events(Viewer.of(actor.participant)) else []
    return web.json_response({"hearing": data, "events": events})


async def events(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id, COURT_OFFICERS)
    await pod.court.get_hearing(hearing_id)
    after = bounded_int(request.query.get("after", "0"), "after")
    return web.json_response({"events": [e.to_dict() for e in await pod.court.events(hearing_id, after)]})


async def stats(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id, COURT_OFFICERS)
    hearing = await pod.court.get_hearing(hearing_id)
    room = request.app[ROOMS].rooms.get(hearing_id)
    if room is None:
        return web.json_response({"hearing_id": hearing_id, "state": hearing.state.value, "live": False})
    body: dict[str, object] = {"live": True, **room.stats()}
    body["peers"] = await peer_stats(request.app[HUB].sessions.get(hearing_id, {}).values())
    network = pod.services.get("network")
    body["network"] = network.hearing(hearing_id) if network is not None else {}
    recorders = pod.services.get("recorders")
    recording = recorders.recordings.get(hearing_id) if recorders is not None else None
    body["recording"] = recording.stats() if recording is not None else None
    speech = pod.services.get("speech")
    if speech is not None:
        asr = speech.transcriber.stats()
        mine = [s for pid, s in asr.speakers.items() if pid in room.people]
        body["asr_backlog_s"] = round(max((s.backlog_seconds for s in mine), default=0.0), 3)
        body["asr_dropped_s"] = round(sum(s.dropped_seconds for s in mine), 3)
        body["asr_overloaded"] = any(s.overloaded for s in mine)
    return web.json_response(body)


async def peer_stats(sessions: Iterable[Any]) -> dict[str, dict[str, float]]:
    """Packets each way and the loss on each leg, from aiortc's own stats (RTCP reports)."""
    out: dict[str, dict[str, float]] = {}
    for session in list(sessions):
        pc = getattr(session.peer, "pc", None)
        if pc is None:
            continue
        totals = {"bytes_sent": 0.0, "packets_sent": 0.0, "packets_received": 0.0,
                  "uplink_packets_lost": 0.0, "downlink_packets_lost": 0.0}
        report = await pc.getStats()
        for stat in report.values():
            kind = getattr(stat, "type", "")
            if kind == "outbound-rtp":
                totals["bytes_sent"] += stat.bytesSent
                totals["packets_sent"] += stat.packetsSent
            elif kind == "inbound-rtp":  # what the participant sends us
                totals["packets_received"] += stat.packetsReceived
                totals["uplink_packets_lost"] += stat.packetsLost
            elif kind == "remote-inbound-rtp":  # the participant's receiver reports on what we send
                totals["downlink_packets_lost"] += stat.packetsLost
        # Send rate since the last time someone asked (the first answer has none).
        now = time.monotonic()
        last = getattr(session, "last_sent", None)
        if last is not None and now > last[0]:
            totals["kbps_sent"] = round((totals["bytes_sent"] - last[1]) * 8 / 1000 / (now - last[0]), 1)
        session.last_sent = (now, totals["bytes_sent"])
        out[session.id] = totals
    return out
