"""The bench: a single judge, or a collegiate panel (合议庭) of judges and people's assessors.

Every member of the bench has the role `judge`; the seat says which: 审判长 (presiding: runs the
procedure), 审判员, 人民陪审员. Seats are kept in `hearing.extra["panel"]` ({participant: seat}),
given when the judge is invited (`"seat"`); a judge without a seat is the presiding judge when
it is the first judge of the hearing, else 审判员.
"""

from __future__ import annotations

from collections.abc import Sequence

from .hearing import Hearing
from .participants import Participant
from .record import role_title
from .roles import Role

SEATS: dict[str, str] = {
    "presiding": "审判长",
    "judge": "审判员",
    "juror": "人民陪审员",
}
SEATS_EN: dict[str, str] = {"presiding": "Presiding Judge", "judge": "Judge", "juror": "People's Assessor"}


def seats(hearing: Hearing) -> dict[str, str]:
    panel = hearing.extra.get("panel")
    return {str(k): str(v) for k, v in panel.items() if v in SEATS} if isinstance(panel, dict) else {}


def seat_of(p: Participant, hearing: Hearing, people: Sequence[Participant] = ()) -> str | None:
    """The judge's seat; None for anyone who is not on the bench."""
    if p.role is not Role.JUDGE:
        return None
    given = seats(hearing).get(p.id)
    if given:
        return given
    if any(s == "presiding" for s in seats(hearing).values()):
        return "judge"
    judges = sorted((q for q in people if q.role is Role.JUDGE), key=lambda q: (q.created_at, q.id))
    if judges and judges[0].id != p.id:
        return "judge"
    return "presiding"


def panel_title(p: Participant, hearing: Hearing, people: Sequence[Participant] = ()) -> str:
    seat = seat_of(p, hearing, people)
    return SEATS[seat] if seat else role_title(p.role, p.side)


def presides(p: Participant, hearing: Hearing, people: Sequence[Participant] = ()) -> bool:
    """Only the presiding judge (or, in a mediation, the mediator) runs the procedure."""
    if p.role is Role.MEDIATOR:
        return True
    return seat_of(p, hearing, people) == "presiding"
