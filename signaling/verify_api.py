"""Public verification (存证核验): was this file deposited in the pod's ledger, when, for which hearing.

`GET /public/verify?sha256=HEX` or `POST /public/verify` with the file itself (multipart,
field `file`: streamed through SHA-256, never stored, the evidence size limit). Anyone may
ask. The answer names only the entry's kind, hearing id, case number, name, time and
sequence number, for every hearing alike: nothing else about a closed (不公开) hearing.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from courtroom.ledger import Ledger, LedgerEntry

from .errors import ApiError
from .evidence_api import EVIDENCE, receive_upload
from .pod import pod_of

_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/public/verify", verify_by_hash)
    app.router.add_post("/public/verify", verify_by_upload)


def lookup(ledger: Ledger, sha256: str) -> dict[str, Any]:
    """The public answer for a hash (runs on the database thread)."""
    entries: list[LedgerEntry] = ledger.find(sha256)
    cases: dict[str, str | None] = {}
    for e in entries:
        if e.hearing_id not in cases:
            cases[e.hearing_id] = ledger.store.hearings.case_number(e.hearing_id)
    return {
        "deposited": bool(entries),
        "sha256": sha256,
        "entries": [
            {"kind": e.kind, "hearing_id": e.hearing_id, "case_number": cases[e.hearing_id], "name": e.name,
             "wall_time": e.wall_time, "seq": e.seq}
            for e in entries
        ],
    }


async def verify_by_hash(request: web.Request) -> web.Response:
    sha = request.query.get("sha256", "").strip()
    if not _HEX64.fullmatch(sha):
        raise ApiError(400, "invalid_sha256", "sha256 must be 64 hex digits")
    pod = pod_of(request)
    return web.json_response(await pod.db.run(lookup, request.app[EVIDENCE].ledger, sha.lower()))


async def verify_by_upload(request: web.Request) -> web.Response:
    pod = pod_of(request)
    received = await receive_upload(request, pod.config.evidence_max_bytes, None)
    answer = await pod.db.run(lookup, request.app[EVIDENCE].ledger, received.sha256)
    answer["size"] = received.size
    return web.json_response(answer)
