"""Who is in a hearing and what each role may do: the permissions table."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    JUDGE = "judge"
    CLERK = "clerk"
    PLAINTIFF = "plaintiff"
    DEFENDANT = "defendant"
    AGENT = "agent"
    WITNESS = "witness"
    INTERPRETER = "interpreter"
    MEDIATOR = "mediator"
    OBSERVER = "observer"


class Permission(StrEnum):
    SPEAK = "speak"  # publish a microphone into the hearing
    SHOW_VIDEO = "show_video"  # publish a camera
    SEE_HEARING = "see_hearing"  # receive the hearing's picture, sound and transcript
    ACT_ON_OTHERS = "act_on_others"  # admit, mute, remove, call a witness
    UPLOAD_EVIDENCE = "upload_evidence"
    PRESENT_EVIDENCE = "present_evidence"
    STATE_VIEW = "state_view"  # state a view on an exhibit (质证)
    CONFIRM_RECORD = "confirm_record"  # confirm the hearing record after closing
    CORRECT_RECORD = "correct_record"  # correct the transcript


P = Permission
_PARTY = frozenset(
    {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE, P.STATE_VIEW, P.CONFIRM_RECORD}
)

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.JUDGE: frozenset(
        {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE, P.CORRECT_RECORD}
    ),
    Role.CLERK: frozenset(
        {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE, P.CORRECT_RECORD}
    ),
    Role.MEDIATOR: frozenset(
        {P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING, P.ACT_ON_OTHERS, P.UPLOAD_EVIDENCE, P.PRESENT_EVIDENCE}
    ),
    Role.PLAINTIFF: _PARTY,
    Role.DEFENDANT: _PARTY,
    Role.AGENT: _PARTY,
    Role.WITNESS: frozenset({P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING}),
    Role.INTERPRETER: frozenset({P.SPEAK, P.SHOW_VIDEO, P.SEE_HEARING}),
    Role.OBSERVER: frozenset({P.SEE_HEARING}),
}

# The parties' side of the room; an agent sits on the side of the party it acts for.
PARTY_ROLES = frozenset({Role.PLAINTIFF, Role.DEFENDANT, Role.AGENT})
SIDES = frozenset({"plaintiff", "defendant"})

# Chinese names used in the hearing record (庭审笔录) and the picture's labels.
ROLE_NAMES_ZH: dict[Role, str] = {
    Role.JUDGE: "审判长",
    Role.CLERK: "书记员",
    Role.PLAINTIFF: "原告",
    Role.DEFENDANT: "被告",
    Role.AGENT: "诉讼代理人",
    Role.WITNESS: "证人",
    Role.INTERPRETER: "翻译",
    Role.MEDIATOR: "调解员",
    Role.OBSERVER: "旁听",
}

ROLE_NAMES_EN: dict[Role, str] = {
    Role.JUDGE: "Presiding Judge",
    Role.CLERK: "Clerk",
    Role.PLAINTIFF: "Plaintiff",
    Role.DEFENDANT: "Defendant",
    Role.AGENT: "Agent",
    Role.WITNESS: "Witness",
    Role.INTERPRETER: "Interpreter",
    Role.MEDIATOR: "Mediator",
    Role.OBSERVER: "Observer",
}


# Whom an officer may act on (admit, mute, remove, call, protect): the clerk serves the bench and
# never commands it, so a clerk may not mute, admit or protect a judge or a mediator.
_ALL = frozenset(Role)
ACTS_ON: dict[Role, frozenset[Role]] = {
    Role.JUDGE: _ALL,
    Role.MEDIATOR: _ALL,
    Role.CLERK: _ALL - {Role.JUDGE, Role.MEDIATOR},
}


def may(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def may_act_on(actor: Role, target: Role) -> bool:
    return target in ACTS_ON.get(actor, frozenset())
