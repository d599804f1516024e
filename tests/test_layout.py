"""The courtroom layout: geometry invariants for every size of hearing, and who sits where."""

from __future__ import annotations

import itertools

import pytest

from signaling.layout import Layout, Rect, Seat, courtroom_layout

SIZES = [(1280, 720), (640, 360)]

JUDGE = Seat("j", "judge", "王法官")
CLERK = Seat("c", "clerk", "李书记")
PLAINTIFF = Seat("p", "plaintiff", "张三")
DEFENDANT = Seat("d", "defendant", "李四")
P_AGENT = Seat("pa", "agent", "赵律师", side="plaintiff")
D_AGENT = Seat("da", "agent", "钱律师", side="defendant")
WITNESS = Seat("w", "witness", "孙证人")
INTERPRETER = Seat("i", "interpreter", "周翻译")
MEDIATOR = Seat("m", "mediator", "吴调解")
OBSERVER = Seat("o", "observer", "郑旁听")

# A plausible order in which a hearing fills up; the first n seats make an n-seat hearing.
ROSTER = [
    JUDGE,
    PLAINTIFF,
    DEFENDANT,
    CLERK,
    P_AGENT,
    D_AGENT,
    WITNESS,
    INTERPRETER,
    Seat("j2", "judge", "陪审员"),
    Seat("d2", "defendant", "第二被告"),
]
MIXES = {
    "roster": ROSTER,
    "all roles": [
        JUDGE,
        CLERK,
        PLAINTIFF,
        DEFENDANT,
        P_AGENT,
        D_AGENT,
        WITNESS,
        INTERPRETER,
        MEDIATOR,
        OBSERVER,
    ],
    "crowded plaintiff side": [JUDGE] + [Seat(f"p{i}", "plaintiff", f"原告{i}") for i in range(9)],
    "many witnesses": [JUDGE] + [Seat(f"w{i}", "witness", f"证人{i}") for i in range(9)],
    "panel": [Seat(f"j{i}", "judge", f"法官{i}") for i in range(3)] + [CLERK] + ROSTER[1:7],
    "unknown and sideless": [JUDGE, Seat("x", "expert", "专家"), Seat("a", "agent", "代理人")]
    + ROSTER[1:8],
}


def cases() -> list[tuple[str, int, int, int, bool]]:
    return [
        (mix, w, h, n, exhibit)
        for mix, (w, h), n, exhibit in itertools.product(MIXES, SIZES, range(1, 11), (False, True))
    ]


def overlap(a: Rect, b: Rect) -> bool:
    return a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom


def inside(r: Rect, outer: Rect) -> bool:
    return outer.x <= r.x and outer.y <= r.y and r.right <= outer.right and r.bottom <= outer.bottom


@pytest.mark.parametrize(("mix", "width", "height", "n", "exhibit"), cases())
def test_geometry_invariants(mix: str, width: int, height: int, n: int, exhibit: bool) -> None:
    seats = MIXES[mix][:n]
    layout = courtroom_layout(width, height, seats, exhibit)
    canvas = Rect(0, 0, width, height)

    expected = {s.participant_id for s in seats if s.role != "observer"}
    assert set(layout.tiles) == expected

    for pid, r in layout.tiles.items():
        assert inside(r, canvas), (pid, r)
        assert all(v % 2 == 0 for v in (r.x, r.y, r.w, r.h)), (pid, r)
        assert r.w >= 32 and r.h >= 18, (pid, r)
        # 16:9 up to the rounding to even pixels.
        assert abs(r.h - r.w * 9 / 16) <= 2, (pid, r)
        assert not overlap(r, layout.header), pid

    for (a, ra), (b, rb) in itertools.combinations(layout.tiles.items(), 2):
        assert not overlap(ra, rb), (a, ra, b, rb)

    if exhibit:
        assert layout.exhibit is not None
        ex = layout.exhibit
        assert inside(ex, canvas)
        assert all(v % 2 == 0 for v in (ex.x, ex.y, ex.w, ex.h))
        assert ex.w >= width // 3 and ex.h >= height // 8
        for pid, r in layout.tiles.items():
            assert not overlap(r, ex), pid
    else:
        assert layout.exhibit is None

    assert inside(layout.bench, canvas) and inside(layout.emblem, layout.bench)
    assert all(v % 2 == 0 for v in (layout.bench.x, layout.bench.y, layout.bench.w, layout.bench.h))


def centre_x(r: Rect) -> float:
    return r.x + r.w / 2


def centre_y(r: Rect) -> float:
    return r.y + r.h / 2


FULL = [JUDGE, CLERK, PLAINTIFF, P_AGENT, DEFENDANT, D_AGENT, WITNESS, INTERPRETER, OBSERVER]


@pytest.mark.parametrize(("width", "height"), SIZES)
@pytest.mark.parametrize("exhibit", [False, True])
def test_who_sits_where(width: int, height: int, exhibit: bool) -> None:
    layout = courtroom_layout(width, height, FULL, exhibit)
    t = layout.tiles
    mid = width / 2

    # The bench: top centre, inside the bench region, below the emblem.
    judge = t["j"]
    assert inside(judge, layout.bench) and judge.y >= layout.emblem.bottom
    assert width / 4 <= centre_x(judge) <= 3 * width / 4
    for pid in ("p", "pa", "d", "da", "w", "i"):
        assert judge.y <= t[pid].y, pid

    # The clerk beside the bench, smaller than the judge, no lower than the judge's foot.
    clerk = t["c"]
    assert inside(clerk, layout.bench)
    assert clerk.w < judge.w and clerk.bottom <= judge.bottom
    assert clerk.x >= judge.right or clerk.right <= judge.x

    # Plaintiff's side on the left, defendant's on the right, with their agents.
    for pid in ("p", "pa"):
        assert t[pid].right <= width / 4 + 2, pid
    for pid in ("d", "da"):
        assert t[pid].x >= 3 * width / 4 - 2, pid
    assert t["p"].right <= t["d"].x

    # Witness stand and interpreter: below the bench, in the centre column.
    for pid in ("w", "i"):
        assert t[pid].y >= layout.bench.bottom, pid
        assert width / 4 <= centre_x(t[pid]) <= 3 * width / 4, pid
    assert t["w"].x < t["i"].x  # the witness first on the stand

    if layout.exhibit is not None:
        ex = layout.exhibit
        assert layout.bench.bottom <= ex.y and ex.bottom <= t["w"].y
        assert abs(centre_x(ex) - mid) <= 2

    # Observers watch; they have no tile.
    assert "o" not in t


def test_the_judge_is_the_largest_tile() -> None:
    for width, height in SIZES:
        for exhibit in (False, True):
            layout = courtroom_layout(width, height, FULL, exhibit)
            judge = layout.tiles["j"]
            assert all(judge.w >= r.w for r in layout.tiles.values())


def test_mediator_sits_at_the_bench() -> None:
    layout = courtroom_layout(1280, 720, [MEDIATOR, PLAINTIFF, DEFENDANT], False)
    assert layout.tiles["m"].y < layout.tiles["p"].y
    assert inside(layout.tiles["m"], layout.bench)


def test_agent_without_a_side_stands_in_the_centre() -> None:
    layout = courtroom_layout(1280, 720, [JUDGE, Seat("a", "agent", "代理人")], False)
    a = layout.tiles["a"]
    assert a.y >= layout.bench.bottom and 320 <= centre_x(a) <= 960


def test_observers_only_still_gets_a_bench() -> None:
    layout: Layout = courtroom_layout(640, 360, [OBSERVER], False)
    assert layout.tiles == {} and layout.bench.w > 0 and layout.exhibit is None


def test_layout_is_stable_when_names_change() -> None:
    renamed = [Seat(s.participant_id, s.role, "x" + s.name, s.side) for s in FULL]
    assert courtroom_layout(1280, 720, FULL, True) == courtroom_layout(1280, 720, renamed, True)


@pytest.mark.parametrize(("width", "height"), [(1279, 720), (1280, 719), (32, 18)])
def test_bad_canvas(width: int, height: int) -> None:
    with pytest.raises(ValueError):
        courtroom_layout(width, height, [JUDGE], False)
