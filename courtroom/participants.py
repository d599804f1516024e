"""The participant lifecycle and the witness's isolation, as data.

invited → waiting → admitted → left / removed. A dropped connection is not leaving: the
participant keeps its place and comes back with the same token. Removed is final.
Witnesses: isolated → testifying (called) → excused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .procedure import HearingState
from .roles import Permission, Role, may


class ParticipantState(StrEnum):
    INVITED = "invited"
    WAITING = "waiting"
    ADMITTED = "admitted"
    LEFT = "left"
    REMOVED = "removed"  # final: the token is dead


class WitnessState(StrEnum):
    ISOLATED = "isolated"
    TESTIFYING = "testifying"
    EXCUSED = "excused"


PS = ParticipantState
# (from, event) -> to. Events: join (connects), admit, leave, remove.
LIFECYCLE: dict[tuple[ParticipantState, str], ParticipantState] = {
    (PS.INVITED, "join"): PS.WAITING,
    (PS.WAITING, "join"): PS.WAITING,
    (PS.ADMITTED, "join"): PS.ADMITTED,  # a rejoin after a drop keeps the place
    (PS.LEFT, "join"): PS.WAITING,  # leaving on purpose means asking to be admitted again
    (PS.INVITED, "admit"): PS.ADMITTED,
    (PS.WAITING, "admit"): PS.ADMITTED,
    (PS.LEFT, "admit"): PS.ADMITTED,
    (PS.WAITING, "leave"): PS.LEFT,
    (PS.ADMITTED, "leave"): PS.LEFT,
    (PS.INVITED, "remove"): PS.REMOVED,
    (PS.WAITING, "remove"): PS.REMOVED,
    (PS.ADMITTED, "remove"): PS.REMOVED,
    (PS.LEFT, "remove"): PS.REMOVED,
}

# The court's own officers do not wait to be admitted: joining seats them.
SEATED_ON_JOIN = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR})

WS = WitnessState
WITNESS_FLOW: dict[tuple[WitnessState, str], WitnessState] = {
    (WS.ISOLATED, "call_witness"): WS.TESTIFYING,
    (WS.EXCUSED, "call_witness"): WS.TESTIFYING,  # recalled
    (WS.TESTIFYING, "excuse_witness"): WS.EXCUSED,
}


class LifecycleError(Exception):
    pass


def next_state(state: ParticipantState, event: str) -> ParticipantState:
    try:
        return LIFECYCLE[(state, event)]
    except KeyError:
        raise LifecycleError(f"a participant who is {state.value} cannot {event}") from None


def join_state(p: Participant) -> ParticipantState:
    """The state a participant is in after connecting."""
    state = next_state(p.state, "join")
    if p.role in SEATED_ON_JOIN and state is PS.WAITING:
        return PS.ADMITTED
    return state


def next_witness_state(state: WitnessState, event: str) -> WitnessState:
    try:
        return WITNESS_FLOW[(state, event)]
    except KeyError:
        raise LifecycleError(f"a witness who is {state.value} cannot be {event.replace('_witness', 'ed')}") from None


@dataclass
class Participant:
    id: str
    hearing_id: str
    name: str
    role: Role
    side: str | None = None  # an agent acts for the plaintiff's or the defendant's side
    state: ParticipantState = PS.INVITED
    witness_state: WitnessState | None = None
    muted: bool = False  # by the judge: the participant cannot undo it
    self_muted: bool = False
    hand_raised: bool = False
    protected: bool = False  # screened in the public picture and from `screened_from`
    screened_from: list[str] = field(default_factory=list)
    connected: bool = False  # runtime only: has a live socket now
    token_nonce: str = ""
    created_at: float = 0.0

    @property
    def silenced(self) -> bool:
        """Silent everywhere: every mix, the record and the recognizer."""
        return self.muted or self.self_muted

    def public_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "side": self.side,
            "state": self.state.value,
            "witness_state": self.witness_state.value if self.witness_state else None,
            "muted": self.muted,
            "self_muted": self.self_muted,
            "hand_raised": self.hand_raised,
            "protected": self.protected,
            "screened_from": list(self.screened_from),
            "connected": self.connected,
        }


def receives_hearing(p: Participant, hearing_state: HearingState) -> bool:
    """May this participant receive the hearing's media and transcript now?

    Waiting people get state only; a witness sees nothing until called and after excused.
    """
    if p.state is not PS.ADMITTED or hearing_state is HearingState.CLOSED:
        return False
    if not may(p.role, Permission.SEE_HEARING):
        return False
    if p.role is Role.WITNESS:
        return p.witness_state is WS.TESTIFYING
    return True


def publishes(p: Participant, hearing_state: HearingState) -> bool:
    """May this participant's microphone and camera go into the hearing?"""
    return receives_hearing(p, hearing_state) and may(p.role, Permission.SPEAK)
