"""The WebSocket side of each hearing: who is connected, and the fan-out of state and captions.

Each socket has a bounded outbox drained by its own writer task: a slow client never holds
up the others. A client whose outbox overflows is disconnected; it reconnects and gets a
fresh state.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from aiohttp import web

from courtroom.controls import hearing_actions, target_actions
from courtroom.court import Change, Court
from courtroom.disclosure import Disclosure, Viewer
from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.participants import Participant, ParticipantState, receives_hearing

from .disclose import disclosure_for
from .picture_layout import picture_layout

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
        self._rules: dict[str, Disclosure] = {}
        # Is the exhibit area in the picture now? The media room knows (wired by the app).
        self.exhibit_shown: Callable[[str], bool] = lambda hearing_id: False
        # Who an admission check would refuse now (identity at join, wired by identity_api):
        # the controls offer no admit or call for them.
        self.held_at_door: Callable[[str], Awaitable[frozenset[str]]] = _nobody_held
        court.add_listener(self._on_change)
        court.add_event_listener(self._on_event)

    def layout_for(self, hearing: Hearing, people: Sequence[Participant]) -> dict[str, Any]:
        """The picture's seat layout, the same for every viewer (a screened seat is still a seat)."""
        config = self.court.config
        return picture_layout(config.video_width, config.video_height, hearing.state, people, self.exhibit_shown(hearing.id))

    def speaker(self, hearing: Hearing, participant_id: str | None) -> None:
        """The active speaker's marker moved: pages that follow the speaker zoom to that seat."""
        message = {"type": "speaker", "participant": participant_id}
        for session in list(self.sessions.get(hearing.id, {}).values()):
            if receives_hearing(session.participant, hearing.state):
                session.send(message)

    async def refresh(self, hearing_id: str) -> None:
        """Send every socket of the hearing a fresh state (the picture's layout changed)."""
        if not self.sessions.get(hearing_id):
            return
        hearing = await self.court.get_hearing(hearing_id)
        people = await self.court.participants(hearing_id)
        await self._on_change(Change(hearing, people, [], "refresh"))

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

    async def disclosure(self, hearing_id: str, hearing: Hearing | None = None,
                         people: list[Participant] | None = None) -> Disclosure:
        """The disclosure rule for this hearing now (events included: a witness's record
        depends on when it was called), kept for the socket pushes until the next change."""
        rule = await disclosure_for(self.court, hearing_id, hearing, people)
        self._rules[hearing_id] = rule
        return rule

    def state_message(self, rule: Disclosure, participant: Participant,
                      layout: dict[str, Any] | None = None, held: Collection[str] = ()) -> dict[str, Any]:
        """What one participant is told on every change: the hearing as the disclosure rule
        lets this participant see it, and what it may do now: the actions without a target,
        and per other participant the actions on them that would do something
        (courtroom.controls). Pages render controls from these only."""
        hearing = rule.hearing
        viewer = Viewer.of(participant)
        return {
            "type": "state",
            "hearing": rule.hearing_view(viewer, self.court.describe(hearing, list(rule.people))),
            "you": participant.public_dict(),
            "receives_media": rule.receives_media(viewer),
            "actions": hearing_actions(hearing.state, hearing.procedure, hearing.broadcastable, participant.role),
            "participant_actions": target_actions(hearing.state, hearing.procedure, participant, list(rule.people),
                                                  held),
            "layout": layout,
        }

    async def _on_change(self, change: Change) -> None:
        group = self.sessions.get(change.hearing.id)
        if not group:
            self._rules.pop(change.hearing.id, None)
            return
        rule = await self.disclosure(change.hearing.id, change.hearing, change.participants)
        layout = self.layout_for(change.hearing, change.participants)
        held = await self.held_at_door(change.hearing.id)
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
            session.send(self.state_message(rule, p, layout, held))
        for event in change.events:
            self._on_event(event)

    def _on_event(self, event: Event) -> None:
        for session in list(self.sessions.get(event.hearing_id, {}).values()):
            if Viewer.of(session.participant).officer:  # the event log is the court's (disclosure)
                session.send({"type": "event", "event": event.to_dict()})

    def to_officers(self, hearing_id: str, message: dict[str, Any]) -> None:
        """A notice only the court's officers receive (overload, failed effects)."""
        for session in list(self.sessions.get(hearing_id, {}).values()):
            if Viewer.of(session.participant).officer:
                session.send(message)

    def broadcast(self, hearing_id: str, message: dict[str, Any], hearing_state: Any = None, transcript: bool = False) -> None:
        """Send to every socket of the hearing; a transcript message (`segment`) goes to each
        as the disclosure rule shapes it (dropped, or the speaker's name hidden)."""
        rule = self._rules.get(hearing_id)
        for session in list(self.sessions.get(hearing_id, {}).values()):
            if not transcript:
                session.send(message)
                continue
            viewer = Viewer.of(session.participant)
            if rule is None:
                # No change has reached this hearing's sockets yet: only the court reads on.
                if viewer.officer:
                    session.send(message)
                continue
            shown = rule.segment(viewer, message["segment"])
            if shown is not None:
                session.send({**message, "segment": shown})


async def _nobody_held(hearing_id: str) -> frozenset[str]:
    return frozenset()
