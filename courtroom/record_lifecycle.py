"""The hearing record's lifecycle as data: its states, what may happen in each, and who may do it.

    live ──close──▶ finishing ──flushed──▶ review ──all signatures / finalise──▶ signed

*live*: the hearing runs; finals land, the clerk corrects. *finishing*: the hearing has closed
and the recognizers are flushed: every final of the hearing lands (bounded wait) before the
record is offered. *review*: the record is offered as version 1; each party confirms or objects;
the clerk corrects (a new version, which those who confirmed an older one confirm again) or
answers an objection; the court's officers sign. *signed*: every required signature is on the
latest version, or the presiding judge finalised it with the outstanding objections and
refusals written in. Nothing changes a signed version.

Services never re-implement these rules; they ask `check_record_action`. See docs/record.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .procedure import ActionRefused
from .roles import Role


class RecordState(StrEnum):
    LIVE = "live"
    FINISHING = "finishing"
    REVIEW = "review"
    SIGNED = "signed"  # final


R = RecordState
SYSTEM = "system"  # the pod itself (the recognizers, the close of the hearing)
PARTIES = frozenset({Role.PLAINTIFF, Role.DEFENDANT, Role.AGENT})
CORRECTORS = frozenset({Role.JUDGE, Role.CLERK})
# Who signs for the court: the panel, the clerk, and in a mediation the mediator.
COURT_SIGNERS = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR})
PRESIDING = frozenset({Role.JUDGE, Role.MEDIATOR})


@dataclass(frozen=True)
class RecordRule:
    """A step of the record: the states it may happen in, who may take it, where it leads."""

    action: str
    states: frozenset[RecordState]
    roles: frozenset[Role]  # empty: only the pod itself (SYSTEM)
    target: RecordState | None = None
    new_version: bool = False  # in review, the step makes a new version of the record
    meaning: str = ""


RECORD_ACTIONS: dict[str, RecordRule] = {
    r.action: r
    for r in (
        RecordRule("finish", frozenset({R.LIVE}), frozenset(), R.FINISHING,
                   meaning="the hearing closed: flush the recognizers"),
        RecordRule("offer", frozenset({R.FINISHING}), frozenset(), R.REVIEW,
                   meaning="every final has landed (or the wait ran out): version 1 is offered"),
        RecordRule("segment", frozenset({R.LIVE, R.FINISHING, R.REVIEW}), frozenset(), new_version=True,
                   meaning="a final segment lands; a late one in review makes a new version"),
        RecordRule("correct", frozenset({R.LIVE, R.REVIEW}), CORRECTORS, new_version=True,
                   meaning="the clerk corrects a segment (history kept)"),
        RecordRule("confirm", frozenset({R.REVIEW}), PARTIES, meaning="a party confirms the latest version"),
        RecordRule("object", frozenset({R.REVIEW}), PARTIES, meaning="a party objects, with its reason"),
        RecordRule("answer", frozenset({R.REVIEW}), CORRECTORS,
                   meaning="the clerk answers an objection without changing the record"),
        RecordRule("sign", frozenset({R.REVIEW}), COURT_SIGNERS,
                   meaning="a judge or the clerk signs the latest version; the last required signature signs the record"),
        RecordRule("finalise", frozenset({R.REVIEW}), PRESIDING, R.SIGNED,
                   meaning="the presiding judge signs it off with the outstanding objections and refusals written in"),
    )
}


def check_record_action(action: str, state: RecordState, role: Role | None) -> RecordRule:
    """The rule for `action` if `role` (None: the pod itself) may take it now, else ActionRefused."""
    rule = RECORD_ACTIONS.get(action)
    if rule is None:
        raise ActionRefused(400, "unknown_action", f"unknown record action {action!r}")
    if role is not None and role not in rule.roles:
        raise ActionRefused(403, "forbidden", f"a {role.value} may not {action} the record")
    if state not in rule.states:
        if state is R.SIGNED:
            raise ActionRefused(409, "record_signed", "the record is signed: it can no longer change")
        if state is R.FINISHING:
            raise ActionRefused(409, "record_finishing", "the record is being finished: try again in a moment")
        if state is R.LIVE:
            raise ActionRefused(409, "not_closed", f"the record is {action}ed after the hearing has closed")
        raise ActionRefused(409, "invalid_state", f"cannot {action} the record while it is {state.value}")
    return rule


def table_markdown() -> str:
    """The table as Markdown (docs/record.md prints it)."""
    lines = ["| step | in states | who | leads to | new version | meaning |", "| --- | --- | --- | --- | --- | --- |"]
    for r in RECORD_ACTIONS.values():
        who = ", ".join(sorted(x.value for x in r.roles)) or SYSTEM
        states = ", ".join(s.value for s in RecordState if s in r.states)
        lines.append(f"| `{r.action}` | {states} | {who} | {r.target.value if r.target else '—'} | "
                     f"{'yes' if r.new_version else ''} | {r.meaning} |")
    return "\n".join(lines)
