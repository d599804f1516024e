"""The court service: every change to a hearing goes through here.

It asks the procedure and lifecycle tables whether a change is allowed, applies it, stores
the new state with its events in one transaction, and tells the listeners (the media room,
the WebSocket fan-out). It holds no HTTP and no media.
"""

from __future__ import annotations

import math
import time
import unicodedata
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .auth import AuthError, TokenSigner, new_nonce
from .clock import HearingClock
from .config import Config
from .controls import ADMITTING
from .database import Database
from .effects import Effects
from .events import Event
from .hearing import Hearing
from .identity import IdentityInputError, parse_registered, verdict
from .keyed import LockTable, SetTable
from .outbox import Outbox
from .participants import (
    SEATED_ON_JOIN,
    LifecycleError,
    Participant,
    ParticipantState,
    WitnessState,
    join_state,
    next_state,
    next_witness_state,
)
from .procedure import ActionRefused, ActionRule, HearingState, ProcedureKind, check_action
from .ratelimit import RateLimiter
from .roles import SIDES, Role, may_act_on
from .storage import NotFound, Store

MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
PRESENCE_BURST = 10  # join/return/drop events a participant may write at once ...
PRESENCE_PER_SECOND = 0.1  # ... and then one every 10 s


class InvalidInput(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Actor:
    """Who asks: the clerk's API key, or a participant through its token."""

    id: str
    role: Role
    participant: Participant | None = None

    @classmethod
    def clerk(cls) -> Actor:
        return cls("clerk", Role.CLERK)


@dataclass
class Change:
    """What one action changed, as the listeners see it."""

    hearing: Hearing
    participants: list[Participant]
    events: list[Event]
    action: str = ""
    subject: Participant | None = None
    data: dict[str, Any] = field(default_factory=dict)


Listener = Callable[[Change], Awaitable[None] | None]
# Asked before a participant is let in (admit, call_witness); raises ActionRefused to refuse.
AdmissionCheck = Callable[[Hearing, "Participant"], Awaitable[None]]


def clean_text(value: object, field_name: str, max_len: int, required: bool = True, exact: bool = False) -> str:
    """Unicode text, bounded, without control characters. Names are trimmed and NFC;
    `exact` text (a case number) is stored exactly as given."""
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise InvalidInput("invalid_field", f"{field_name} must be a string")
    text = value if exact else unicodedata.normalize("NFC", value.strip())
    if exact and not text.strip():
        text = ""
    if required and not text:
        raise InvalidInput("invalid_field", f"{field_name} must not be empty")
    if len(text) > max_len:
        raise InvalidInput("invalid_field", f"{field_name} is longer than {max_len} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in text):
        raise InvalidInput("invalid_field", f"{field_name} contains control characters")
    return text


def _screened_from(p: Participant, screened: object, people: list[Participant]) -> list[str]:
    """The participants a protected participant is screened from, checked (400 otherwise)."""
    if p.role in (Role.JUDGE, Role.MEDIATOR):
        raise InvalidInput("invalid_target", f"the presiding {p.role.value} cannot be protected: the court is never screened")
    if not isinstance(screened, list) or not all(isinstance(s, str) for s in screened):
        raise InvalidInput("invalid_field", "screened_from must be a list of participant ids")
    ids = {q.id for q in people}
    unknown = [s for s in screened if s not in ids]
    if unknown:
        raise InvalidInput("unknown_participant", f"screened_from names no participant of this hearing: {', '.join(unknown)}")
    if p.id in screened:
        raise InvalidInput("invalid_field", f"{p.name} cannot be screened from themselves")
    return list(dict.fromkeys(screened))


class Court:
    def __init__(self, config: Config, db: Database, signer: TokenSigner) -> None:
        self.config = config
        self.db = db
        self.store = Store.of(db)
        self.signer = signer
        # Per hearing, kept only while in use (courtroom/keyed.py): nothing stays for a hearing that is over.
        self._locks: LockTable[str] = LockTable()
        self._clocks: dict[str, HearingClock] = {}  # live hearings only (see clock)
        self._connected: SetTable[str, str] = SetTable()
        self._presence = RateLimiter(PRESENCE_BURST, PRESENCE_PER_SECOND)  # presence events per participant
        self._listeners: list[Listener] = []
        self._event_listeners: list[Callable[[Event], None]] = []
        self._admission_checks: list[AdmissionCheck] = []
        self.outbox = Outbox(db, config.store_queue_limit)  # the pod's own writes, kept through an outage
        self.effects = Effects(self.record_event, self.outbox)
        # Called at the off-air press, before it is committed: (hearing id, cut from) -> the
        # hearing time from which the cutter did cut (later when it had already let more out).
        self.broadcast_cutters: list[Callable[[str, float], float | None]] = []
        # Awaited after the commit and before the answer (unlike the listeners' effects): the
        # record's finishing step is stored before anyone can be told the hearing has closed.
        self.before_answer: list[Callable[[Change], Awaitable[None]]] = []

    # listeners
    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def add_event_listener(self, listener: Callable[[Event], None]) -> None:
        """Told of events that change no state (`record_event`): evidence, confirmations, ..."""
        self._event_listeners.append(listener)

    def add_admission_check(self, check: AdmissionCheck) -> None:
        """Asked before anyone is admitted (the identity check: signaling/identity_api.py)."""
        self._admission_checks.append(check)

    async def _notify(self, change: Change) -> None:
        """The change is committed: its effects run after the answer, in order, each on its
        own (`courtroom.effects`): a failing listener never skips the others."""
        for listener in list(self._listeners):
            name = getattr(listener, "__qualname__", type(listener).__name__)
            self.effects.submit(change.hearing.id, f"{name}:{change.action}", partial(listener, change))

    # clock
    def clock(self, hearing: Hearing) -> HearingClock | None:
        if hearing.opened_at is None:
            return None
        if hearing.state is HearingState.CLOSED:
            self._clocks.pop(hearing.id, None)  # the same time, computed afresh, and not kept
            return HearingClock(hearing.opened_at)
        clock = self._clocks.get(hearing.id)
        if clock is None or clock.opened_at != hearing.opened_at:
            clock = self._clocks[hearing.id] = HearingClock(hearing.opened_at)
        return clock

    def hearing_time(self, hearing: Hearing) -> float:
        clock = self.clock(hearing)
        return clock.now() if clock else 0.0

    def _event(self, hearing: Hearing, kind: str, actor: str | None, subject: str | None = None, **data: Any) -> Event:
        return Event(hearing.id, kind, actor, subject, data, self.hearing_time(hearing), time.time())

    # reading
    async def get_hearing(self, hearing_id: str) -> Hearing:
        return await self.db.run(self.store.hearings.get_hearing, hearing_id)

    async def list_hearings(self) -> list[Hearing]:
        return await self.db.run(self.store.hearings.list_hearings)

    async def participants(self, hearing_id: str) -> list[Participant]:
        people = await self.db.run(self.store.hearings.list_participants, hearing_id)
        live = self._connected[hearing_id]
        for p in people:
            p.connected = p.id in live
        return people

    async def events(self, hearing_id: str, after: int = 0) -> list[Event]:
        return await self.db.run(self.store.hearings.list_events, hearing_id, after)

    async def snapshot(self, hearing_id: str) -> dict[str, Any]:
        hearing = await self.get_hearing(hearing_id)
        people = await self.participants(hearing_id)
        return self.describe(hearing, people)

    def describe(self, hearing: Hearing, people: list[Participant]) -> dict[str, Any]:
        data = hearing.to_dict()
        data["hearing_time"] = round(self.hearing_time(hearing), 3)
        data["participants"] = [p.public_dict() for p in people]
        data["broadcast_delay"] = self.config.broadcast_delay
        data["time_zone"] = self.config.time_zone  # the court's one clock, for every page
        data["language"] = self.config.language  # the court's language: the pages' default
        return data

    # creating
    async def create_hearing(self, body: dict[str, Any], actor: Actor) -> Hearing:
        case_number = clean_text(body.get("case_number"), "case_number", 200, exact=True)
        title = clean_text(body.get("title", ""), "title", 500, required=False) or case_number
        try:
            procedure = ProcedureKind(body.get("procedure", "simple"))
        except ValueError:
            kinds = ", ".join(k.value for k in ProcedureKind)
            raise InvalidInput("invalid_procedure", f"procedure must be one of: {kinds}") from None
        public = body.get("public", False)
        if not isinstance(public, bool):
            raise InvalidInput("invalid_field", "public must be true or false")
        if procedure is ProcedureKind.MEDIATION and public:
            raise InvalidInput("not_public", "a mediation is never public")
        scheduled_at = body.get("scheduled_at")
        # Finite and within years 1970..9999: a stored Infinity would be emitted as non-JSON.
        if scheduled_at is not None and (
            isinstance(scheduled_at, bool) or not isinstance(scheduled_at, int | float)
            or not math.isfinite(scheduled_at) or not 0 <= scheduled_at <= MAX_UNIX_SECONDS
        ):
            raise InvalidInput("invalid_field", "scheduled_at must be unix seconds (years 1970 to 9999)")
        court = clean_text(body.get("court", self.config.court), "court", 200, required=False)
        hearing = Hearing(
            id=uuid.uuid4().hex[:12],
            case_number=case_number,
            title=title,
            procedure=procedure,
            public=public,
            court=court,
            scheduled_at=float(scheduled_at) if scheduled_at is not None else None,
            created_at=time.time(),
        )
        event = self._event(hearing, "hearing.create", actor.id, case_number=case_number)

        def write() -> None:
            with self.store.transaction():  # the hearing and its first event at once
                self.store.hearings.create_hearing(hearing)
                self.store.hearings.append_event(event)

        await self.db.run(write)
        return hearing

    async def add_participant(self, hearing_id: str, body: dict[str, Any], actor: Actor) -> tuple[Participant, str]:
        async with self._locks[hearing_id]:
            hearing = await self.get_hearing(hearing_id)
            if hearing.state is HearingState.CLOSED:
                raise ActionRefused(409, "invalid_state", "the hearing is closed")
            name = clean_text(body.get("name"), "name", 100)
            try:
                role = Role(str(body.get("role")))
            except ValueError:
                roles = ", ".join(r.value for r in Role)
                raise InvalidInput("invalid_role", f"role must be one of: {roles}") from None
            side = body.get("side")
            if role is Role.AGENT:
                if side not in SIDES:
                    raise InvalidInput("invalid_field", "an agent needs side: plaintiff or defendant")
            elif role in (Role.PLAINTIFF, Role.DEFENDANT):
                side = role.value
            elif side is not None:
                raise InvalidInput("invalid_field", "only an agent names a side")
            if role is Role.MEDIATOR and hearing.procedure is not ProcedureKind.MEDIATION:
                raise InvalidInput("invalid_role", "a mediator sits only in a mediation")
            try:
                registered = parse_registered(body.get("identity"), name)
            except IdentityInputError as e:
                raise InvalidInput("invalid_field", str(e)) from None
            existing = await self.db.run(self.store.hearings.list_participants, hearing_id)
            if len(existing) >= self.config.max_participants * 4:
                raise ActionRefused(409, "too_many_participants", "this hearing has too many participants")
            participant = Participant(
                id=uuid.uuid4().hex[:12],
                hearing_id=hearing_id,
                name=name,
                role=role,
                side=side,
                witness_state=WitnessState.ISOLATED if role is Role.WITNESS else None,
                token_nonce=new_nonce(),
                created_at=time.time(),
            )
            event = self._event(hearing, "participant.invite", actor.id, participant.id, name=name, role=role.value)

            def write() -> None:
                with self.store.transaction():  # the participant, their identity and the event at once
                    self.store.hearings.add_participant(participant)
                    if registered is not None:
                        self.store.identities.register(hearing_id, participant.id, registered)
                    self.store.hearings.append_event(event)

            await self.db.run(write)
            people = await self.participants(hearing_id)
        await self._notify(Change(hearing, people, [event], "invite", participant))
        return participant, self.token_for(participant)

    def token_for(self, p: Participant) -> str:
        return self.signer.issue(p.hearing_id, p.id, p.role.value, p.token_nonce)

    def join_url(self, p: Participant, token: str) -> str:
        # The token rides in the fragment: browsers never send it, so no log ever sees it.
        page = "console" if p.role in SEATED_ON_JOIN else "join"
        return f"{self.config.base_url}/{page}/{p.hearing_id}#token={token}"

    # auth
    async def authenticate(self, token: str) -> tuple[Hearing, Participant]:
        claims = self.signer.verify(token)
        try:
            participant = await self.db.run(self.store.hearings.get_participant, claims.participant_id)
            hearing = await self.get_hearing(claims.hearing_id)
        except NotFound:
            raise AuthError("bad_token", "this join link is not valid") from None
        if participant.state is ParticipantState.REMOVED:
            raise AuthError("removed", "you have been removed from this hearing")
        if participant.hearing_id != hearing.id or not participant.token_nonce:
            raise AuthError("bad_token", "this join link is not valid")
        from .auth import same_secret

        if not same_secret(claims.nonce, participant.token_nonce):
            raise AuthError("bad_token", "this join link is no longer valid")
        participant.connected = participant.id in self._connected[hearing.id]
        return hearing, participant

    # presence
    async def connect(self, hearing_id: str, participant_id: str) -> Change:
        async with self._locks[hearing_id]:
            hearing = await self.get_hearing(hearing_id)
            p = await self.db.run(self.store.hearings.get_participant, participant_id)
            if p.state is ParticipantState.REMOVED:
                raise AuthError("removed", "you have been removed from this hearing")
            returning = p.state is ParticipantState.ADMITTED
            if hearing.state is not HearingState.CLOSED:
                p.state = join_state(p)
            self._connected.add(hearing_id, participant_id)
            kind = "participant.return" if returning else "participant.join"
            events = self._presence_event(hearing, kind, p.id)
            await self.db.run(self.store.hearings.commit_change, None, [p], events)
            people = await self.participants(hearing_id)
        change = Change(hearing, people, events, "connect", p)
        await self._notify(change)
        return change

    async def disconnect(self, hearing_id: str, participant_id: str, reason: str = "drop",
                         seen_at: float | None = None) -> None:
        """`seen_at` (the monotonic clock): when the pod saw the socket go, for a drop stored
        later (after a database outage): the log times it then, not when it was written."""
        async with self._locks[hearing_id]:
            self._connected.discard(hearing_id, participant_id)
            hearing = await self.get_hearing(hearing_id)
            p = await self.db.run(self.store.hearings.get_participant, participant_id)
            events = self._presence_event(hearing, f"participant.{reason}", p.id)
            clock = self.clock(hearing)
            if seen_at is not None and clock is not None:
                for e in events:
                    e.hearing_time = clock.at_monotonic(seen_at)
                    e.wall_time = time.time() - (time.monotonic() - seen_at)
            await self.db.run(self.store.hearings.commit_change, None, [], events)
            people = await self.participants(hearing_id)
        await self._notify(Change(hearing, people, events, "disconnect", p))

    def _presence_event(self, hearing: Hearing, kind: str, participant_id: str) -> list[Event]:
        """A join, return or drop for the log, within the participant's budget: a reconnect
        storm cannot grow the log without bound. The next one written says how many were not."""
        if not self._presence.allow(participant_id):
            return []
        suppressed = self._presence.take_suppressed(participant_id)
        extra = {"suppressed": suppressed} if suppressed else {}
        return [self._event(hearing, kind, participant_id, participant_id, **extra)]

    def held(self) -> dict[str, int]:
        """How many entries the per-hearing tables hold (a gauge: they follow the live hearings)."""
        return {"court_locks": len(self._locks), "court_connected": len(self._connected),
                "court_clocks": len(self._clocks), "presence_budgets": len(self._presence)}

    def is_connected(self, hearing_id: str, participant_id: str) -> bool:
        return participant_id in self._connected[hearing_id]

    # acting
    async def act(self, hearing_id: str, actor: Actor, action: str, target_id: str | None = None, data: dict[str, Any] | None = None) -> Change:
        data = data or {}
        # The hearing time of the act itself, before any wait for the lock: the off-air
        # button takes effect here, not when the change is committed.
        clock = self._clocks.get(hearing_id)
        acted_at = clock.now() if clock is not None else None
        async with self._locks[hearing_id]:
            hearing = await self.get_hearing(hearing_id)
            if acted_at is not None:
                data = {**data, "_acted_at": acted_at}
            if actor.participant is not None and actor.participant.hearing_id != hearing_id:
                raise ActionRefused(403, "forbidden", "your token is for another hearing")
            rule = check_action(action, hearing.state, actor.role, hearing.procedure)
            people = await self.participants(hearing_id)
            if actor.role is Role.JUDGE and actor.participant is not None and not rule.self_only:
                from .panel import presides

                if not presides(actor.participant, hearing, people):
                    raise ActionRefused(403, "forbidden", "only the presiding judge runs the procedure")
            by_id = {p.id: p for p in people}
            subject: Participant | None = None
            if rule.self_only:
                if actor.participant is None:
                    raise InvalidInput("invalid_field", f"{action} is for a participant on itself")
                subject = by_id[actor.participant.id]
            elif rule.needs_participant:
                if not isinstance(target_id, str) or not target_id:
                    raise InvalidInput("invalid_field", f"{action} needs a participant")
                subject = by_id.get(target_id)
                if subject is None:
                    raise NotFound(f"no participant {target_id} in this hearing")
                if not may_act_on(actor.role, subject.role):
                    raise ActionRefused(403, "forbidden", f"a {actor.role.value} may not {action} a {subject.role.value}")
            if action in ADMITTING and subject is not None:
                for check in list(self._admission_checks):
                    await check(hearing, subject)
            changed: list[Participant] = []
            events: list[Event] = []
            try:
                self._apply(hearing, actor, rule, subject, data, people, changed, events)
            except LifecycleError as e:
                raise ActionRefused(409, "invalid_state", str(e)) from None
            await self.db.run(self.store.hearings.commit_change, hearing, changed, events)
            people = await self.participants(hearing_id)
        change = Change(hearing, people, events, action, subject, data)
        for hook in list(self.before_answer):
            await hook(change)
        await self._notify(change)
        return change

    def _apply(
        self,
        hearing: Hearing,
        actor: Actor,
        rule: ActionRule,
        p: Participant | None,
        data: dict[str, Any],
        people: list[Participant],
        changed: list[Participant],
        events: list[Event],
    ) -> None:
        action = rule.action
        if rule.target is not None:
            if action == "open":
                hearing.opened_at = time.time()
                self._clocks.pop(hearing.id, None)
            hearing.state = rule.target
            now = self.hearing_time(hearing)
            if action == "start" and hearing.started_at is None:
                hearing.started_at = now
            if action == "close":
                hearing.closed_at = now
                hearing.broadcast = False
            events.append(self._event(hearing, f"hearing.{action}", actor.id))
            return
        if action in ("broadcast_on", "broadcast_off"):
            if action == "broadcast_on" and not hearing.broadcastable:
                raise ActionRefused(409, "not_public", "only a public hearing can be broadcast")
            hearing.broadcast = action == "broadcast_on"
            hearing.ever_broadcast = hearing.ever_broadcast or hearing.broadcast
            extra_data: dict[str, Any] = {}
            if action == "broadcast_off":
                extra_data = self._cut(hearing, data)
            events.append(self._event(hearing, f"hearing.{action}", actor.id, delay=self.config.broadcast_delay, **extra_data))
            return
        assert p is not None
        extra: dict[str, Any] = {}
        if action == "admit":
            p.state = next_state(p.state, "admit")
        elif action == "remove":
            if actor.participant is not None and p.id == actor.participant.id:
                raise ActionRefused(409, "invalid_state", "you cannot remove yourself")
            p.state = next_state(p.state, "remove")
            p.token_nonce = ""  # the old token is dead for good
        elif action in ("mute", "unmute"):
            p.muted = action == "mute"
        elif action in ("self_mute", "self_unmute"):
            p.self_muted = action == "self_mute"
        elif action in ("raise_hand", "lower_hand"):
            p.hand_raised = action == "raise_hand"
        elif action == "leave":
            p.state = next_state(p.state, "leave")
            p.hand_raised = False
        elif action in ("call_witness", "excuse_witness"):
            if p.role is not Role.WITNESS or p.witness_state is None:
                raise ActionRefused(409, "not_a_witness", f"{p.name} is not a witness")
            if action == "call_witness" and p.state is not ParticipantState.ADMITTED:
                p.state = next_state(p.state, "admit")  # calling a witness brings it in
            p.witness_state = next_witness_state(p.witness_state, action)
        elif action == "rule":
            from .attendance import RULINGS

            ruling = data.get("ruling")
            if ruling not in RULINGS:
                raise InvalidInput("invalid_ruling", f"ruling must be one of: {', '.join(RULINGS)}")
            extra["ruling"] = ruling
        elif action in ("protect", "unprotect"):
            p.protected = action == "protect"
            if p.protected:
                p.screened_from = _screened_from(p, data.get("screened_from", []), people)
                extra["screened_from"] = p.screened_from
            else:
                p.screened_from = []
        elif action == "verify_identity":
            try:
                extra = verdict(data)
            except IdentityInputError as e:
                raise InvalidInput("invalid_field", str(e)) from None
        changed.append(p)
        events.append(self._event(hearing, f"participant.{action}", actor.id, p.id, **extra))

    def _cut(self, hearing: Hearing, data: dict[str, Any]) -> dict[str, Any]:
        """The dump button: the public loses everything it has not yet been shown, i.e. all
        from the act's hearing time minus the delay. The public stream's delay line (a cutter)
        is asked now, atomically, so that what it already let out stays and the rest is cut:
        the line, the public captions and the replay then read the same `cut_from`."""
        acted_at = data.get("_acted_at")
        if not isinstance(acted_at, float):
            acted_at = self.hearing_time(hearing)
        cut_from = acted_at - self.config.broadcast_delay
        for cutter in list(self.broadcast_cutters):
            try:
                done = cutter(hearing.id, cut_from)
            except Exception:  # noqa: BLE001 - the cut in the record stands; the log has the rest
                import logging

                logging.getLogger("courtroom.court").exception("a broadcast cutter failed")
                continue
            if done is not None:
                cut_from = max(cut_from, done)
        return {"acted_at": round(acted_at, 3), "cut_from": round(cut_from, 3)}

    async def record_event(self, hearing_id: str, kind: str, actor: str | None, subject: str | None = None, **data: Any) -> Event:
        """An event that changes no state (overload notices, recording parts, ...)."""
        hearing = await self.get_hearing(hearing_id)
        event = self._event(hearing, kind, actor, subject, **data)
        await self.db.run(self.store.hearings.append_event, event)
        self.announce_event(event)
        return event

    def announce_event(self, event: Event) -> None:
        """Tell the event listeners of an event already stored (by `record_event` or by a store
        that writes its event in its own transaction, as evidence uploads do)."""
        for listener in list(self._event_listeners):
            listener(event)

    async def update_extra(self, hearing_id: str, **values: Any) -> Hearing:
        async with self._locks[hearing_id]:
            hearing = await self.get_hearing(hearing_id)
            hearing.extra.update(values)
            await self.db.run(self.store.hearings.save_hearing, hearing)
            return hearing
