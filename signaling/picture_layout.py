"""The courtroom picture's seat layout, as the state message sends it to each page.

The same geometry the compositor draws (signaling.layout), from the same facts: who has a
seat (admitted and publishing, with a camera), whether the exhibit area is shown, and the
picture's size. A page uses it to keep captions off the seats and the exhibit, and to zoom
into a seat by a CSS transform of the one video it already receives (no second encode).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from courtroom.hearing import Hearing
from courtroom.panel import seat_of
from courtroom.participants import Participant, publishes
from courtroom.procedure import HearingState
from courtroom.roles import Permission, may

from .layout import Rect, Seat, courtroom_layout, label_box

SLATE_STATES = frozenset({HearingState.RECESS, HearingState.CLOSED})  # a slate: no seats


def seats_of(people: Iterable[Participant], state: HearingState, hearing: Hearing | None = None) -> list[Seat]:
    """Who has a tile in the picture now (the media room asks the same); with the hearing, each
    judge's seat on the panel, for the label under the tile."""
    people = list(people)
    return [
        Seat(p.id, p.role.value, p.name, p.side, seat_of(p, hearing, people) if hearing is not None else None)
        for p in people
        if publishes(p, state) and may(p.role, Permission.SHOW_VIDEO)
    ]


def _rect(r: Rect) -> dict[str, int]:
    return {"x": r.x, "y": r.y, "w": r.w, "h": r.h}


def picture_layout(
    width: int, height: int, state: HearingState, people: Iterable[Participant], exhibit: bool
) -> dict[str, Any]:
    """`{"width", "height", "seats": [{"participant", "role", "x", "y", "w", "h", "label"}], "exhibit"}`
    in pixels of the picture; no seats while a slate is shown (recess, closed)."""
    people = list(people)
    if state in SLATE_STATES:
        return {"width": width, "height": height, "seats": [], "exhibit": None}
    layout = courtroom_layout(width, height, seats_of(people, state), exhibit)
    roles = {p.id: p.role.value for p in people}
    seats = [
        {"participant": pid, "role": roles.get(pid, ""), **_rect(r), "label": _rect(label_box(r, width, height))}
        for pid, r in layout.tiles.items()
    ]
    return {
        "width": width,
        "height": height,
        "seats": seats,
        "exhibit": _rect(layout.exhibit) if layout.exhibit is not None else None,
    }
