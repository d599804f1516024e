"""`GET /ws?token=...`: the signaling socket (protocol in docs/protocol.md)."""

from __future__ import annotations

import logging
import time
from typing import Any

from aiohttp import WSMsgType, web

from courtroom.auth import AuthError
from courtroom.court import Actor
from courtroom.disclosure import Viewer
from courtroom.outbox import OutboxFull, Status
from courtroom.ratelimit import RateLimiter

from .errors import ApiError, classify
from .hub import Hub, Session
from .ice import ice_servers_message
from .peer import PeerSession
from .pod import HUB, POD, ROOMS, Pod
from .rooms import RoomManager
from .sdp import SdpError, check_offer
from .transcript_api import TRANSCRIPT
from .validation import EdgeError, credential_text, parse_json

log = logging.getLogger("courtroom.ws")

# aiohttp closes the socket above this; below it, our own limit answers with an error.
TRANSPORT_LIMIT = 4 * 1024 * 1024
# Actions write events: a burst of 30, then 5 a second, per participant (across reconnects).
ACTIONS_PER_PARTICIPANT = RateLimiter(burst=30, per_second=5.0)


async def websocket(request: web.Request) -> web.StreamResponse:
    pod: Pod = request.app[POD]
    hub = request.app[HUB]
    rooms = request.app[ROOMS]
    token = request.query.get("token", "")
    if not token:
        raise ApiError(401, "unauthorized", "connect with /ws?token=JOIN_TOKEN")
    hearing, participant = await pod.court.authenticate(credential_text(token))  # 401 before the upgrade

    ws = web.WebSocketResponse(max_msg_size=TRANSPORT_LIMIT, heartbeat=20.0)
    await ws.prepare(request)
    session = Session(ws, participant)
    old = hub.register(session)
    if old is not None:
        # The same participant again (a reload, a new device): the old socket and peer go.
        await _close_peer(old)
        await old.close_after("replaced", "you connected again from another window", 4000)
    session.send(ice_servers_message(pod.config, participant.id))  # before any offer
    try:
        await pod.court.connect(hearing.id, participant.id)
        pod.metrics.inc("courtroom_ws_connections_total")
        if not pod.court.outbox.available and Viewer.of(participant).officer:
            session.send(store_message(pod.court.outbox.status()))  # writes still wait: say so
        await _send_record_so_far(request.app, session)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await _handle_text(pod, rooms, session, msg.data, hub)
            elif msg.type == WSMsgType.BINARY:
                session.error("bad_message", "messages are JSON text")
            elif msg.type == WSMsgType.ERROR:
                break
            await session.yield_to_writer()
    except Exception:  # noqa: BLE001 - past the upgrade no HTTP answer can be written: close the socket
        log.exception("the socket of %s failed", participant.id)
        await ws.close(code=1011, message=b"internal")
    finally:
        current = hub.unregister(session)
        await _close_peer(session)
        if current and not session.left_on_purpose:
            await _record_drop(pod, hub, hearing.id, participant.id)
    return ws


async def _record_drop(pod: Pod, hub: Hub, hearing_id: str, participant_id: str) -> None:
    """A lost socket is the pod's own write: through the outbox, it waits out a database
    outage. One who has come back meanwhile was not lost: nothing is written then."""
    seen_at = time.monotonic()

    async def drop() -> None:
        if hub.current(hearing_id, participant_id) is None:
            await pod.court.disconnect(hearing_id, participant_id, "drop", seen_at)

    try:
        await pod.court.outbox.put(hearing_id, "participant.drop", drop)
    except OutboxFull:
        pass  # logged and counted by the outbox; the officers are told
    except Exception:  # noqa: BLE001 - a closing socket must not raise
        log.exception("recording a drop failed")


def store_message(status: Status) -> dict[str, Any]:
    """The officers' notice of the court's database: unreachable (writes wait), then back."""
    pending, stored, lost = int(status["pending"]), int(status["stored"]), int(status["lost"])
    if status["state"] == "unavailable":
        text = (f"The court's database cannot be reached: {pending} writes wait and will be stored when it is back"
                f"{f'; {lost} lost (the queue is full)' if lost else ''}. 数据库暂不可用，记录在排队。")
    else:
        text = f"The court's database is back: {stored} waiting writes stored, {lost} lost. 数据库已恢复。"
    return {"type": "store", "state": status["state"], "pending": pending, "stored": stored, "lost": lost,
            "message": text}


def tell_officers(hub: Hub, status: Status) -> None:
    """An outbox listener: the store's state to the judge and clerk of every hearing here."""
    message = store_message(status)
    for hearing_id in list(hub.sessions):
        hub.to_officers(hearing_id, message)


async def _send_record_so_far(app: web.Application, session: Session) -> None:
    """A late joiner (or a reconnecting one) gets the record so far, as much of it as the
    disclosure rule lets it see (a witness: only since it was called)."""
    hearing_id = session.participant.hearing_id
    rule = await app[HUB].disclosure(hearing_id)
    viewer = Viewer.of(session.participant)
    if not rule.sees_transcript(viewer):
        return
    segments = await app[TRANSCRIPT].segments(hearing_id)
    session.send({"type": "transcript_history", "segments": rule.segments(viewer, segments)})


async def _close_peer(session: Session) -> None:
    if session.peer is not None:
        peer, session.peer = session.peer, None
        await peer.close()


async def _handle_text(pod: Pod, rooms: RoomManager, session: Session, text: str, hub: Hub) -> None:
    try:
        message = parse_json(text, pod.config.max_ws_message_bytes)  # the same checks as HTTP bodies
    except EdgeError as exc:
        session.error(exc.code, exc.message if exc.code != "too_large" else
                      f"a message may be at most {pod.config.max_ws_message_bytes} bytes")
        return
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        session.error("bad_message", "a message is a JSON object with a type")
        return
    kind = message["type"]
    try:
        if kind == "offer":
            await _offer(pod, rooms, session, message)
        elif kind == "candidate":
            if session.peer is None:
                raise SdpError("send the offer before its candidates")
            await session.peer.add_candidate(message)
        elif kind == "action":
            if not ACTIONS_PER_PARTICIPANT.allow(session.id):
                session.error("rate_limited", "too many actions: wait a moment")
                return
            await _action(pod, session, message)
        elif kind == "ping":
            session.send({"type": "pong", "t": message.get("t")})
        elif kind == "hello":
            rule = await hub.disclosure(session.participant.hearing_id)
            layout = hub.layout_for(rule.hearing, list(rule.people))
            held = await hub.held_at_door(rule.hearing.id)
            session.send(hub.state_message(rule, session.participant, layout, held))
        else:
            session.error("unknown_type", f"unknown message type {kind!r}")
    except SdpError as exc:
        session.error("bad_sdp", str(exc))
    except EdgeError as exc:
        session.error(exc.code, exc.message)
    except AuthError as exc:
        session.error(exc.code, exc.message)
    except Exception as exc:  # noqa: BLE001 - the edge: an error message, the socket lives on
        mapped = classify(exc)
        if mapped is None:
            log.exception("handling a %s message failed", kind)
            session.error("internal", "the server could not handle this message")
        else:
            session.error(mapped[1], mapped[2])


async def _offer(pod: Pod, rooms: RoomManager, session: Session, message: dict[str, Any]) -> None:
    check_offer(message.get("sdp"))
    hearing = await pod.court.get_hearing(session.participant.hearing_id)
    people = await pod.court.participants(hearing.id)
    # HeldElsewhere (another pod of the court runs this hearing's media) becomes an error
    # message: the proxy routes there, and a dead pod's lease expires within seconds.
    room = await rooms.room_for(hearing, people)
    if room is None:
        session.error("not_live", f"the hearing is {hearing.state.value}: media opens when it opens")
        return
    if session.peer is None or session.peer.room is not room:
        if session.peer is not None:
            await session.peer.close()

        async def on_failed() -> None:
            session.error("media_failed", "the media connection failed: reconnect")

        session.peer = PeerSession(session.participant, room, pod.config, on_failed)
    answer = await session.peer.handle_offer(message.get("sdp"))
    session.send({"type": "answer", "sdp": answer})


async def _action(pod: Pod, session: Session, message: dict[str, Any]) -> None:
    action = message.get("action")
    if not isinstance(action, str):
        session.error("invalid_field", "action must be a string")
        return
    target = message.get("participant")
    actor = Actor(session.participant.id, session.participant.role, session.participant)
    if action == "leave":
        session.left_on_purpose = True
    await pod.court.act(session.participant.hearing_id, actor, action, target if isinstance(target, str) else None, message)
