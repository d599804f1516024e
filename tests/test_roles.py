"""Every role's permissions, allowed and refused, and the rules for seating a role in a hearing."""

from __future__ import annotations

import itertools

import pytest

from courtroom.court import Actor, InvalidInput
from courtroom.procedure import ACTIONS, ActionRefused, HearingState, ProcedureKind, check_action
from courtroom.roles import PARTY_ROLES, PERMISSIONS, ROLE_NAMES_ZH, SIDES, Permission, Role, may

R = Role
P = Permission

# The permission matrix written out in full: role -> what it may do. Everything else is refused.
EXPECTED: dict[Role, set[Permission]] = {
    R.JUDGE: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE,
              P.PRESENT_EVIDENCE, P.CORRECT_RECORD},
    R.CLERK: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE, P.CORRECT_RECORD},
    R.MEDIATOR: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE,
                 P.PRESENT_EVIDENCE},
    R.PLAINTIFF: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE,
                  P.STATE_VIEW, P.CONFIRM_RECORD},
    R.DEFENDANT: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE,
                  P.STATE_VIEW, P.CONFIRM_RECORD},
    R.AGENT: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE,
              P.STATE_VIEW, P.CONFIRM_RECORD},
    R.WITNESS: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING},
    R.INTERPRETER: {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING},
    R.OBSERVER: {P.SEE_HEARING},
}

CONTRACT_ROLES = {"judge", "clerk", "plaintiff", "defendant", "agent", "witness", "interpreter",
                  "mediator", "observer"}


def test_roles_are_the_contract() -> None:
    assert {r.value for r in R} == CONTRACT_ROLES
    assert set(PERMISSIONS) == set(R)
    assert set(ROLE_NAMES_ZH) == set(R)
    assert all(ROLE_NAMES_ZH[r] for r in R)
    assert PARTY_ROLES == {R.PLAINTIFF, R.DEFENDANT, R.AGENT}
    assert SIDES == {"plaintiff", "defendant"}


@pytest.mark.parametrize("role", list(R), ids=str)
def test_permission_matrix(role: Role) -> None:
    assert set(PERMISSIONS[role]) == EXPECTED[role]
    for permission in P:
        assert may(role, permission) is (permission in EXPECTED[role]), (role, permission)


def test_permission_columns() -> None:
    def holders(p: Permission) -> set[Role]:
        return {r for r in R if may(r, p)}

    assert holders(P.SEE_HEARING) == set(R)  # everyone watches once admitted
    assert holders(P.SPEAK) == set(R) - {R.OBSERVER}
    assert holders(P.SHOW_VIDEO) == holders(P.SPEAK)
    assert holders(P.ACT_ON_OTHERS) == {R.JUDGE, R.CLERK, R.MEDIATOR}
    assert holders(P.CORRECT_RECORD) == {R.JUDGE, R.CLERK}
    assert holders(P.CONFIRM_RECORD) == set(PARTY_ROLES)
    assert holders(P.STATE_VIEW) == set(PARTY_ROLES)
    assert holders(P.UPLOAD_EVIDENCE) == set(PARTY_ROLES) | {R.JUDGE, R.CLERK, R.MEDIATOR}


def test_acting_on_others_matches_the_permission() -> None:
    """Only roles with ACT_ON_OTHERS may ever fire an action that is not on themselves."""
    for name, rule in ACTIONS.items():
        if rule.self_only:
            assert set(rule.roles) == set(R), name
            continue
        for role in rule.roles:
            assert may(role, P.ACT_ON_OTHERS), (name, role)


@pytest.mark.parametrize("role", list(R), ids=str)
def test_each_role_allowed_and_refused_actions(role: Role) -> None:
    """For one role in a live hearing: the set of actions it may fire, exactly."""
    expected_allowed = {
        R.JUDGE: set(ACTIONS),
        R.CLERK: {"open", "admit", "mute", "unmute", "verify_identity"},
        R.MEDIATOR: set(ACTIONS),  # in a mediation
    }.get(role, set())
    expected_allowed |= {a for a, r in ACTIONS.items() if r.self_only}
    kind = ProcedureKind.MEDIATION if role is R.MEDIATOR else ProcedureKind.SIMPLE
    allowed = set()
    for action, state in itertools.product(ACTIONS, HearingState):
        try:
            check_action(action, state, role, kind)
        except ActionRefused as e:
            assert e.status in (403, 409)
            if action not in expected_allowed:
                assert e.status == 403, (role, action, state)
        else:
            allowed.add(action)
    if role is R.MEDIATOR:
        expected_allowed -= {"broadcast_on"}  # never in a mediation
    assert allowed == expected_allowed


# --- seating a role (Court.add_participant) ---------------------------------------------------


@pytest.mark.parametrize("role", [r for r in R if r is not R.MEDIATOR], ids=str)
async def test_every_role_can_be_seated(court, role: Role) -> None:
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初7号"}, Actor.clerk())
    body = {"role": role.value, "name": "某某"}
    if role is R.AGENT:
        body["side"] = "defendant"
    p, token = await court.add_participant(hearing.id, body, Actor.clerk())
    assert p.role is role and token
    assert p.side == {R.PLAINTIFF: "plaintiff", R.DEFENDANT: "defendant", R.AGENT: "defendant"}.get(role)
    assert (p.witness_state is not None) is (role is R.WITNESS)


async def test_seating_rules(court) -> None:
    clerk = Actor.clerk()
    hearing = await court.create_hearing({"case_number": "X"}, clerk)
    mediation = await court.create_hearing({"case_number": "Y", "procedure": "mediation"}, clerk)
    for body, code in [
        ({"role": "agent", "name": "李律师"}, "invalid_field"),  # an agent needs a side
        ({"role": "agent", "name": "李律师", "side": "judge"}, "invalid_field"),
        ({"role": "witness", "name": "陈五", "side": "plaintiff"}, "invalid_field"),  # only agents name a side
        ({"role": "mediator", "name": "调解员"}, "invalid_role"),  # only in a mediation
        ({"role": "bailiff", "name": "x"}, "invalid_role"),
        ({"role": None, "name": "x"}, "invalid_role"),
        ({"role": "judge"}, "invalid_field"),
        ({"role": "judge", "name": "  "}, "invalid_field"),
        ({"role": "judge", "name": 7}, "invalid_field"),
    ]:
        with pytest.raises(InvalidInput) as e:
            await court.add_participant(hearing.id, body, clerk)
        assert e.value.code == code, body
    # A party's side is its own role, whatever it says.
    p, _ = await court.add_participant(hearing.id, {"role": "plaintiff", "name": "张三"}, clerk)
    assert p.side == "plaintiff"
    m, _ = await court.add_participant(mediation.id, {"role": "mediator", "name": "调解员"}, clerk)
    assert m.role is R.MEDIATOR
    assert [q.name for q in await court.participants(hearing.id)] == ["张三"]
