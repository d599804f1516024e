"""The record's lifecycle over HTTP: the court's signatures, answers to objections, the versions,
the pod's public signing key; and its wiring (finishing at close, recovery at start, pushes).

Rules live in `courtroom.record_lifecycle` and `courtroom.record_review`; handlers translate.
See docs/record.md.
"""

from __future__ import annotations

from aiohttp import web

from courtroom.court import Change
from courtroom.disclosure import Viewer
from courtroom.record_review import StaleVersion
from courtroom.signatures import PodSigner

from .access import caller, require_hearing
from .attendance_watch import AttendanceWatch
from .errors import ApiError, read_json
from .pod import HUB, POD, pod_of
from .transcript_api import TRANSCRIPT, _reader, service_of, stale_response


def add_routes(app: web.Application) -> None:
    base = "/api/hearings/{hearing_id}/record"
    app.router.add_post(base + "/sign", sign_record)
    app.router.add_post(base + "/answer", answer_objection)
    app.router.add_get(base + "/versions/{number:[^/]+}", get_version)
    app.router.add_get(base + "/images/{sha256}", get_image)
    app.router.add_get("/public/signing-key", signing_key)
    app.on_startup.append(_wire)


async def _wire(app: web.Application) -> None:
    """At start-up (the transcript service and the hub exist by then): finish the record at
    close, offer any record a crash left finishing, and tell the pages when the record moves."""
    pod = app[POD]
    review = app[TRANSCRIPT].review
    hub = app[HUB]

    async def on_change(change: Change) -> None:
        if change.action == "close":
            await review.finish(change.hearing.id)

    async def pushed(hearing_id: str) -> None:
        status = await review.status(hearing_id)
        message = {"type": "record", "record_state": status["record_state"], "version": status["version"],
                   "version_number": status["version_number"]}
        for session in list(hub.sessions.get(hearing_id, {}).values()):
            session.send(message)

    pod.court.before_answer.append(on_change)
    pod.services["attendance"] = AttendanceWatch(pod.court)
    review.on_change.append(pushed)
    PodSigner.open(pod.config.data_dir)  # created at first start, beside admin.key and secret.key
    await review.recover()


async def signing_key(request: web.Request) -> web.Response:
    """The pod's public key: anyone checks the record's signed statements with it."""
    return web.json_response(PodSigner.open(pod_of(request).config.data_dir).info())


async def sign_record(request: web.Request) -> web.Response:
    """A judge's or the clerk's signature on the latest version; `finalise` (the presiding judge)
    signs it off with what is outstanding written in."""
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    body = await read_json(request, pod.config.max_json_bytes)
    decision = body.get("decision", "sign")
    if decision not in ("sign", "finalise"):
        raise ApiError(400, "invalid_decision", "decision must be sign or finalise")
    service = service_of(request)
    try:
        statement, new = await service.review.decide(hearing_id, actor, str(decision), "", body.get("version"),
                                                     body.get("signature_image"))
    except StaleVersion as e:
        return stale_response(e)
    status = await service.record_status(hearing_id, Viewer.of(actor.participant))
    return web.json_response({"statement": statement.to_dict(), "record": status}, status=201 if new else 200)


async def answer_objection(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    body = await read_json(request, pod.config.max_json_bytes)
    service = service_of(request)
    try:
        statement, _ = await service.review.decide(hearing_id, actor, "answer", body.get("answer"), body.get("version"),
                                                   refers=body.get("objection"))
    except StaleVersion as e:
        return stale_response(e)
    status = await service.record_status(hearing_id, Viewer.of(actor.participant))
    return web.json_response({"statement": statement.to_dict(), "record": status}, status=201)


async def get_version(request: web.Request) -> web.Response:
    service, _, hearing_id, _ = await _reader(request)
    try:
        number = int(request.match_info["number"])
    except ValueError:
        raise ApiError(400, "invalid_version", "a version is a number") from None
    for v in await service.review.versions(hearing_id):
        if v.number == number:
            response = web.Response(text=v.text, content_type="text/plain", charset="utf-8")
            response.headers["X-Record-Sha256"] = v.sha256
            return response
    raise ApiError(404, "not_found", f"no version {number} of this record")


async def get_image(request: web.Request) -> web.Response:
    service, _, hearing_id, _ = await _reader(request)
    sha = request.match_info["sha256"]
    statements = await service.review.statements(hearing_id)
    if not any(s.image_sha256 == sha for s in statements):
        raise ApiError(404, "not_found", "no such signature image in this hearing")
    png = await pod_of(request).db.run(pod_of(request).court.store.records.get_image, sha)
    if png is None:
        raise ApiError(404, "not_found", "the signature image is missing")
    return web.Response(body=png, content_type="image/png")
