"""The judge's docket over HTTP: the clerk issues (and revokes) a judge's standing link, the
judge's page lists the judge's hearings of today and the coming week (courtroom.docket)."""

from __future__ import annotations

from aiohttp import web

from courtroom.config import court_tz
from courtroom.court import clean_text
from courtroom.docket import docket, entry_dict, issue_link, judge_of_link, revoke_link

from .access import bearer, caller, require_clerk
from .errors import read_json
from .pod import pod_of


async def issue_docket_link(request: web.Request) -> web.Response:
    """`POST /api/docket-links {"name"}` (clerk): the judge's standing link to their docket;
    the judge's earlier link, if any, stops working."""
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    body = await read_json(request, pod.config.max_json_bytes)
    name = clean_text(body.get("name"), "name", 100)
    token = await issue_link(pod.court, name)
    # The token rides in the fragment, as join links do: no log ever sees it.
    return web.json_response({"name": name, "url": f"{pod.config.base_url}/docket#token={token}"}, status=201)


async def list_docket_links(request: web.Request) -> web.Response:
    """`GET /api/docket-links` (clerk): the judges' links, live and revoked (never a token)."""
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    links = await pod.court.db.run(pod.court.store.docket_links.all)
    return web.json_response({"links": [link.as_dict() for link in links]})


async def revoke_docket_link(request: web.Request) -> web.Response:
    """`DELETE /api/docket-links/{name}` (clerk): the judge's link stops working at once."""
    pod = pod_of(request)
    require_clerk(await caller(request, pod.court, pod.admin_key))
    name = clean_text(request.match_info["name"], "name", 100)
    link = await revoke_link(pod.court, name)
    return web.json_response(link.as_dict())


async def get_docket(request: web.Request) -> web.Response:
    """`GET /api/docket` (Bearer: the standing link's token): the judge's hearings."""
    pod = pod_of(request)
    court = pod.court
    name = await judge_of_link(court, bearer(request))
    hearings = [(h, await court.participants(h.id)) for h in await court.list_hearings()]
    entries = docket(name, hearings, tz=court_tz(pod.config.time_zone))
    out = []
    for e in entries:
        url = court.join_url(e.judge, court.token_for(e.judge))
        out.append(entry_dict(e, url))
    return web.json_response({"judge": name, "hearings": out, "time_zone": pod.config.time_zone})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/docket-links", issue_docket_link)
    app.router.add_get("/api/docket-links", list_docket_links)
    app.router.add_delete("/api/docket-links/{name}", revoke_docket_link)
    app.router.add_get("/api/docket", get_docket)
