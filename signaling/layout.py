"""The courtroom picture as pure geometry: where each seat's tile goes.

The arrangement follows a real courtroom: the bench (judges, mediator) on top in the
centre with the clerk beside it, the plaintiff's side on the left, the defendant's side on
the right, the witness stand (witnesses, interpreters, anyone else) below the centre, and
the exhibit area between the bench and the stand. Observers only watch: no tile.

Every coordinate and size is even, because yuv420p halves both chroma dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Tiles are 16:9 like the cameras that fill them.
_ASPECT = 16 / 9


@dataclass(frozen=True)
class Seat:
    participant_id: str
    role: str  # judge, clerk, plaintiff, defendant, agent, witness, interpreter, mediator, observer
    name: str
    side: str | None = None  # for an agent: "plaintiff" or "defendant"
    bench: str | None = None  # a judge's seat on the panel: presiding, judge or juror (courtroom.panel)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def inset(self, d: int) -> Rect:
        return Rect(self.x + d, self.y + d, max(0, self.w - 2 * d), max(0, self.h - 2 * d))


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    tiles: dict[str, Rect]  # participant_id -> tile
    exhibit: Rect | None  # the exhibit area, when asked for
    bench: Rect  # the judge's bench with the court backdrop; its top band holds the emblem
    header: Rect  # the strip across the top: case number and clock
    emblem: Rect  # the band at the top of the bench for the court's emblem


def border_width(width: int) -> int:
    """The active speaker's border (and the label's inset) in a picture `width` wide."""
    return max(2, (width // 320) & ~1)


def label_box(tile: Rect, width: int, height: int) -> Rect:
    """Where a seat's label goes: bottom-left in its tile, inset by the speaker border so that
    the border never cuts it; as wide as the tile allows (the label is clipped to it)."""
    b = border_width(width)
    h = _even(max(16, min(tile.h * 0.14, height * 0.04)))
    return Rect(tile.x + b, tile.bottom - h - b, max(0, tile.w - 2 * b), h)


def _even(v: float) -> int:
    return int(math.floor(v)) & ~1


def courtroom_layout(width: int, height: int, seats: Sequence[Seat], exhibit: bool) -> Layout:
    if width < 64 or height < 36 or width % 2 or height % 2:
        raise ValueError(f"canvas must be even and at least 64x36, got {width}x{height}")
    # A multiple of 4, so half of it (each region's inset) stays even.
    gap = max(4, int(width / 160) & ~3)
    half = gap // 2

    header_h = _even(height * 0.06)
    header = Rect(0, 0, width, header_h)
    top = header_h
    body_h = height - top
    side_w = _even(width * 0.25)
    centre_w = width - 2 * side_w

    bench_seats: list[Seat] = []
    clerks: list[Seat] = []
    left: list[Seat] = []
    right: list[Seat] = []
    stand: list[Seat] = []
    for seat in seats:
        role = seat.role
        if role == "observer":
            continue
        if role in ("judge", "mediator"):
            bench_seats.append(seat)
        elif role == "clerk":
            clerks.append(seat)
        elif role == "plaintiff" or (role == "agent" and seat.side == "plaintiff"):
            left.append(seat)
        elif role == "defendant" or (role == "agent" and seat.side == "defendant"):
            right.append(seat)
        else:  # witness, interpreter, an agent with no side, roles we do not know
            stand.append(seat)
    # Judges before mediators; the witness before interpreters and others.
    bench_seats.sort(key=lambda s: s.role != "judge")
    stand.sort(key=lambda s: s.role != "witness")

    # Centre column, top to bottom: bench, exhibit area, witness stand.
    # The bench stays at least as large as the stand: the judge leads the hearing.
    if exhibit:
        bench_h = _even(body_h * 0.46)
    elif stand:
        bench_h = _even(body_h * 0.62)
    else:
        bench_h = body_h
    rest = body_h - bench_h
    if exhibit and stand:
        stand_h = _even(rest * 0.42)
        exhibit_h = rest - stand_h
    elif exhibit:
        stand_h, exhibit_h = 0, rest
    else:
        stand_h, exhibit_h = rest, 0

    bench = Rect(side_w, top, centre_w, bench_h).inset(half)
    emblem = Rect(bench.x, bench.y, bench.w, _even(min(bench.h * 0.16, height * 0.09)))
    tiles: dict[str, Rect] = {}

    seating = Rect(bench.x, emblem.bottom, bench.w, bench.h - emblem.h).inset(half)
    if clerks:
        # The clerk sits beside the bench, smaller: a narrow column on the bench's right,
        # no taller than half the bench, at the bench's foot. Judges and clerk together
        # are then centred, so the presiding judge stays near the middle of the picture.
        clerk_w = _even(seating.w * 0.24)
        judge_area = Rect(seating.x, seating.y, seating.w - clerk_w - gap, seating.h)
        bench_tiles = _pack(bench_seats, judge_area, gap, align="top")
        # With no judge seated the clerk still sits where the bench's foot would be.
        foot = max(
            (r.bottom for r in bench_tiles.values()), default=seating.y + _even(seating.h / 2)
        )
        clerk_area = Rect(seating.right - clerk_w, seating.y, clerk_w, foot - seating.y)
        clerk_tiles = _pack(clerks, clerk_area, gap, max_h=_even(clerk_area.h / 2), align="bottom")
        clerk_left = min(r.x for r in clerk_tiles.values())
        clerk_right = max(r.right for r in clerk_tiles.values())
        if bench_tiles:
            unit_left = min(r.x for r in bench_tiles.values())
            pull = max(r.right for r in bench_tiles.values()) + gap - clerk_left
        else:
            unit_left, pull = clerk_left, 0
        shift = _even((seating.x + seating.right - unit_left - clerk_right - pull) / 2)
        for pid, r in bench_tiles.items():
            tiles[pid] = Rect(r.x + shift, r.y, r.w, r.h)
        for pid, r in clerk_tiles.items():
            tiles[pid] = Rect(r.x + pull + shift, r.y, r.w, r.h)
    else:
        tiles.update(_pack(bench_seats, seating, gap, align="top"))

    tiles.update(_pack(left, Rect(0, top, side_w, body_h).inset(half), gap))
    tiles.update(_pack(right, Rect(width - side_w, top, side_w, body_h).inset(half), gap))
    stand_area = Rect(side_w, top + bench_h + exhibit_h, centre_w, stand_h).inset(half)
    tiles.update(_pack(stand, stand_area, gap))

    exhibit_rect = Rect(side_w, top + bench_h, centre_w, exhibit_h).inset(half) if exhibit else None
    return Layout(width, height, tiles, exhibit_rect, bench, header, emblem)


def _pack(
    seats: Sequence[Seat], area: Rect, gap: int, max_h: int | None = None, align: str = "middle"
) -> dict[str, Rect]:
    """Equal 16:9 tiles in a grid as large as the area allows, centred across the area."""
    n = len(seats)
    if n == 0:
        return {}
    avail_h = area.h if max_h is None else min(area.h, max_h)
    best_w, cols = 0.0, 1
    for c in range(1, n + 1):
        rows = math.ceil(n / c)
        w = min((area.w - (c - 1) * gap) / c, (avail_h - (rows - 1) * gap) / rows * _ASPECT)
        if w > best_w:
            best_w, cols = w, c
    tile_w = _even(best_w)
    tile_h = _even(tile_w / _ASPECT)
    if tile_w < 2 or tile_h < 2:
        raise ValueError(f"no room for {n} tiles in {area}")
    rows = math.ceil(n / cols)
    grid_h = rows * tile_h + (rows - 1) * gap
    if align == "top":
        y = area.y
    elif align == "bottom":
        y = area.bottom - grid_h
    else:
        y = area.y + _even((area.h - grid_h) / 2)
    tiles: dict[str, Rect] = {}
    for r in range(rows):
        row = seats[r * cols : (r + 1) * cols]
        row_w = len(row) * tile_w + (len(row) - 1) * gap
        x = area.x + _even((area.w - row_w) / 2)
        for seat in row:
            tiles[seat.participant_id] = Rect(x, y, tile_w, tile_h)
            x += tile_w + gap
        y += tile_h + gap
    return tiles
