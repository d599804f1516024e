"""The judge's docket over HTTP: the clerk issues a judge's standing link, the judge's page
lists the judge's hearings of today and the coming week (courtroom.docket)."""

from __future__ import annotations

from aiohttp import web

from courtroom.config import court_tz
from courtroom.court import clean_text
from courtroom.docket import docket, entry_dict, issue_link_token, judge_of_token

from .access import bearer, caller, require_clerk
from .errors import read_json
from .pod import pod_of


async def issue_link(request: web.Request) -> web.Response:
    """`POST /api/docket-links {"name"}` (clerk): the judge's standing link to their docket."""
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    body = await read_json(request, pod.config.max_json_bytes)
    name = clean_text(body.get("name"), "name", 100)
    token = issue_link_token(pod.court.signer, name)
    # The token rides in the fragment, as join links do: no log ever sees it.
    return web.json_response({"name": name, "url": f"{pod.config.base_url}/docket#token={token}"}, status=201)


async def get_docket(request: web.Request) -> web.Response:
    """`GET /api/docket` (Bearer: the standing link's token): the judge's hearings."""
    pod = pod_of(request)
    name = judge_of_token(pod.court.signer, bearer(request))
    court = pod.court
    hearings = [(h, await court.participants(h.id)) for h in await court.list_hearings()]
    entries = docket(name, hearings, tz=court_tz(pod.config.time_zone))
    out = []
    for e in entries:
        url = court.join_url(e.judge, court.token_for(e.judge))
        out.append(entry_dict(e, url))
    return web.json_response({"judge": name, "hearings": out, "time_zone": pod.config.time_zone})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/docket-links", issue_link)
    app.router.add_get("/api/docket", get_docket)
