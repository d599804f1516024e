"""The participant lifecycle, the witness's isolation, and who receives and publishes what."""

from __future__ import annotations

import itertools

import pytest

from courtroom.auth import AuthError
from courtroom.court import Actor
from courtroom.participants import (
    LIFECYCLE,
    WITNESS_FLOW,
    LifecycleError,
    Participant,
    ParticipantState,
    WitnessState,
    next_state,
    next_witness_state,
    publishes,
    receives_hearing,
)
from courtroom.procedure import ActionRefused, HearingState
from courtroom.roles import Role

PS = ParticipantState
WS = WitnessState
HS = HearingState
EVENTS = ("join", "admit", "leave", "remove")

# The lifecycle written out: (from, event) -> to. Every other pair is refused.
EXPECTED_LIFECYCLE = {
    (PS.INVITED, "join"): PS.WAITING,
    (PS.INVITED, "admit"): PS.ADMITTED,
    (PS.INVITED, "remove"): PS.REMOVED,
    (PS.WAITING, "join"): PS.WAITING,
    (PS.WAITING, "admit"): PS.ADMITTED,
    (PS.WAITING, "leave"): PS.LEFT,
    (PS.WAITING, "remove"): PS.REMOVED,
    (PS.ADMITTED, "join"): PS.ADMITTED,
    (PS.ADMITTED, "leave"): PS.LEFT,
    (PS.ADMITTED, "remove"): PS.REMOVED,
    (PS.LEFT, "join"): PS.WAITING,
    (PS.LEFT, "admit"): PS.ADMITTED,
    (PS.LEFT, "remove"): PS.REMOVED,
}
EXPECTED_WITNESS = {
    (WS.ISOLATED, "call_witness"): WS.TESTIFYING,
    (WS.EXCUSED, "call_witness"): WS.TESTIFYING,
    (WS.TESTIFYING, "excuse_witness"): WS.EXCUSED,
}


def test_lifecycle_table_is_as_specified() -> None:
    assert LIFECYCLE == EXPECTED_LIFECYCLE
    assert {e for _, e in LIFECYCLE} == set(EVENTS)
    assert WITNESS_FLOW == EXPECTED_WITNESS


@pytest.mark.parametrize(("state", "event"), list(itertools.product(PS, EVENTS)), ids=str)
def test_every_lifecycle_pair(state: ParticipantState, event: str) -> None:
    if (state, event) in EXPECTED_LIFECYCLE:
        assert next_state(state, event) is EXPECTED_LIFECYCLE[(state, event)]
    else:
        with pytest.raises(LifecycleError) as e:
            next_state(state, event)
        assert state.value in str(e.value) and event in str(e.value)


def test_removed_is_final_and_unknown_events_refused() -> None:
    assert not [k for k in LIFECYCLE if k[0] is PS.REMOVED]
    for state in PS:
        for event in ("fly", "", "call_witness", "JOIN"):
            with pytest.raises(LifecycleError):
                next_state(state, event)


@pytest.mark.parametrize(("state", "event"), list(itertools.product(WS, ["call_witness", "excuse_witness"])), ids=str)
def test_every_witness_pair(state: WitnessState, event: str) -> None:
    if (state, event) in EXPECTED_WITNESS:
        assert next_witness_state(state, event) is EXPECTED_WITNESS[(state, event)]
    else:
        with pytest.raises(LifecycleError) as e:
            next_witness_state(state, event)
        assert state.value in str(e.value)


# --- receives_hearing / publishes for every role, participant state and hearing state ------------


def _person(role: Role, state: ParticipantState, witness: WitnessState | None) -> Participant:
    return Participant(id="p1", hearing_id="h1", name="某", role=role, state=state, witness_state=witness)


def _cases():
    for role, pstate, hstate in itertools.product(Role, PS, HS):
        for wstate in (list(WS) if role is Role.WITNESS else [None]):
            yield role, pstate, hstate, wstate


def test_receives_and_publishes_for_every_case() -> None:
    wrong = []
    for role, pstate, hstate, wstate in _cases():
        p = _person(role, pstate, wstate)
        receives = (
            pstate is PS.ADMITTED
            and hstate is not HS.CLOSED
            and (role is not Role.WITNESS or wstate is WS.TESTIFYING)
        )
        publish = receives and role is not Role.OBSERVER
        got = (receives_hearing(p, hstate), publishes(p, hstate))
        if got != (receives, publish):
            wrong.append((role.value, pstate.value, hstate.value, wstate, got))
    assert not wrong, wrong


@pytest.mark.parametrize("role", list(Role), ids=str)
@pytest.mark.parametrize("hstate", [HS.OPEN, HS.IN_SESSION, HS.RECESS], ids=str)
def test_waiting_people_receive_nothing(role: Role, hstate: HearingState) -> None:
    for pstate in (PS.INVITED, PS.WAITING, PS.LEFT, PS.REMOVED):
        p = _person(role, pstate, WS.TESTIFYING if role is Role.WITNESS else None)
        assert not receives_hearing(p, hstate)
        assert not publishes(p, hstate)


@pytest.mark.parametrize("hstate", [HS.OPEN, HS.IN_SESSION, HS.RECESS], ids=str)
def test_witness_isolation(hstate: HearingState) -> None:
    uncalled = _person(Role.WITNESS, PS.ADMITTED, WS.ISOLATED)
    assert not receives_hearing(uncalled, hstate) and not publishes(uncalled, hstate)
    testifying = _person(Role.WITNESS, PS.ADMITTED, WS.TESTIFYING)
    assert receives_hearing(testifying, hstate) and publishes(testifying, hstate)
    excused = _person(Role.WITNESS, PS.ADMITTED, WS.EXCUSED)
    assert not receives_hearing(excused, hstate) and not publishes(excused, hstate)
    # A witness with no witness state at all is treated as not called.
    assert not receives_hearing(_person(Role.WITNESS, PS.ADMITTED, None), hstate)


def test_observer_receives_but_does_not_publish() -> None:
    p = _person(Role.OBSERVER, PS.ADMITTED, None)
    assert receives_hearing(p, HS.IN_SESSION)
    assert not publishes(p, HS.IN_SESSION)


def test_nobody_receives_a_closed_hearing() -> None:
    for role in Role:
        p = _person(role, PS.ADMITTED, WS.TESTIFYING if role is Role.WITNESS else None)
        assert not receives_hearing(p, HS.CLOSED) and not publishes(p, HS.CLOSED)


def test_silenced_and_public_dict() -> None:
    p = _person(Role.PLAINTIFF, PS.ADMITTED, None)
    assert not p.silenced
    p.muted = True
    assert p.silenced
    p.muted, p.self_muted = False, True
    assert p.silenced
    p.token_nonce = "secret-nonce"
    d = p.public_dict()
    assert set(d) == {"id", "name", "role", "side", "state", "witness_state", "muted", "self_muted",
                      "hand_raised", "protected", "screened_from", "connected"}
    assert "secret-nonce" not in repr(d)
    assert d["role"] == "plaintiff" and d["state"] == "admitted"


# --- the lifecycle and the witness flow through the Court -----------------------------------------


async def _seat(court, *people: tuple[str, str]):
    clerk = Actor.clerk()
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初9号"}, clerk)
    seated = []
    for role, name in people:
        p, _ = await court.add_participant(hearing.id, {"role": role, "name": name}, clerk)
        seated.append(p)
    return hearing, seated


def _actor(p: Participant) -> Actor:
    return Actor(p.id, p.role, p)


async def _state(court, hearing_id: str, pid: str) -> Participant:
    return {p.id: p for p in await court.participants(hearing_id)}[pid]


async def test_lifecycle_through_the_court(court) -> None:
    hearing, (judge, party) = await _seat(court, ("judge", "王法官"), ("plaintiff", "张三"))
    j = _actor(judge)
    assert (await _state(court, hearing.id, party.id)).state is PS.INVITED
    await court.act(hearing.id, Actor.clerk(), "open")
    await court.connect(hearing.id, party.id)  # join
    p = await _state(court, hearing.id, party.id)
    assert p.state is PS.WAITING and p.connected
    await court.act(hearing.id, j, "admit", party.id)
    assert (await _state(court, hearing.id, party.id)).state is PS.ADMITTED
    await court.disconnect(hearing.id, party.id)  # a drop is not leaving
    p = await _state(court, hearing.id, party.id)
    assert p.state is PS.ADMITTED and not p.connected
    await court.connect(hearing.id, party.id)  # rejoin keeps the place
    assert (await _state(court, hearing.id, party.id)).state is PS.ADMITTED
    await court.act(hearing.id, _actor(p), "leave")
    assert (await _state(court, hearing.id, party.id)).state is PS.LEFT
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, _actor(p), "leave")  # cannot leave twice
    assert e.value.status == 409
    await court.connect(hearing.id, party.id)  # coming back means asking again
    assert (await _state(court, hearing.id, party.id)).state is PS.WAITING
    await court.act(hearing.id, j, "remove", party.id)
    removed = await _state(court, hearing.id, party.id)
    assert removed.state is PS.REMOVED and removed.token_nonce == ""
    for action in ("admit", "remove"):
        with pytest.raises(ActionRefused) as e:
            await court.act(hearing.id, j, action, party.id)
        assert (e.value.status, e.value.code) == (409, "invalid_state")
    with pytest.raises(AuthError) as auth:
        await court.connect(hearing.id, party.id)
    assert auth.value.code == "removed"
    # The judge cannot remove itself.
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, j, "remove", judge.id)
    assert e.value.status == 409
    kinds = [ev.kind for ev in await court.events(hearing.id)]
    assert kinds == [
        "hearing.create", "participant.invite", "participant.invite", "hearing.open",
        "participant.join", "participant.admit", "participant.drop", "participant.return",
        "participant.leave", "participant.join", "participant.remove",
    ]


async def test_witness_flow_through_the_court(court) -> None:
    hearing, (judge, witness, party) = await _seat(
        court, ("judge", "王法官"), ("witness", "陈五"), ("defendant", "李四")
    )
    j = _actor(judge)
    assert (await _state(court, hearing.id, witness.id)).witness_state is WS.ISOLATED
    await court.act(hearing.id, j, "open")
    # Only in session may a witness be called.
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, j, "call_witness", witness.id)
    assert e.value.status == 409
    await court.act(hearing.id, j, "start")
    # Excusing a witness who was never called is refused.
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, j, "excuse_witness", witness.id)
    assert (e.value.status, e.value.code) == (409, "invalid_state")
    # Only a witness can be called.
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, j, "call_witness", party.id)
    assert (e.value.status, e.value.code) == (409, "not_a_witness")
    # A party may not call a witness.
    with pytest.raises(ActionRefused) as e:
        await court.act(hearing.id, _actor(party), "call_witness", witness.id)
    assert e.value.status == 403
    # Calling an invited (not yet joined) witness brings it in.
    await court.act(hearing.id, j, "call_witness", witness.id)
    w = await _state(court, hearing.id, witness.id)
    assert (w.state, w.witness_state) == (PS.ADMITTED, WS.TESTIFYING)
    assert receives_hearing(w, HS.IN_SESSION) and publishes(w, HS.IN_SESSION)
    with pytest.raises(ActionRefused):
        await court.act(hearing.id, j, "call_witness", witness.id)  # already testifying
    await court.act(hearing.id, j, "recess")
    await court.act(hearing.id, j, "excuse_witness", witness.id)  # allowed in recess
    w = await _state(court, hearing.id, witness.id)
    assert w.witness_state is WS.EXCUSED and not receives_hearing(w, HS.RECESS)
    await court.act(hearing.id, j, "resume")
    await court.act(hearing.id, j, "call_witness", witness.id)  # recalled
    assert (await _state(court, hearing.id, witness.id)).witness_state is WS.TESTIFYING
