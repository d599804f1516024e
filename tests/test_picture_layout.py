"""The seat layout the state message carries is the geometry the compositor draws."""

from __future__ import annotations

from courtroom.participants import Participant, ParticipantState, WitnessState
from courtroom.procedure import HearingState
from courtroom.roles import Role
from signaling.compositor import Compositor, Scene
from signaling.layout import Rect
from signaling.picture_layout import picture_layout, seats_of

PS = ParticipantState


def _people() -> list[Participant]:
    return [
        Participant("j", "h", "王建国", Role.JUDGE, state=PS.ADMITTED),
        Participant("p", "h", "张三", Role.PLAINTIFF, side="plaintiff", state=PS.ADMITTED),
        Participant("d", "h", "李四", Role.DEFENDANT, side="defendant", state=PS.WAITING),  # not seated yet
        Participant("w", "h", "陈五", Role.WITNESS, state=PS.ADMITTED, witness_state=WitnessState.ISOLATED),
        Participant("o", "h", "旁听者", Role.OBSERVER, state=PS.ADMITTED),  # watches, no seat
    ]


def test_layout_matches_the_picture() -> None:
    people = _people()
    layout = picture_layout(640, 360, HearingState.IN_SESSION, people, exhibit=True)
    assert [s["participant"] for s in layout["seats"]] == ["j", "p"]
    compositor = Compositor(640, 360)
    drawn = compositor.layout(Scene(seats=seats_of(people, HearingState.IN_SESSION), frames={}, show_exhibit_area=True))
    for seat in layout["seats"]:
        tile = drawn.tiles[seat["participant"]]
        assert (seat["x"], seat["y"], seat["w"], seat["h"]) == (tile.x, tile.y, tile.w, tile.h)
        x, y, h = compositor.label_position(tile)
        assert (seat["label"]["x"], seat["label"]["y"], seat["label"]["h"]) == (x, y, h)
        lab = Rect(**seat["label"])
        assert tile.x <= lab.x and lab.right <= tile.right and tile.y <= lab.y and lab.bottom <= tile.bottom
    assert drawn.exhibit is not None and layout["exhibit"] == {"x": drawn.exhibit.x, "y": drawn.exhibit.y, "w": drawn.exhibit.w, "h": drawn.exhibit.h}
    assert picture_layout(640, 360, HearingState.IN_SESSION, people, exhibit=False)["exhibit"] is None


def test_no_seats_behind_a_slate() -> None:
    for state in (HearingState.RECESS, HearingState.CLOSED):
        assert picture_layout(640, 360, state, _people(), exhibit=True) == {"width": 640, "height": 360, "seats": [], "exhibit": None}
