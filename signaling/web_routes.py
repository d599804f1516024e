"""The browser client's pages and static files (the files themselves live in `web/`).

Pages are plain HTML files; everything they need is under `/static/` (JavaScript modules, CSS,
the UI text of each language). Nothing comes from a CDN. Join tokens travel in the URL
fragment, which browsers never send, so no page route ever sees one.

| path | page |
| --- | --- |
| `/`, `/gallery` | the public gallery: live public hearings and replays |
| `/gallery/{hearing_id}` | the public player: live stream or replay, captions, transcript |
| `/verify` | check a file against the evidence ledger (SHA-256 computed in the browser) |
| `/join/{hearing_id}` | a participant's page; court officers' tokens go on to the console |
| `/console/{hearing_id}` | the judge's (clerk's, mediator's) console |
| `/clerk` | the clerk's desk: schedule hearings, invite people, the docket |
| `/docket` | a judge's docket: their hearings of today and the coming week (a standing link) |
| `/static/{path}` | files under `web/` |
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web
from aiohttp.typedefs import Handler

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ico": "image/x-icon",
    ".webp": "image/webp",
    ".woff2": "font/woff2",
    ".wav": "audio/wav",
    ".txt": "text/plain; charset=utf-8",
    ".webmanifest": "application/manifest+json",
}

# Pages may only talk to their own origin (HTTP, WebSocket, media, blobs of fetched exhibits).
CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: data:",  # data: hls.js's empty caption <track> (data:,WEBVTT)
        "connect-src 'self'",
        "frame-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    # Camera and microphone for this origin only; nothing else.
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
}

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No build step, no hashed names: let the browser revalidate (cheap 304s).
    "Cache-Control": "no-cache",
}

HEARING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")

PAGES = {
    "/": "gallery.html",
    "/gallery": "gallery.html",
    "/verify": "verify.html",
    "/clerk": "clerk.html",
    "/docket": "docket.html",
}
HEARING_PAGES = {
    "/join/{hearing_id}": "join.html",
    "/console/{hearing_id}": "console.html",
    "/gallery/{hearing_id}": "replay.html",
}


def _not_found() -> web.HTTPNotFound:
    return web.HTTPNotFound(text="no such file")


def _static_path(relative: str) -> Path:
    """`relative` as a file under WEB_ROOT, or 404. Every part must be a plain name: no `..`,
    no hidden files, no backslashes or absolute paths; the result must stay inside the root."""
    if not relative or len(relative) > 300:
        raise _not_found()
    parts = relative.split("/")
    if any(not SAFE_PART.match(part) for part in parts):
        raise _not_found()
    path = (WEB_ROOT / Path(*parts)).resolve()
    root = WEB_ROOT.resolve()
    if root not in path.parents or not path.is_file():
        raise _not_found()
    if path.suffix.lower() not in CONTENT_TYPES:
        raise _not_found()
    return path


def _file(path: Path, headers: dict[str, str]) -> web.FileResponse:
    return web.FileResponse(path, headers={**headers, "Content-Type": CONTENT_TYPES[path.suffix.lower()]})


async def static(request: web.Request) -> web.StreamResponse:
    path = _static_path(request.match_info["path"])
    headers = PAGE_HEADERS if path.suffix == ".html" else STATIC_HEADERS
    return _file(path, headers)


HTML_TAG = '<html lang="zh-CN">'
LANG_TAGS = {"zh": "zh-CN", "en": "en"}


def _page(filename: str) -> Handler:
    """A page in the court's language: its <html> tag says which (`data-court-language`), and
    the page's script takes every text from that language. Read once, then kept."""
    cache: dict[str, str] = {}

    async def handler(request: web.Request) -> web.StreamResponse:
        from .pod import POD

        hearing_id = request.match_info.get("hearing_id")
        if hearing_id is not None and not HEARING_ID.match(hearing_id):
            raise _not_found()
        language = request.app[POD].config.language
        text = cache.get(language)
        if text is None:
            raw = await asyncio.to_thread((WEB_ROOT / filename).read_text, "utf-8")
            tag = f'<html lang="{LANG_TAGS.get(language, language)}" data-court-language="{language}">'
            text = cache[language] = raw.replace(HTML_TAG, tag, 1)
        return web.Response(text=text, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)

    handler.__name__ = f"page_{filename.removesuffix('.html')}"
    return handler


def add_routes(app: web.Application) -> None:
    for route, filename in {**PAGES, **HEARING_PAGES}.items():
        app.router.add_get(route, _page(filename))
    app.router.add_get("/static/{path:.+}", static)
