"""The baseline: the forwarding room people build first with aiortc.

Each participant's camera and microphone go to every other participant through
`aiortc.contrib.media.MediaRelay`: aiortc decodes each uplink once, and every viewer's
`RTCRtpSender` encodes it again for that viewer (per viewer, per stream). No mixing, no
composing. A hearing of M people costs M decodes per kind and M x (M-1) encodes.

It speaks the subset of the pod's API that the load test uses, so the same synthetic
participants join it: `POST /api/hearings`, `POST /api/hearings/{id}/participants` (clerk
key from `COURTROOM_ADMIN_KEY`), `POST /api/hearings/{id}/actions`, `GET
/api/hearings/{id}/stats`, `GET /healthz` and the WebSocket `GET /ws?token=` with `offer` /
`answer`, `action`, `ping` and `state` messages. Everyone is admitted at once; actions only
move the hearing's state (open, start, close) and are echoed as `state` messages.

Streams are negotiated in one offer: the client offers M-1 audio and M-1 video
transceivers (the first of each kind sendrecv: it also carries the client's own microphone
and camera; the rest recvonly). Slot k carries the k-th other participant in the hearing's
order. A slot whose participant has not published yet sends nothing until it does
(`replaceTrack`), so nobody renegotiates. A participant who leaves is not replaced.

    python -m loadtest.relay_server --port 8090 --ice-address 127.0.0.1
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcconfiguration import RTCBundlePolicy

from signaling.ice import restrict_host_addresses

log = logging.getLogger("relay")


@dataclass
class Person:
    id: str
    token: str
    role: str
    name: str
    side: str | None
    hearing: Hearing
    pc: RTCPeerConnection | None = None
    ws: web.WebSocketResponse | None = None
    published: dict[str, MediaStreamTrack] = field(default_factory=dict)
    viewing: list[Person] = field(default_factory=list)  # slot k -> the person it shows
    proxies: list[MediaStreamTrack] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "role": self.role, "side": self.side,
            "state": "admitted", "witness_state": "testifying" if self.role == "witness" else None,
            "muted": False, "connected": self.ws is not None,
        }


@dataclass
class Hearing:
    id: str
    case_number: str
    title: str
    state: str = "scheduled"
    people: list[Person] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "case_number": self.case_number, "title": self.title, "state": self.state,
                "participants": [p.public() for p in self.people]}


class Relay:
    def __init__(self, admin_key: str) -> None:
        self.admin_key = admin_key
        self.hearings: dict[str, Hearing] = {}
        self.tokens: dict[str, Person] = {}
        self.relay = MediaRelay()

    # signaling
    def broadcast_state(self, hearing: Hearing) -> None:
        for p in hearing.people:
            if p.ws is not None and not p.ws.closed:
                asyncio.ensure_future(self.send(p, self.state_message(p)))

    def state_message(self, p: Person) -> dict[str, Any]:
        return {"type": "state", "hearing": p.hearing.describe(), "you": p.public(), "receives_media": True}

    async def send(self, p: Person, message: dict[str, Any]) -> None:
        if p.ws is not None and not p.ws.closed:
            try:
                await p.ws.send_str(json.dumps(message))
            except (ConnectionResetError, RuntimeError):
                pass

    def act(self, hearing: Hearing, action: str) -> None:
        states = {"open": "open", "start": "in_session", "resume": "in_session", "recess": "recess", "close": "closed"}
        if action in states:
            hearing.state = states[action]
        self.broadcast_state(hearing)

    async def offer(self, person: Person, sdp: str) -> str:
        await self.leave_media(person)
        pc = person.pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            person.published[track.kind] = track
            for viewer in person.hearing.people:
                if viewer is not person and person in viewer.viewing:
                    self.show(viewer, viewer.viewing.index(person), track.kind)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        by_kind: dict[str, list[Any]] = {"audio": [], "video": []}
        for transceiver in pc.getTransceivers():
            by_kind.setdefault(transceiver.kind, []).append(transceiver)
        # The codecs are the offer's (the load test offers H.264 only, what the pod sends).
        for transceivers in by_kind.values():
            for n, transceiver in enumerate(transceivers):
                transceiver.direction = "sendrecv" if n == 0 else "sendonly"
        person.viewing = [p for p in person.hearing.people if p is not person]
        for slot, other in enumerate(person.viewing):
            for kind in other.published:
                self.show(person, slot, kind)
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    def show(self, viewer: Person, slot: int, kind: str) -> None:
        """Viewer's slot `slot` of `kind` gets the relayed track of the person it shows:
        aiortc encodes it again for this viewer."""
        if viewer.pc is None or slot >= len(viewer.viewing):
            return
        transceivers = [t for t in viewer.pc.getTransceivers() if t.kind == kind]
        source = viewer.viewing[slot].published.get(kind)
        if slot >= len(transceivers) or source is None:
            return
        proxy = self.relay.subscribe(source)
        viewer.proxies.append(proxy)
        transceivers[slot].sender.replaceTrack(proxy)

    async def leave_media(self, person: Person) -> None:
        pc, person.pc = person.pc, None
        person.published.clear()
        for proxy in person.proxies:
            proxy.stop()
        person.proxies.clear()
        if pc is not None:
            await pc.close()

    def stats(self, hearing: Hearing) -> dict[str, Any]:
        return {
            "hearing_id": hearing.id, "live": hearing.state in ("open", "in_session", "recess"),
            "design": "relay", "state": hearing.state, "participants": len(hearing.people),
            "published_tracks": sum(len(p.published) for p in hearing.people),
            "relayed_tracks": sum(sum(1 for t in p.proxies if t.readyState == "live") for p in hearing.people),
        }


RELAY = web.AppKey("relay", Relay)


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": code, "message": message}, status=status)


def _clerk(request: web.Request) -> bool:
    return request.headers.get("Authorization", "") == f"Bearer {request.app[RELAY].admin_key}"


def _caller(request: web.Request, hearing: Hearing) -> bool:
    auth = request.headers.get("Authorization", "")
    person = request.app[RELAY].tokens.get(auth.removeprefix("Bearer "))
    return _clerk(request) or (person is not None and person.hearing is hearing)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "design": "relay"})


async def create_hearing(request: web.Request) -> web.Response:
    if not _clerk(request):
        return _error(401, "unauthorized", "the clerk's key is needed")
    body = await request.json()
    relay = request.app[RELAY]
    hearing = Hearing(secrets.token_hex(6), str(body.get("case_number", "")), str(body.get("title", "")))
    relay.hearings[hearing.id] = hearing
    return web.json_response(hearing.describe(), status=201)


def _hearing(request: web.Request) -> Hearing | None:
    return request.app[RELAY].hearings.get(request.match_info["hearing_id"])


async def add_participant(request: web.Request) -> web.Response:
    hearing = _hearing(request)
    if not _clerk(request):
        return _error(401, "unauthorized", "the clerk's key is needed")
    if hearing is None:
        return _error(404, "not_found", "no such hearing")
    body = await request.json()
    relay = request.app[RELAY]
    person = Person(secrets.token_hex(6), secrets.token_urlsafe(24), str(body.get("role", "")),
                    str(body.get("name", "")), body.get("side"), hearing)
    hearing.people.append(person)
    relay.tokens[person.token] = person
    return web.json_response({**person.public(), "token": person.token, "join_url": ""}, status=201)


async def get_hearing(request: web.Request) -> web.Response:
    hearing = _hearing(request)
    if hearing is None or not _caller(request, hearing):
        return _error(404, "not_found", "no such hearing")
    return web.json_response(hearing.describe())


async def act(request: web.Request) -> web.Response:
    hearing = _hearing(request)
    if hearing is None or not _caller(request, hearing):
        return _error(404, "not_found", "no such hearing")
    body = await request.json()
    request.app[RELAY].act(hearing, str(body.get("action", "")))
    return web.json_response({"hearing": hearing.describe(), "events": []})


async def stats(request: web.Request) -> web.Response:
    hearing = _hearing(request)
    if hearing is None or not _caller(request, hearing):
        return _error(404, "not_found", "no such hearing")
    return web.json_response(request.app[RELAY].stats(hearing))


async def websocket(request: web.Request) -> web.StreamResponse:
    relay = request.app[RELAY]
    person = relay.tokens.get(request.query.get("token", ""))
    if person is None:
        return _error(401, "unauthorized", "connect with /ws?token=JOIN_TOKEN")
    ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024, heartbeat=20.0)
    await ws.prepare(request)
    person.ws = ws
    relay.broadcast_state(person.hearing)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            try:
                message = json.loads(msg.data)
                kind = message.get("type")
                if kind == "offer":
                    answer = await relay.offer(person, str(message.get("sdp", "")))
                    await relay.send(person, {"type": "answer", "sdp": answer})
                elif kind == "action":
                    relay.act(person.hearing, str(message.get("action", "")))
                elif kind == "ping":
                    await relay.send(person, {"type": "pong", "t": message.get("t")})
                elif kind == "hello":
                    await relay.send(person, relay.state_message(person))
                elif kind != "candidate":  # candidates travel in the SDP with aiortc
                    await relay.send(person, {"type": "error", "code": "unknown_type", "message": str(kind)})
            except Exception as exc:  # noqa: BLE001 - the edge: an error message, never a traceback
                log.exception("handling a message failed")
                await relay.send(person, {"type": "error", "code": "internal", "message": str(exc)})
    finally:
        if person.ws is ws:
            person.ws = None
            await relay.leave_media(person)
            relay.broadcast_state(person.hearing)
    return ws


async def _close_all(app: web.Application) -> None:
    relay = app[RELAY]
    for person in list(relay.tokens.values()):
        await relay.leave_media(person)


def create_app(admin_key: str) -> web.Application:
    app = web.Application()
    app[RELAY] = Relay(admin_key)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/hearings", create_hearing)
    app.router.add_get("/api/hearings/{hearing_id}", get_hearing)
    app.router.add_post("/api/hearings/{hearing_id}/participants", add_participant)
    app.router.add_post("/api/hearings/{hearing_id}/actions", act)
    app.router.add_get("/api/hearings/{hearing_id}/stats", stats)
    app.router.add_get("/ws", websocket)
    app.on_shutdown.append(_close_all)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.relay_server", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--ice-address", action="append", default=None, metavar="IP",
                        help="offer ICE host candidates only on this address (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aioice").setLevel(logging.WARNING)
    key = os.environ.get("COURTROOM_ADMIN_KEY") or secrets.token_urlsafe(24)
    if args.ice_address:
        restrict_host_addresses(args.ice_address)
    web.run_app(create_app(key), host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
