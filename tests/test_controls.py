"""The controls a page may show: what each participant may fire now, and on whom (courtroom.controls),
and the roles table's rule that a clerk never commands the bench."""

from __future__ import annotations

import pytest

from courtroom.controls import hearing_actions, target_actions
from courtroom.court import Actor
from courtroom.participants import Participant
from courtroom.procedure import ActionRefused, HearingState, ProcedureKind
from courtroom.roles import ACTS_ON, Role, may_act_on

HS = HearingState


async def _seat(court, *people: tuple[str, str], public: bool = True):
    clerk = Actor.clerk()
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初77号", "public": public}, clerk)
    seated = []
    for role, name in people:
        p, _ = await court.add_participant(hearing.id, {"role": role, "name": name}, clerk)
        seated.append(p)
    return hearing, seated


async def _people(court, hearing_id: str) -> dict[str, Participant]:
    return {p.id: p for p in await court.participants(hearing_id)}


def test_the_roles_table_says_a_clerk_never_commands_the_bench() -> None:
    assert not may_act_on(Role.CLERK, Role.JUDGE) and not may_act_on(Role.CLERK, Role.MEDIATOR)
    assert may_act_on(Role.CLERK, Role.PLAINTIFF) and may_act_on(Role.JUDGE, Role.CLERK)
    assert not may_act_on(Role.PLAINTIFF, Role.DEFENDANT)  # parties act on nobody
    assert set(ACTS_ON) == {Role.JUDGE, Role.CLERK, Role.MEDIATOR}


async def test_only_controls_that_do_something_now(court) -> None:
    hearing, (judge, clerk, plaintiff, defendant, witness) = await _seat(
        court, ("judge", "王法官"), ("clerk", "赵书记员"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五")
    )
    await court.act(hearing.id, Actor.clerk(), "open")
    for p in (judge, clerk, plaintiff, witness):  # the defendant never comes
        await court.connect(hearing.id, p.id)
    people = await _people(court, hearing.id)
    h = await court.get_hearing(hearing.id)
    as_judge = target_actions(h.state, h.procedure, people[judge.id], people.values())
    assert judge.id not in as_judge, "no controls on oneself"
    assert as_judge[plaintiff.id] == ["admit", "mute", "remove", "protect", "verify_identity", "recheck_identity", "rule"]
    assert "admit" not in as_judge[defendant.id], "nobody to admit: the defendant never joined"
    assert "admit" not in as_judge[witness.id], "a witness comes in when called, not admitted"
    assert "call_witness" not in as_judge[witness.id], "calling happens in session"
    # The clerk: no control at all on the presiding judge, and never a removal.
    as_clerk = target_actions(h.state, h.procedure, people[clerk.id], people.values())
    assert judge.id not in as_clerk
    assert as_clerk[plaintiff.id] == ["admit", "mute", "verify_identity"]
    # A party acts on nobody.
    assert target_actions(h.state, h.procedure, people[plaintiff.id], people.values()) == {}

    await court.act(hearing.id, Actor(judge.id, Role.JUDGE, people[judge.id]), "start")
    await court.act(hearing.id, Actor(judge.id, Role.JUDGE, people[judge.id]), "mute", plaintiff.id)
    people = await _people(court, hearing.id)
    h = await court.get_hearing(hearing.id)
    as_judge = target_actions(h.state, h.procedure, people[judge.id], people.values())
    assert "unmute" in as_judge[plaintiff.id] and "mute" not in as_judge[plaintiff.id]
    assert "call_witness" in as_judge[witness.id], as_judge[witness.id]
    # Held at the door (an identity not yet verified): nothing that lets them in; the rest stays.
    held = target_actions(h.state, h.procedure, people[judge.id], people.values(), {witness.id})
    assert "call_witness" not in held[witness.id] and "remove" in held[witness.id]
    assert held[plaintiff.id] == as_judge[plaintiff.id]


async def test_a_clerk_may_not_mute_the_judge(court) -> None:
    hearing, (judge, clerk) = await _seat(court, ("judge", "王法官"), ("clerk", "赵书记员"))
    await court.act(hearing.id, Actor.clerk(), "open")
    await court.connect(hearing.id, judge.id)
    for actor in (Actor.clerk(), Actor(clerk.id, Role.CLERK, clerk)):
        for action in ("mute", "admit", "unmute"):
            with pytest.raises(ActionRefused) as refused:
                await court.act(hearing.id, actor, action, judge.id)
            assert (refused.value.status, refused.value.code) == (403, "forbidden")
    assert not (await _people(court, hearing.id))[judge.id].muted
    # The judge may mute the clerk.
    await court.act(hearing.id, Actor(judge.id, Role.JUDGE, judge), "mute", clerk.id)


def test_broadcast_is_offered_only_where_it_works() -> None:
    open_public = hearing_actions(HS.IN_SESSION, ProcedureKind.SIMPLE, True, Role.JUDGE)
    assert {"broadcast_on", "broadcast_off", "recess", "close"} <= set(open_public)
    assert "broadcast_on" not in hearing_actions(HS.IN_SESSION, ProcedureKind.SIMPLE, False, Role.JUDGE)
    assert "broadcast_on" not in hearing_actions(HS.IN_SESSION, ProcedureKind.MEDIATION, False, Role.MEDIATOR)
    assert "broadcast_on" not in hearing_actions(HS.IN_SESSION, ProcedureKind.SIMPLE, True, Role.CLERK)
    assert hearing_actions(HS.CLOSED, ProcedureKind.SIMPLE, True, Role.JUDGE) == []
