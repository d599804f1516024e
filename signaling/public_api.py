"""The public's side: live public hearings and replays. Nothing else is reachable here.

A hearing is public here only when it is public, not a mediation, and the judge put it on
air at least once. Everything else is 404, whatever its state, so a closed-door hearing or a
mediation has no public path at all.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from courtroom.hearing import Hearing
from courtroom.procedure import LIVE, HearingState
from courtroom.store import NotFound

from .errors import ApiError
from .pod import pod_of
from .recording import hearing_dir

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,80}$")
CONTENT_TYPES = {
    ".m3u8": "application/vnd.apple.mpegurl",
    ".ts": "video/mp2t",
    ".mp4": "video/mp4",
    ".vtt": "text/vtt",
    ".srt": "application/x-subrip",
    ".json": "application/json",
}


def add_routes(app: web.Application) -> None:
    app.router.add_get("/public/hearings", list_public)
    app.router.add_get("/public/hearings/{hearing_id}", get_public)
    app.router.add_get("/public/hearings/{hearing_id}/live/captions.json", live_captions)
    app.router.add_get("/public/hearings/{hearing_id}/{kind:live|replay}/{name}", public_file)


def is_listed(h: Hearing) -> bool:
    return h.broadcastable and h.ever_broadcast


def _describe(request: web.Request, h: Hearing) -> dict[str, Any]:
    base = f"/public/hearings/{h.id}"
    # Chromium's player cannot start a live playlist of fewer than 3 segments: list it from 3.
    recorders = pod_of(request).services.get("recorders")
    recording = recorders.recordings.get(h.id) if recorders is not None else None
    live = h.state in LIVE and recording is not None and recording.public_segments() >= 3
    # Replayable once the recorder has finished and stored its files with the hearing.
    replay = h.state is HearingState.CLOSED and any(f.get("kind") == "replay" for f in h.extra.get("record_files", []))
    return {
        "id": h.id,
        "case_number": h.case_number,
        "title": h.title,
        "court": h.court,
        "procedure": h.procedure.value,
        "state": h.state.value,
        "on_air": h.broadcast,
        "live": live,
        "replayable": replay,
        "broadcast_delay": pod_of(request).config.broadcast_delay,
        # The master playlist: the picture and its captions (a WebVTT subtitles rendition).
        "live_playlist": f"{base}/live/index.m3u8" if live else None,
        "live_captions": f"{base}/live/captions.json" if h.state in LIVE else None,
        "replay_mp4": f"{base}/replay/replay.mp4" if replay else None,
        "replay_playlist": f"{base}/replay/replay.m3u8" if replay else None,
        "captions_vtt": f"{base}/replay/captions.vtt" if replay else None,
        "chapters_vtt": f"{base}/replay/chapters.vtt" if replay else None,
        "transcript": f"{base}/replay/transcript.json" if replay else None,
    }


async def _public_hearing(request: web.Request) -> Hearing:
    try:
        hearing = await pod_of(request).court.get_hearing(request.match_info["hearing_id"])
    except NotFound:
        hearing = None
    if hearing is None or not is_listed(hearing):
        raise ApiError(404, "not_found", "no such public hearing")
    return hearing


async def list_public(request: web.Request) -> web.Response:
    hearings = [h for h in await pod_of(request).court.list_hearings() if is_listed(h)]
    described = [_describe(request, h) for h in hearings]
    return web.json_response({"hearings": [d for d in described if d["live"] or d["replayable"] or d["state"] in ("open", "in_session", "recess")]})


async def get_public(request: web.Request) -> web.Response:
    return web.json_response(_describe(request, await _public_hearing(request)))


async def public_file(request: web.Request) -> web.StreamResponse:
    hearing = await _public_hearing(request)
    kind, name = request.match_info["kind"], request.match_info["name"]
    if not _SAFE_NAME.match(name) or ".." in name or Path(name).suffix not in CONTENT_TYPES:
        raise ApiError(404, "not_found", "no such file")
    if kind == "replay" and hearing.state is not HearingState.CLOSED:
        raise ApiError(404, "not_found", "the replay is available once the hearing closes")
    if kind == "live" and _live_over(request, hearing):
        raise ApiError(404, "not_found", "the hearing is closed: watch the replay")
    path = hearing_dir(pod_of(request).court, hearing.id) / kind / name
    if not path.is_file():
        return await _replay_from_bucket(request, hearing, kind, name)
    headers = {"Cache-Control": "no-cache" if name.endswith(".m3u8") else "max-age=60"}
    content_type = CONTENT_TYPES.get(Path(name).suffix)
    if content_type:
        headers["Content-Type"] = content_type
    return web.FileResponse(path, headers=headers)


def _live_over(request: web.Request, hearing: Hearing) -> bool:
    """A closed hearing's live stream is gone once the viewers behind the delay have seen its end."""
    if hearing.state is not HearingState.CLOSED:
        return False
    court = pod_of(request).court
    return court.hearing_time(hearing) - (hearing.closed_at or 0.0) > court.config.broadcast_delay


async def _replay_from_bucket(request: web.Request, hearing: Hearing, kind: str, name: str) -> web.Response:
    """In a multi-pod court the replay may have been built by another pod: it is in the
    court's bucket (checked against its digest on the way out)."""
    blobs = pod_of(request).blobs
    if blobs is None or kind != "replay":
        raise ApiError(404, "not_found", "no such file")
    from courtroom.blobs import BlobCorrupt, BlobError, BlobMissing

    from .archiver import replay_key

    # The replay and its captions are record files: their digests, taken when the replay was
    # built, are checked too (the bucket's own digest travels with the object and would
    # change with it).
    deposited = {Path(str(f.get("path", ""))).name: f.get("sha256") for f in hearing.extra.get("record_files", [])
                 if f.get("kind") in ("replay", "captions")}
    try:
        data = await asyncio.to_thread(blobs.get_bytes, replay_key(hearing.id, name), deposited.get(name))
    except BlobMissing:
        raise ApiError(404, "not_found", "no such file") from None
    except BlobCorrupt as exc:
        raise ApiError(502, "file_altered", f"the replay's file in the court's bucket does not match its digest: {exc}") from None
    except BlobError as exc:
        raise ApiError(503, "store_unavailable", f"the replay cannot be read now: {exc}") from None
    return web.Response(body=data, headers={"Cache-Control": "max-age=60"},
                        content_type=CONTENT_TYPES.get(Path(name).suffix, "application/octet-stream"))


async def live_captions(request: web.Request) -> web.Response:
    """Final transcript segments of a live public hearing, behind the broadcast delay and
    only from the stretches that were on air."""
    pod = pod_of(request)
    hearing = await _public_hearing(request)
    if hearing.state not in LIVE:
        raise ApiError(404, "not_found", "the hearing is not live")
    from courtroom.disclosure import Viewer
    from courtroom.transcript import TranscriptService

    from .disclose import disclosure_for

    # The disclosure rule decides: on air, out of the delay, not dumped, roles never names.
    rule = await disclosure_for(pod.court, hearing.id, hearing, [])
    now = rule.now
    visible_until = now - pod.config.broadcast_delay
    segments = rule.segments(Viewer.public(), await TranscriptService(pod.court).segments(hearing.id))
    body = {"hearing_time": now, "delay": pod.config.broadcast_delay, "visible_until": visible_until, "segments": segments, "at": time.time()}
    return web.Response(text=json.dumps(body, ensure_ascii=False), content_type="application/json")

