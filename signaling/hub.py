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
from courtroom.events import Event
from courtroom.participants import Participant, ParticipantState, receives_hearing
from courtroom.procedure import ACTIONS, ActionRefused, HearingState, ProcedureKind, check_action
from courtroom.roles import Permission, Role, may

log = logging.getLogger("courtroom.hub")

OUTBOX = 256
OFFICERS = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR})


class Session:
    """One open socket of one participant."""

    def __init__(self, ws: web.WebSocketResponse, participant: Participant) -> None:
        self.ws = ws
        self.participant = participant
        self.outbox: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(OUTBOX)
        self.peer: Any = None  # PeerSession, set once an offer arrives
        self.writer: asyncio.Task[None] | None = None
        self.closer: asyncio.Task[bool] | None = None
        self.closing = False
        self.left_on_purpose = False
        self.last_sent: tuple[float, float] | None = None  # (monotonic, bytes) for the stats' send rate

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
            # Kept so that it runs to the end; the reader loop then cleans up as for any close.
            self.closer = asyncio.get_running_loop().create_task(self.ws.close(code=1013, message=b"too slow"))

    async def run_writer(self) -> None:
        while True:
            message = await self.outbox.get()
            if message is None or self.ws.closed:
                return
            try:
                await self.ws.send_json(message)
            except (ConnectionResetError, RuntimeError):
                return

    async def yield_to_writer(self, timeout: float = 5.0) -> None:
        """Called by the reader after each message. Messages that are already buffered are
        read without the loop ever switching, so the writer would not run during a burst and
        the client's own answers would overflow its outbox. Let it run; past half an outbox,
        read no more until the answers are out (a client that does not read them is closed
        by `send` when the outbox is full, as before)."""
        await asyncio.sleep(0)
        if self.outbox.qsize() <= OUTBOX // 2:
            return
        deadline = asyncio.get_running_loop().time() + timeout
        while self.outbox.qsize() > OUTBOX // 4 and not self.closing and not self.ws.closed:
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.005)

    def stop_writer(self) -> None:
        self.closing = True
        try:
            self.outbox.put_nowait(None)
        except asyncio.QueueFull:
            if self.writer is not None:
                self.writer.cancel()

    def error(self, code: str, message: str) -> None:
        self.send({"type": "error", "code": code, "message": message})

    async def close_after(self, code: str, message: str, close_code: int) -> None:
        """Tell the participant why, let the writer deliver it, then close the socket."""
        self.error(code, message)
        self.stop_writer()
        if self.writer is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.writer), 2.0)
            except (TimeoutError, asyncio.CancelledError):
                pass
        await self.ws.close(code=close_code, message=code.encode())


class Hub:
    def __init__(self, court: Court) -> None:
        self.court = court
        self.sessions: dict[str, dict[str, Session]] = defaultdict(dict)
        self._closing: set[asyncio.Task[None]] = set()
        court.add_listener(self._on_change)
        court.add_event_listener(self._on_event)

    def current(self, hearing_id: str, participant_id: str) -> Session | None:
        return self.sessions.get(hearing_id, {}).get(participant_id)

    def register(self, session: Session) -> Session | None:
        """Make `session` the participant's socket; returns the one it replaces (a reload)."""
        old = self.sessions[session.participant.hearing_id].get(session.id)
        self.sessions[session.participant.hearing_id][session.id] = session
        session.writer = asyncio.create_task(session.run_writer())
        return old

    def unregister(self, session: Session) -> bool:
        """True when this was still the participant's current socket."""
        group = self.sessions.get(session.participant.hearing_id, {})
        session.stop_writer()
        if group.get(session.id) is session:
            del group[session.id]
            if not group:  # the hearing's last socket: nothing of it stays here
                self.sessions.pop(session.participant.hearing_id, None)
            return True
        return False

    @staticmethod
    def state_message(hearing: dict[str, Any], participant: Participant) -> dict[str, Any]:
        """What one participant is told on every change, including what it may do now."""
        state = HearingState(hearing["state"])
        procedure = ProcedureKind(hearing["procedure"])
        actions = []
        for name in ACTIONS:
            try:
                check_action(name, state, participant.role, procedure)
            except ActionRefused:
                continue
            actions.append(name)
        return {
            "type": "state",
            "hearing": hearing,
            "you": participant.public_dict(),
            "receives_media": receives_hearing(participant, state),
            "actions": actions,
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
                task = asyncio.get_running_loop().create_task(
                    session.close_after("removed", "you have been removed from this hearing", 4001)
                )
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
                continue
            session.send(self.state_message(described, p))
        for event in change.events:
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        for session in list(self.sessions.get(event.hearing_id, {}).values()):
            if session.participant.role in OFFICERS:
                session.send({"type": "event", "event": event.to_dict()})

    def sees_transcript(self, p: Participant, hearing_state: Any) -> bool:
        if p.role in (Role.JUDGE, Role.CLERK) or (p.role is Role.MEDIATOR and may(p.role, Permission.SEE_HEARING)):
            return p.state is ParticipantState.ADMITTED
        return receives_hearing(p, hearing_state)

    def notify_officers(self, hearing_id: str, message: dict[str, Any]) -> None:
        """A `notice` for the judge, clerk and mediator (their consoles show it)."""
        for session in list(self.sessions.get(hearing_id, {}).values()):
            if session.participant.role in OFFICERS:
                session.send(message)

    def broadcast(self, hearing_id: str, message: dict[str, Any], hearing_state: Any, transcript: bool = False) -> None:
        for session in list(self.sessions.get(hearing_id, {}).values()):
            if transcript and not self.sees_transcript(session.participant, hearing_state):
                continue
            session.send(message)
