"""What a participant may fire now, and on whom: the controls a page shows.

The procedure table (`check_action`) says whether a role may fire an action in the hearing's
state; the roles table (`may_act_on`) whom it may act on; this module adds what the action
would *do* to that target now (admitting someone who has not come, muting the muted, calling
a witness who is not there does nothing), so that a page offers only controls that work.
The state message carries the result; pages never keep their own copy of these rules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable

from .participants import Participant, ParticipantState, WitnessState
from .procedure import ACTIONS, ActionRefused, HearingState, ProcedureKind, check_action
from .roles import Role, may_act_on

PS = ParticipantState
WS = WitnessState

# For each action on a participant: does it change anything for this target now?
USEFUL: dict[str, Callable[[Participant], bool]] = {
    # Only someone waiting at the door; a witness comes in when called, not admitted.
    "admit": lambda p: p.state is PS.WAITING and p.role is not Role.WITNESS,
    "mute": lambda p: p.state in (PS.WAITING, PS.ADMITTED) and not p.muted,
    "unmute": lambda p: p.muted,
    "remove": lambda p: p.state is not PS.REMOVED,
    "call_witness": lambda p: (
        p.role is Role.WITNESS and p.witness_state in (WS.ISOLATED, WS.EXCUSED) and p.connected
        and p.state is not PS.REMOVED
    ),
    "excuse_witness": lambda p: p.role is Role.WITNESS and p.witness_state is WS.TESTIFYING,
    "protect": lambda p: not p.protected and p.state is not PS.REMOVED,
    "unprotect": lambda p: p.protected,
    # Identity at join (courtroom/identity.py): a verdict or a new check-in for anyone still in the list.
    "verify_identity": lambda p: p.state is not PS.REMOVED,
    "recheck_identity": lambda p: p.state is not PS.REMOVED,
    # The judge's ruling on attendance (courtroom/attendance.py): on a party or an agent.
    "rule": lambda p: p.role in (Role.PLAINTIFF, Role.DEFENDANT, Role.AGENT) and p.state is not PS.REMOVED,
}

TARGET_ACTIONS = tuple(name for name, rule in ACTIONS.items() if rule.needs_participant)
# The actions that let someone in: the court's admission checks (identity at join) may hold them back.
ADMITTING = frozenset({"admit", "call_witness"})


def _allowed(action: str, state: HearingState, procedure: ProcedureKind, role: Role) -> bool:
    try:
        check_action(action, state, role, procedure)
    except ActionRefused:
        return False
    return True


def hearing_actions(state: HearingState, procedure: ProcedureKind, public: bool, role: Role) -> list[str]:
    """Actions without a target (procedure, broadcast, on oneself) this role may fire now."""
    out = []
    for name, rule in ACTIONS.items():
        if rule.needs_participant or not _allowed(name, state, procedure, role):
            continue
        if name == "broadcast_on" and not public:
            continue  # it would be refused: only a public hearing goes on air
        out.append(name)
    return out


def target_actions(
    state: HearingState, procedure: ProcedureKind, actor: Participant, people: Iterable[Participant],
    held_at_door: Collection[str] = (),
) -> dict[str, list[str]]:
    """For each other participant, the actions `actor` may fire on them now (only non-empty lists).
    `held_at_door`: people an admission check refuses now (an identity not yet verified): no
    action that would let them in."""
    allowed = [a for a in TARGET_ACTIONS if _allowed(a, state, procedure, actor.role)]
    if not allowed:
        return {}
    out: dict[str, list[str]] = {}
    for p in people:
        if p.id == actor.id or not may_act_on(actor.role, p.role):
            continue
        names = [a for a in allowed if USEFUL[a](p) and not (a in ADMITTING and p.id in held_at_door)]
        if names:
            out[p.id] = names
    return out
