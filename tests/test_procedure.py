"""The hearing's procedure as a table: every transition, every action in every state for every role."""

from __future__ import annotations

import itertools

import pytest

from courtroom.court import Actor, InvalidInput
from courtroom.procedure import (
    ACTIONS,
    LIVE,
    NOT_CLOSED,
    ActionRefused,
    HearingState,
    ProcedureKind,
    check_action,
    may_be_public,
)
from courtroom.roles import Role

S = HearingState
R = Role
K = ProcedureKind

# What the procedure must be, written out independently of the code's table.
TRANSITIONS: dict[tuple[str, HearingState], HearingState] = {
    ("open", S.SCHEDULED): S.OPEN,
    ("start", S.OPEN): S.IN_SESSION,
    ("recess", S.IN_SESSION): S.RECESS,
    ("resume", S.RECESS): S.IN_SESSION,
    ("close", S.OPEN): S.CLOSED,
    ("close", S.IN_SESSION): S.CLOSED,
    ("close", S.RECESS): S.CLOSED,
}

COURT = {R.JUDGE, R.MEDIATOR, R.CLERK}
PRESIDING = {R.JUDGE, R.MEDIATOR}
EVERYONE = set(R)
LIVE_STATES = {S.OPEN, S.IN_SESSION, S.RECESS}
NOT_CLOSED_STATES = {S.SCHEDULED, S.OPEN, S.IN_SESSION, S.RECESS}

# action -> (states it may be fired in, roles that may fire it, needs a participant, self only)
EXPECTED_RULES: dict[str, tuple[set[HearingState], set[Role], bool, bool]] = {
    "open": ({S.SCHEDULED}, COURT, False, False),
    "start": ({S.OPEN}, PRESIDING, False, False),
    "recess": ({S.IN_SESSION}, PRESIDING, False, False),
    "resume": ({S.RECESS}, PRESIDING, False, False),
    "close": (LIVE_STATES, PRESIDING, False, False),
    "admit": (LIVE_STATES, COURT, True, False),
    "mute": (LIVE_STATES, COURT, True, False),
    "unmute": (LIVE_STATES, COURT, True, False),
    "remove": (NOT_CLOSED_STATES, PRESIDING, True, False),
    "call_witness": ({S.IN_SESSION}, PRESIDING, True, False),
    "excuse_witness": ({S.IN_SESSION, S.RECESS}, PRESIDING, True, False),
    "protect": (NOT_CLOSED_STATES, PRESIDING, True, False),
    "unprotect": (NOT_CLOSED_STATES, PRESIDING, True, False),
    "broadcast_on": (LIVE_STATES, PRESIDING, False, False),
    "broadcast_off": (LIVE_STATES, PRESIDING, False, False),
    "self_mute": (LIVE_STATES, EVERYONE, False, True),
    "self_unmute": (LIVE_STATES, EVERYONE, False, True),
    "raise_hand": (LIVE_STATES, EVERYONE, False, True),
    "lower_hand": (LIVE_STATES, EVERYONE, False, True),
    "leave": (LIVE_STATES, EVERYONE, False, True),
    "verify_identity": (NOT_CLOSED_STATES, COURT, True, False),
    "recheck_identity": (LIVE_STATES, PRESIDING, True, False),
}

# The actions the outside contract (API.md) names: they must all exist.
CONTRACT_ACTIONS = {
    "open", "admit", "start", "recess", "resume", "close", "mute", "unmute", "remove",
    "call_witness", "excuse_witness", "broadcast_on", "broadcast_off",
}


def expected_outcome(action: str, state: HearingState, role: Role, kind: ProcedureKind) -> tuple[int, str] | None:
    """The refusal check_action must give, in its documented order: 400, then 403, then 409."""
    if action not in EXPECTED_RULES:
        return 400, "unknown_action"
    states, roles, _, self_only = EXPECTED_RULES[action]
    if role not in roles:
        return 403, "forbidden"
    if role is R.MEDIATOR and kind is not K.MEDIATION and not self_only:
        return 403, "forbidden"
    if state not in states:
        return 409, "invalid_state"
    if action == "broadcast_on" and kind is K.MEDIATION:
        return 409, "not_public"
    return None


def outcome(action: str, state: HearingState, role: Role, kind: ProcedureKind) -> tuple[int, str] | None:
    try:
        rule = check_action(action, state, role, kind)
    except ActionRefused as e:
        assert e.message and str(e) == e.message
        return e.status, e.code
    assert rule is ACTIONS[action]
    return None


# --- the table itself ---------------------------------------------------------------------------


def test_contract_values() -> None:
    assert {k.value for k in K} == {"small_claims", "simple", "ordinary", "evidence_exchange", "mediation"}
    assert {s.value for s in S} == {"scheduled", "open", "in_session", "recess", "closed"}
    assert CONTRACT_ACTIONS <= set(ACTIONS)


def test_action_table_is_as_specified() -> None:
    assert set(ACTIONS) == set(EXPECTED_RULES)
    for name, rule in ACTIONS.items():
        states, roles, needs_participant, self_only = EXPECTED_RULES[name]
        assert rule.action == name
        assert set(rule.states) == states, name
        assert set(rule.roles) == roles, name
        assert rule.needs_participant is needs_participant, name
        assert rule.self_only is self_only, name
        assert not (rule.needs_participant and rule.self_only), name


def test_transitions_are_exactly_the_procedure() -> None:
    table = {(r.action, s): r.target for r in ACTIONS.values() if r.target is not None for s in r.states}
    assert table == TRANSITIONS
    # Only the procedure actions move the hearing; acting on people never does.
    movers = {a for a, _ in TRANSITIONS}
    assert {r.action for r in ACTIONS.values() if r.target is not None} == movers


def test_set_constants() -> None:
    assert set(LIVE) == LIVE_STATES
    assert set(NOT_CLOSED) == NOT_CLOSED_STATES


def test_closed_is_final() -> None:
    for action, role, kind in itertools.product(ACTIONS, R, K):
        assert outcome(action, S.CLOSED, role, kind) is not None, (action, role, kind)


def test_every_state_is_reachable_and_can_reach_closed() -> None:
    graph: dict[HearingState, set[HearingState]] = {s: set() for s in S}
    for (_, src), dst in TRANSITIONS.items():
        graph[src].add(dst)

    def reach(start: HearingState) -> set[HearingState]:
        seen, todo = {start}, [start]
        while todo:
            for nxt in graph[todo.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    assert reach(S.SCHEDULED) == set(S)
    for state in S:
        assert S.CLOSED in reach(state)


# --- every transition, allowed and refused -----------------------------------------------------


@pytest.mark.parametrize(("action", "state"), sorted(TRANSITIONS), ids=lambda v: str(v))
def test_each_transition_is_allowed_to_the_judge(action: str, state: HearingState) -> None:
    rule = check_action(action, state, R.JUDGE, K.SIMPLE)
    assert rule.target is TRANSITIONS[(action, state)]


@pytest.mark.parametrize("action", sorted({a for a, _ in TRANSITIONS}))
def test_each_transition_is_refused_in_every_other_state(action: str) -> None:
    for state in S:
        if (action, state) in TRANSITIONS:
            continue
        with pytest.raises(ActionRefused) as e:
            check_action(action, state, R.JUDGE, K.SIMPLE)
        assert (e.value.status, e.value.code) == (409, "invalid_state"), (action, state)


# --- every action x state x role x procedure ---------------------------------------------------


@pytest.mark.parametrize("action", sorted(EXPECTED_RULES))
def test_action_for_every_state_role_and_procedure(action: str) -> None:
    wrong = []
    allowed = 0
    for state, role, kind in itertools.product(S, R, K):
        got = outcome(action, state, role, kind)
        want = expected_outcome(action, state, role, kind)
        if got != want:
            wrong.append((state.value, role.value, kind.value, got, want))
        allowed += got is None
    assert not wrong, wrong
    assert allowed > 0, f"nobody may ever {action}"


@pytest.mark.parametrize("action", ["", "fly", "OPEN", "open ", "__init__", "hearing.open"])
def test_unknown_actions_are_400_before_anything_else(action: str) -> None:
    for state, role, kind in itertools.product(S, R, K):
        assert outcome(action, state, role, kind) == (400, "unknown_action")


def test_refusal_order_403_before_409() -> None:
    # A plaintiff may never close: 403 even when the state would also refuse it.
    assert outcome("close", S.SCHEDULED, R.PLAINTIFF, K.SIMPLE) == (403, "forbidden")
    assert outcome("close", S.CLOSED, R.OBSERVER, K.SIMPLE) == (403, "forbidden")
    # The clerk may open, but not start (403), and cannot open twice (409).
    assert outcome("start", S.OPEN, R.CLERK, K.SIMPLE) == (403, "forbidden")
    assert outcome("open", S.OPEN, R.CLERK, K.SIMPLE) == (409, "invalid_state")
    # A mediator outside a mediation has no procedural power, whatever the state.
    assert outcome("start", S.OPEN, R.MEDIATOR, K.ORDINARY) == (403, "forbidden")
    assert outcome("start", S.CLOSED, R.MEDIATOR, K.ORDINARY) == (403, "forbidden")
    assert outcome("start", S.OPEN, R.MEDIATOR, K.MEDIATION) is None
    # ... but may still act on itself.
    assert outcome("raise_hand", S.OPEN, R.MEDIATOR, K.ORDINARY) is None


def test_broadcast_rules() -> None:
    for kind in K:
        assert may_be_public(kind) is (kind is not K.MEDIATION)
    # A mediation is never broadcast: 409 not_public, but only once the state allows broadcasting.
    assert outcome("broadcast_on", S.IN_SESSION, R.JUDGE, K.MEDIATION) == (409, "not_public")
    assert outcome("broadcast_on", S.IN_SESSION, R.MEDIATOR, K.MEDIATION) == (409, "not_public")
    assert outcome("broadcast_on", S.SCHEDULED, R.JUDGE, K.MEDIATION) == (409, "invalid_state")
    assert outcome("broadcast_on", S.IN_SESSION, R.PLAINTIFF, K.MEDIATION) == (403, "forbidden")
    # Switching it off is always allowed while live.
    assert outcome("broadcast_off", S.IN_SESSION, R.MEDIATOR, K.MEDIATION) is None
    assert outcome("broadcast_on", S.IN_SESSION, R.JUDGE, K.SIMPLE) is None


# --- the procedure through the Court (in process, real store) ------------------------------------

PATHS = [
    ["open", "close"],
    ["open", "start", "close"],
    ["open", "start", "recess", "close"],
    ["open", "start", "recess", "resume", "recess", "resume", "close"],
]


@pytest.mark.parametrize("path", PATHS, ids=lambda p: "-".join(p))
async def test_court_walks_each_path(court, path: list[str]) -> None:
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初1号"}, Actor.clerk())
    judge, _ = await court.add_participant(hearing.id, {"role": "judge", "name": "王法官"}, Actor.clerk())
    judge_actor = Actor(judge.id, judge.role, judge)
    state = S.SCHEDULED
    for action in path:
        actor = Actor.clerk() if action == "open" else judge_actor
        change = await court.act(hearing.id, actor, action)
        state = TRANSITIONS[(action, state)]
        assert change.hearing.state is state
        assert [e.kind for e in change.events] == [f"hearing.{action}"]
        assert (await court.get_hearing(hearing.id)).state is state
        # Nothing else is allowed from here that the table forbids.
        for other in ("open", "start", "recess", "resume"):
            if (other, state) not in TRANSITIONS:
                with pytest.raises(ActionRefused) as e:
                    await court.act(hearing.id, judge_actor, other)
                assert e.value.status in (403, 409)
    stored = await court.get_hearing(hearing.id)
    assert stored.state is S.CLOSED
    assert stored.opened_at is not None and stored.closed_at is not None
    assert stored.broadcast is False
    if "start" in path:
        assert stored.started_at is not None and stored.started_at <= stored.closed_at
    else:
        assert stored.started_at is None
    kinds = [e.kind for e in await court.events(hearing.id)]
    assert kinds == ["hearing.create", "participant.invite", *(f"hearing.{a}" for a in path)]


async def test_court_refusals_change_nothing(court) -> None:
    hearing = await court.create_hearing({"case_number": "X", "procedure": "mediation"}, Actor.clerk())
    plaintiff, _ = await court.add_participant(hearing.id, {"role": "plaintiff", "name": "张三"}, Actor.clerk())
    mediator, _ = await court.add_participant(hearing.id, {"role": "mediator", "name": "调解员"}, Actor.clerk())
    before = await court.events(hearing.id)
    party = Actor(plaintiff.id, plaintiff.role, plaintiff)
    med = Actor(mediator.id, mediator.role, mediator)
    for actor, action, status in [
        (party, "open", 403),
        (med, "start", 409),
        (med, "fly", 400),
        (med, "broadcast_on", 409),
    ]:
        with pytest.raises(ActionRefused) as e:
            await court.act(hearing.id, actor, action)
        assert e.value.status == status
    await court.act(hearing.id, med, "open")
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, med, "broadcast_on")
    assert (e.value.status, e.value.code) == (409, "not_public")
    with pytest.raises(InvalidInput):
        await court.act(hearing.id, med, "mute")  # needs a participant
    with pytest.raises(InvalidInput):
        await court.act(hearing.id, Actor.clerk(), "raise_hand")  # the clerk's key is nobody's self
    hearing_now = await court.get_hearing(hearing.id)
    assert hearing_now.state is S.OPEN and hearing_now.broadcast is False
    assert [e.kind for e in await court.events(hearing.id)] == [e.kind for e in before] + ["hearing.open"]
