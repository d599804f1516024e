"""The hearing's procedure as data: states, the actions that move it, and who may fire them.

Handlers never re-implement these rules; they ask `check_action`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .roles import Role


class HearingState(StrEnum):
    SCHEDULED = "scheduled"
    OPEN = "open"  # the waiting room is open
    IN_SESSION = "in_session"
    RECESS = "recess"
    CLOSED = "closed"  # final


class ProcedureKind(StrEnum):
    SMALL_CLAIMS = "small_claims"
    SIMPLE = "simple"
    ORDINARY = "ordinary"
    EVIDENCE_EXCHANGE = "evidence_exchange"
    MEDIATION = "mediation"  # never public, never broadcast


S = HearingState
LIVE = frozenset({S.OPEN, S.IN_SESSION, S.RECESS})
NOT_CLOSED = frozenset({S.SCHEDULED, S.OPEN, S.IN_SESSION, S.RECESS})
_PRESIDING = frozenset({Role.JUDGE, Role.MEDIATOR})
_COURT = frozenset({Role.JUDGE, Role.MEDIATOR, Role.CLERK})


@dataclass(frozen=True)
class ActionRule:
    """An action: the states it may be fired in, who may fire it, where it leads."""

    action: str
    states: frozenset[HearingState]
    roles: frozenset[Role]
    target: HearingState | None = None  # a procedure transition when set
    needs_participant: bool = False
    self_only: bool = False  # a participant acting on itself (raise hand, own mute)


ACTIONS: dict[str, ActionRule] = {
    r.action: r
    for r in (
        # Procedure transitions.
        ActionRule("open", frozenset({S.SCHEDULED}), _COURT, target=S.OPEN),
        ActionRule("start", frozenset({S.OPEN}), _PRESIDING, target=S.IN_SESSION),
        ActionRule("recess", frozenset({S.IN_SESSION}), _PRESIDING, target=S.RECESS),
        ActionRule("resume", frozenset({S.RECESS}), _PRESIDING, target=S.IN_SESSION),
        ActionRule("close", LIVE, _PRESIDING, target=S.CLOSED),
        # Acting on participants.
        ActionRule("admit", LIVE, _COURT, needs_participant=True),
        ActionRule("mute", LIVE, _COURT, needs_participant=True),
        ActionRule("unmute", LIVE, _COURT, needs_participant=True),
        ActionRule("remove", NOT_CLOSED, _PRESIDING, needs_participant=True),
        ActionRule("call_witness", frozenset({S.IN_SESSION}), _PRESIDING, needs_participant=True),
        ActionRule("excuse_witness", frozenset({S.IN_SESSION, S.RECESS}), _PRESIDING, needs_participant=True),
        ActionRule("protect", NOT_CLOSED, _PRESIDING, needs_participant=True),
        ActionRule("unprotect", NOT_CLOSED, _PRESIDING, needs_participant=True),
        # Identity (courtroom/identity.py): the officers' verdict; the judge asks for a new check-in.
        ActionRule("verify_identity", NOT_CLOSED, _COURT, needs_participant=True),
        ActionRule("recheck_identity", LIVE, _PRESIDING, needs_participant=True),
        # The public broadcast.
        ActionRule("broadcast_on", frozenset({S.OPEN, S.IN_SESSION, S.RECESS}), _PRESIDING),
        ActionRule("broadcast_off", LIVE, _PRESIDING),
        # A participant on itself.
        ActionRule("self_mute", LIVE, frozenset(Role), self_only=True),
        ActionRule("self_unmute", LIVE, frozenset(Role), self_only=True),
        ActionRule("raise_hand", LIVE, frozenset(Role), self_only=True),
        ActionRule("lower_hand", LIVE, frozenset(Role), self_only=True),
        ActionRule("leave", LIVE, frozenset(Role), self_only=True),
    )
}


class ActionRefused(Exception):
    """An action that the procedure does not allow. `status` maps onto HTTP (403/409/400/404)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def check_action(action: str, state: HearingState, role: Role, procedure: ProcedureKind) -> ActionRule:
    """Return the rule for `action` if `role` may fire it now, else raise ActionRefused."""
    rule = ACTIONS.get(action)
    if rule is None:
        raise ActionRefused(400, "unknown_action", f"unknown action {action!r}")
    if role not in rule.roles:
        raise ActionRefused(403, "forbidden", f"a {role.value} may not {action}")
    # A mediator presides only over a mediation; elsewhere it has no procedural power.
    if role is Role.MEDIATOR and procedure is not ProcedureKind.MEDIATION and not rule.self_only:
        raise ActionRefused(403, "forbidden", f"a mediator may not {action} outside a mediation")
    if state not in rule.states:
        raise ActionRefused(409, "invalid_state", f"cannot {action} while the hearing is {state.value}")
    if action == "broadcast_on" and procedure is ProcedureKind.MEDIATION:
        raise ActionRefused(409, "not_public", "a mediation is never broadcast")
    return rule


def may_be_public(procedure: ProcedureKind) -> bool:
    return procedure is not ProcedureKind.MEDIATION
