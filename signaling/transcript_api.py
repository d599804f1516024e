"""The hearing record over HTTP: read and export it, correct it, confirm it (docs/record.md).

Who may read, and what, follows the disclosure rule (`courtroom.disclosure`); who may correct or confirm is the
service's own rule (CORRECT_RECORD, CONFIRM_RECORD). Handlers only translate.
"""

from __future__ import annotations

from aiohttp import web

from courtroom.court import Actor
from courtroom.disclosure import Disclosure, Viewer
from courtroom.record import FORMATS
from courtroom.record_review import StaleVersion
from courtroom.transcript import TranscriptService

from .access import caller, require_hearing
from .disclose import disclosure_for
from .errors import ApiError, read_json
from .pod import HUB, POD, pod_of
from .validation import bounded_int

TRANSCRIPT = web.AppKey("transcript", TranscriptService)


def add_routes(app: web.Application) -> None:
    base = "/api/hearings/{hearing_id}"
    app.router.add_get(base + "/transcript", get_transcript)
    app.router.add_patch(base + "/transcript/{segment_id}", correct_segment)
    app.router.add_get(base + "/transcript/{segment_id}/history", segment_history)
    app.router.add_get(base + "/record", record_status)
    app.router.add_post(base + "/record/confirm", confirm_record)


def service_of(request: web.Request) -> TranscriptService:
    """The app's service; made from the pod's court when app.py has not set one."""
    service = request.app.get(TRANSCRIPT)
    if service is None:
        pod = request.app[POD]
        service = pod.services.get("transcript")
        if service is None:
            service = pod.services["transcript"] = TranscriptService(pod.court)
    return service


async def _reader(request: web.Request) -> tuple[TranscriptService, Actor, str, Disclosure]:
    """Who reads, and the disclosure rule that shapes what they read."""
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    rule = await disclosure_for(pod.court, hearing_id)
    if not rule.sees_transcript(Viewer.of(actor.participant)):
        raise ApiError(403, "forbidden", f"a {actor.role.value} may not read the record now")
    return service_of(request), actor, hearing_id, rule


def _segment_id(request: web.Request) -> int:
    return bounded_int(request.match_info["segment_id"], "a segment id", 0, code="invalid_segment")


async def get_transcript(request: web.Request) -> web.Response:
    service, actor, hearing_id, _ = await _reader(request)
    fmt = request.query.get("format", "json")
    if fmt not in FORMATS:
        raise ApiError(400, "invalid_format", f"format must be one of: {', '.join(FORMATS)}")
    body = await service.export(hearing_id, fmt, Viewer.of(actor.participant))
    response = web.Response(text=body, content_type=FORMATS[fmt], charset="utf-8")
    response.headers["Content-Disposition"] = f'inline; filename="record-{hearing_id}.{fmt}"'
    return response


async def correct_segment(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    segment_id = _segment_id(request)
    body = await read_json(request, pod.config.max_json_bytes)
    text, speaker = body.get("text"), body.get("speaker")
    if text is not None and not isinstance(text, str):
        raise ApiError(400, "invalid_field", "text must be a string")
    if speaker is not None and not isinstance(speaker, str):
        raise ApiError(400, "invalid_field", "speaker must be a participant id")
    segment = await service_of(request).correct(hearing_id, segment_id, actor, text=text, speaker=speaker)
    hearing = await pod.court.get_hearing(hearing_id)
    message = {"type": "transcript", "segment": segment.to_message(), "corrected": True}
    request.app[HUB].broadcast(hearing_id, message, hearing.state, transcript=True)
    return web.json_response({"segment": segment.to_dict()})


async def segment_history(request: web.Request) -> web.Response:
    service, actor, hearing_id, rule = await _reader(request)
    segment_id = _segment_id(request)
    segment = await service.segment(hearing_id, segment_id)
    edits = await service.history(segment_id, hearing_id)
    viewer = Viewer.of(actor.participant)
    if viewer.officer:
        return web.json_response({"segment": segment.to_dict(), "edits": [e.to_dict() for e in edits]})
    shown = rule.segment(viewer, segment)
    if shown is None:
        raise ApiError(404, "not_found", f"no segment {segment_id} in this hearing")
    # Who spoke, and any change of speaker, is told as the rule tells it: text edits only.
    text_edits = [e.to_dict() for e in edits if e.field == "text"]
    return web.json_response({"segment": {**segment.to_dict(), **shown}, "edits": text_edits})


async def record_status(request: web.Request) -> web.Response:
    service, actor, hearing_id, _ = await _reader(request)
    return web.json_response(await service.record_status(hearing_id, Viewer.of(actor.participant)))


async def confirm_record(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    if actor.participant is None:
        raise ApiError(403, "forbidden", "the parties confirm the record with their own join link")
    body = await read_json(request, pod.config.max_json_bytes)
    decision = body.get("decision")
    objection = body.get("objection", "")
    if not isinstance(decision, str):
        raise ApiError(400, "invalid_decision", "decision must be confirm or object")
    if objection is not None and not isinstance(objection, str):
        raise ApiError(400, "invalid_field", "objection must be a string")
    service = service_of(request)
    try:
        confirmation = await service.confirm(hearing_id, actor.participant, decision, objection,
                                             body.get("version"), body.get("signature_image"))
    except StaleVersion as e:
        return stale_response(e)
    status = await service.record_status(hearing_id, Viewer.of(actor.participant))
    return web.json_response({"confirmation": confirmation.to_dict(), "record": status}, status=201)


def stale_response(e: StaleVersion) -> web.Response:
    """409 naming the latest version: its sha256 and number."""
    return web.json_response({"error": e.code, "message": e.message, "latest": e.latest.sha256,
                              "latest_number": e.latest.number}, status=409)
