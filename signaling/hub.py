"""The WebSocket side of each hearing: who is connected, and the fan-out of state and captions.

Each socket has a bounded outbox drained by its own writer task: a slow client never holds
up the others. A client whose outbox overflows is disconnected; it reconnects and gets a
fresh state.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

from aiohttp import web

from courtroom.court import Change, Court
from courtroom.participants import Participant, ParticipantState, receives_hearing
from courtroom.roles import Permission, Role, may

log = logging.getLogger("courtroom.hub")

OUTBOX = 256


class Session:
    """One open socket of one participant."""

    def __init__(self, ws: web.WebSocketResponse, participant: Participant) -> None:
        self.ws = ws
        self.participant = participant
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(OUTBOX)
        self.peer: Any = None  # PeerSession, set once an offer arrives
        self.writer: asyncio.Task[None] | None = None
        self.closing = False
        self.left_on_purpose = False

    @property
    def id(self) -> str:
        return self.participant.id

    def send(self, message: dict[str, Any]) -> None:
        if self.closing:
            return
        try:
            self.outbox.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("participant %s is too slow; closing its socket", self.id)
            self.closing = True
            asyncio.get_running_loop().create_task(self.ws.close(code=1013, message=b"too slow"))

    async def run_writer(self) -> None:
        while True:
            message = await self.outbox.get()
            if message is None or self.ws.closed:
                return
            try:
                await self.ws.send_json(message)
            except (ConnectionResetError, RuntimeError):
                return

    def stop_writer(self) -> None:
        self.closing = True
        try:
            self.outbox.put_nowait(None)
        except asyncio.QueueFull:
            if self.writer is not None:
                self.writer.cancel()

    def error(self, code: str, message: str) -> None:
        self.send({"type": "error", "code": code, "message": message})


class Hub:
    def __init__(self, court: Court) -> None:
        self.court = court
        self.sessions: dict[str, dict[str, Session]] = defaultdict(dict)
        court.add_listener(self._on_change)

    def current(self, hearing_id: str, participant_id: str) -> Session | None:
        return self.sessions[hearing_id].get(participant_id)

    def register(self, session: Session) -> Session | None:
        """Make `session` the participant's socket; returns the one it replaces (a reload)."""
        old = self.sessions[session.participant.hearing_id].get(session.id)
        self.sessions[session.participant.hearing_id][session.id] = session
        session.writer = asyncio.create_task(session.run_writer())
        return old

    def unregister(self, session: Session) -> bool:
        """True when this was still the participant's current socket."""
        group = self.sessions[session.participant.hearing_id]
        session.stop_writer()
        if group.get(session.id) is session:
            del group[session.id]
            return True
        return False

    def state_message(self, change_or_snapshot: dict[str, Any], participant: Participant) -> dict[str, Any]:
        hearing_state = change_or_snapshot["state"]
        from courtroom.procedure import HearingState

        return {
            "type": "state",
            "hearing": change_or_snapshot,
            "you": participant.public_dict(),
            "receives_media": receives_hearing(participant, HearingState(hearing_state)),
        }

    async def _on_change(self, change: Change) -> None:
        group = self.sessions.get(change.hearing.id)
        if not group:
            return
        described = self.court.describe(change.hearing, change.participants)
        by_id = {p.id: p for p in change.participants}
        for session in list(group.values()):
            p = by_id.get(session.id)
            if p is None:
                continue
            p.connected = True
            session.participant = p
            if p.state is ParticipantState.REMOVED:
                session.error("removed", "you have been removed from this hearing")
                session.stop_writer()
                asyncio.get_running_loop().create_task(session.ws.close(code=4001, message=b"removed"))
                continue
            session.send(self.state_message(described, p))
        for event in change.events:
            for session in group.values():
                if session.participant.role in (Role.JUDGE, Role.CLERK, Role.MEDIATOR):
                    session.send({"type": "event", "event": event.to_dict()})

    def sees_transcript(self, p: Participant, hearing_state: Any) -> bool:
        if p.role in (Role.JUDGE, Role.CLERK) or (p.role is Role.MEDIATOR and may(p.role, Permission.SEE_HEARING)):
            return p.state is ParticipantState.ADMITTED
        return receives_hearing(p, hearing_state)

    def broadcast(self, hearing_id: str, message: dict[str, Any], hearing_state: Any, transcript: bool = False) -> None:
        for session in list(self.sessions.get(hearing_id, {}).values()):
            if transcript and not self.sees_transcript(session.participant, hearing_state):
                continue
            session.send(message)
