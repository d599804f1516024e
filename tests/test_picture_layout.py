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


def test_each_judge_is_labelled_by_the_seat_on_the_panel() -> None:
    """A collegial panel: 审判长 for the presiding judge, 审判员 and 人民陪审员 for the others
    (not 审判长 under every judge's tile)."""
    from courtroom.hearing import Hearing
    from courtroom.procedure import ProcedureKind
    from signaling.labels import role_label

    people = [Participant(pid, "h", name, Role.JUDGE, state=PS.ADMITTED, created_at=float(i))
              for i, (pid, name) in enumerate((("a", "王审判长"), ("b", "李法官"), ("c", "赵陪审")))]
    hearing = Hearing("h", "(2026)京0491民初1号", "t", ProcedureKind.ORDINARY, public=False,
                      extra={"panel": {"b": "presiding", "a": "judge", "c": "juror"}})
    benches = {s.participant_id: s.bench for s in seats_of(people, HearingState.IN_SESSION, hearing)}
    assert benches == {"a": "judge", "b": "presiding", "c": "juror"}
    labels = {pid: role_label("judge", None, "zh", bench) for pid, bench in benches.items()}
    assert labels == {"a": "审判员", "b": "审判长", "c": "人民陪审员"}
    assert role_label("judge", "李法官", "en", "presiding") == "Presiding Judge · 李法官"
    # No panel set: the first judge presides, the others sit as 审判员.
    plain = Hearing("h", "(2026)京0491民初1号", "t", ProcedureKind.ORDINARY, public=False)
    assert [s.bench for s in seats_of(people, HearingState.IN_SESSION, plain)] == ["presiding", "judge", "judge"]
