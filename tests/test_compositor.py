"""The courtroom picture, checked pixel by pixel; and the labels it is drawn with."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from signaling import labels as labels_module
from signaling.compositor import STATES, Compositor, Scene, clock_text
from signaling.labels import (
    ROLE_NAMES,
    FontNotFoundError,
    LabelCache,
    Yuv,
    find_cjk_font,
    planes_of,
    role_label,
)
from signaling.layout import Rect, Seat

SEATS = [
    Seat("j", "judge", "王法官"),
    Seat("c", "clerk", "李书记"),
    Seat("p", "plaintiff", "张三"),
    Seat("pa", "agent", "赵律师", side="plaintiff"),
    Seat("d", "defendant", "李四"),
    Seat("w", "witness", "孙证人"),
    Seat("o", "observer", "郑旁听"),
]
COLOURS = {
    "j": (200, 40, 40),
    "c": (230, 200, 40),
    "p": (40, 190, 60),
    "pa": (40, 200, 200),
    "d": (50, 60, 210),
    "w": (200, 60, 200),
}
W, H = 640, 360


def solid(rgb: tuple[int, int, int], width: int = 640, height: int = 360) -> av.VideoFrame:
    image = np.empty((height, width, 3), np.uint8)
    image[:] = rgb
    return av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")


def stripes(width: int = 640, height: int = 360) -> av.VideoFrame:
    """A sharp test pattern: 4-pixel black and white checks."""
    y, x = np.mgrid[0:height, 0:width]
    grey = np.where(((x // 4) + (y // 4)) % 2 == 0, 235, 16).astype(np.uint8)
    return av.VideoFrame.from_ndarray(np.stack([grey] * 3, axis=-1), format="rgb24").reformat(
        format="yuv420p"
    )


def yuv_of(frame: av.VideoFrame) -> tuple[float, float, float]:
    p = planes_of(frame)
    return float(np.median(p.y)), float(np.median(p.u)), float(np.median(p.v))


def region(planes: Yuv, r: Rect) -> Yuv:
    return Yuv(
        planes.y[r.y : r.bottom, r.x : r.right],
        planes.u[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2],
        planes.v[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2],
    )


def core(r: Rect) -> Rect:
    """The middle of a tile, clear of the border and of the label at its foot."""
    return Rect(r.x + r.w // 4 & ~1, r.y + r.h // 8 & ~1, r.w // 2 & ~1, r.h // 2 & ~1)


def medians(p: Yuv) -> tuple[float, float, float]:
    return float(np.median(p.y)), float(np.median(p.u)), float(np.median(p.v))


@pytest.fixture(scope="module")
def cache() -> LabelCache:
    return LabelCache()


@pytest.fixture(scope="module")
def comp(cache: LabelCache) -> Compositor:
    return Compositor(W, H, cache)


def scene(**changes: object) -> Scene:
    base = Scene(
        seats=SEATS,
        frames={pid: solid(rgb) for pid, rgb in COLOURS.items()},
        case_number="(2026)京0491民初1234号",
        title="张三诉李四买卖合同纠纷",
        hearing_time=754.0,
        date_text="2026-11-23",
    )
    for key, value in changes.items():
        setattr(base, key, value)
    return base


# -- labels -------------------------------------------------------------------------


def test_role_names_cover_the_nine_roles() -> None:
    assert set(ROLE_NAMES) == {"zh", "en"}
    assert set(ROLE_NAMES["zh"]) == set(ROLE_NAMES["en"]) == {
        "judge",
        "clerk",
        "plaintiff",
        "defendant",
        "agent",
        "witness",
        "interpreter",
        "mediator",
        "observer",
    }
    # One court language: Chinese by default, English when the court speaks English.
    assert role_label("plaintiff", "张三") == "原告 · 张三"
    assert role_label("judge") == "审判长"
    assert role_label("agent", None) == "诉讼代理人"
    assert role_label("interpreter", "") == "翻译"
    assert role_label("expert", "某") == "expert · 某"
    assert role_label("plaintiff", "张三", "en") == "Plaintiff · 张三"
    assert role_label("judge", None, "en") == "Presiding Judge"


def test_font_is_a_simplified_chinese_face() -> None:
    found = find_cjk_font()
    assert found is not None and os.path.exists(found[0])
    from PIL import ImageFont

    family = ImageFont.truetype(found[0], 12, index=found[1]).getname()[0]
    assert family is not None and "CJK" in family


def test_no_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labels_module, "CJK_FONT", None)
    with pytest.raises(FontNotFoundError, match="fonts-noto-cjk"):
        LabelCache()


def test_label_is_even_yuv_with_light_text_on_a_dark_box(cache: LabelCache) -> None:
    label = cache.text("原告 · 张三", 24)
    assert label.height == 24 and label.width % 2 == 0 and label.width > 100
    assert label.u.shape == (12, label.width // 2) and label.v.shape == label.u.shape
    assert label.y.min() < 40 and label.y.max() > 180
    assert np.median(label.y) < 40  # mostly box


def test_chinese_glyphs_are_real_not_tofu(cache: LabelCache) -> None:
    # Without CJK coverage both would render as the same missing-glyph boxes.
    a, b = cache.text("原告", 32), cache.text("被告", 32)
    assert a.y.shape == b.y.shape
    assert np.abs(a.y.astype(int) - b.y.astype(int)).sum() > 1000


def test_labels_are_cached_and_bounded() -> None:
    small = LabelCache(max_entries=3)
    first = small.text("证人 Witness", 20)
    assert small.text("证人 Witness", 20) is first
    assert small.text("证人 Witness", 24) is not first
    for i in range(5):
        small.text(f"00:00:0{i}", 20)
    assert len(small) == 3
    assert small.text("证人 Witness", 20) is not first  # evicted, rendered again


def test_blit_copies_and_clips(cache: LabelCache) -> None:
    canvas = Yuv(
        np.zeros((40, 60), np.uint8), np.zeros((20, 30), np.uint8), np.zeros((20, 30), np.uint8)
    )
    label = cache.text("休庭 RECESS", 16)
    cache.blit(canvas, label, 3, 5, max_width=20)  # odd position: snapped to (2, 4)
    assert (canvas.y[4:20, 2:22] == label.y[:, :20]).all()
    assert (canvas.u[2:10, 1:11] == label.u[:, :10]).all()
    assert not canvas.y[:, 22:].any() and not canvas.y[:4].any()
    cache.blit(canvas, label, 50, 30)  # runs off the right and the bottom
    assert (canvas.y[30:40, 50:60] == label.y[:10, :10]).all()
    cache.blit(canvas, label, 100, 100)  # entirely outside: nothing, no error


# -- the picture ---------------------------------------------------------------------


def test_output_is_a_fresh_yuv420p_frame(comp: Compositor) -> None:
    a, b = comp.compose(scene()), comp.compose(scene())
    assert (a.width, a.height, a.format.name) == (W, H, "yuv420p")
    assert a is not b
    assert (planes_of(a).y == planes_of(b).y).all()  # same scene, same picture


def test_each_tile_holds_its_camera(comp: Compositor) -> None:
    s = scene()
    picture = planes_of(comp.compose(s))
    layout = comp.layout(s)
    assert set(layout.tiles) == set(COLOURS)  # the observer has no tile
    for pid, rgb in COLOURS.items():
        got = medians(region(picture, core(layout.tiles[pid])))
        want = yuv_of(solid(rgb))
        assert np.allclose(got, want, atol=3), (pid, got, want)


def centroid(picture: Yuv, rgb: tuple[int, int, int]) -> tuple[float, float]:
    """Where in the picture a camera's colour shows up (luma and chroma both match)."""
    y, u, v = yuv_of(solid(rgb))
    luma = np.abs(picture.y[::2, ::2].astype(int) - y) <= 3
    chroma = (np.abs(picture.u.astype(int) - u) <= 3) & (np.abs(picture.v.astype(int) - v) <= 3)
    rows, cols = np.nonzero(luma & chroma)
    assert rows.size > 100, rgb
    return float(cols.mean() * 2), float(rows.mean() * 2)


def test_courtroom_placement_in_pixels(comp: Compositor) -> None:
    picture = planes_of(comp.compose(scene()))
    judge = centroid(picture, COLOURS["j"])
    plaintiff = centroid(picture, COLOURS["p"])
    defendant = centroid(picture, COLOURS["d"])
    agent = centroid(picture, COLOURS["pa"])
    witness = centroid(picture, COLOURS["w"])
    assert judge[1] < plaintiff[1] and judge[1] < defendant[1]  # the bench above the parties
    assert plaintiff[0] < judge[0] < defendant[0]  # plaintiff left, defendant right
    assert agent[0] < W / 4  # the plaintiff's agent on the plaintiff's side
    assert witness[1] > judge[1] and W / 4 < witness[0] < 3 * W / 4


def sharpness(p: Yuv) -> float:
    y = p.y.astype(np.int32)
    return float(np.abs(np.diff(y, axis=1)).mean() + np.abs(np.diff(y, axis=0)).mean())


def test_protected_witness_is_screened_and_unnamed(comp: Compositor, cache: LabelCache) -> None:
    frames = {pid: solid(rgb) for pid, rgb in COLOURS.items()}
    frames["w"] = stripes()
    open_scene = scene(frames=frames)
    screened_scene = scene(frames=frames, protected={"w"})
    tile = comp.layout(open_scene).tiles["w"]
    clear = planes_of(comp.compose(open_scene))
    screened = planes_of(comp.compose(screened_scene))

    assert sharpness(region(clear, core(tile))) > 20
    assert sharpness(region(screened, core(tile))) < 0.2 * sharpness(region(clear, core(tile)))

    x, y, h = comp.label_position(tile)
    named, anonymous = cache.seat("witness", "孙证人", h), cache.seat("witness", None, h)
    assert anonymous.width < named.width

    def label_area(p: Yuv, label: Yuv) -> np.ndarray:
        return p.y[y : y + h, x : x + label.width]

    assert (label_area(clear, named) == named.y).all()
    assert (label_area(screened, anonymous) == anonymous.y).all()
    assert not (label_area(screened, named) == named.y).all()
    # Screening is per picture: the others are untouched.
    judge = comp.layout(open_scene).tiles["j"]
    assert (region(clear, judge).y == region(screened, judge).y).all()


@pytest.mark.parametrize("state", ["recess", "closed"])
def test_recess_and_closed_show_a_slate_and_no_camera(comp: Compositor, state: str) -> None:
    s = scene()
    session = planes_of(comp.compose(s))
    slate = planes_of(comp.compose(scene(state=state)))
    assert np.abs(session.y.astype(int) - slate.y.astype(int)).mean() > 20
    layout = comp.layout(s)
    for pid, rgb in COLOURS.items():
        got = medians(region(slate, core(layout.tiles[pid])))
        assert not np.allclose(got, yuv_of(solid(rgb)), atol=6), pid
    # The slate shows its words: a light title over a dark ground.
    assert (slate.y > 180).sum() > 2000


def test_recess_and_closed_differ_and_carry_the_case(comp: Compositor) -> None:
    recess = planes_of(comp.compose(scene(state="recess")))
    closed = planes_of(comp.compose(scene(state="closed")))
    other_case = planes_of(
        comp.compose(scene(state="recess", case_number="(2026)京0491民初9999号"))
    )
    assert (recess.y != closed.y).any()
    assert (recess.y != other_case.y).any()


@pytest.mark.parametrize("state", ["open", "scheduled"])
def test_open_state_shows_seats_and_a_waiting_banner(comp: Compositor, state: str) -> None:
    s = scene()
    session = planes_of(comp.compose(s))
    waiting = planes_of(comp.compose(scene(state=state)))
    assert (session.y != waiting.y).any()
    judge = core(comp.layout(s).tiles["j"])
    assert np.allclose(medians(region(waiting, judge)), yuv_of(solid(COLOURS["j"])), atol=3)


def test_no_video_and_empty_seat_slates_are_not_black() -> None:
    comp = Compositor(1280, 720)
    frames: dict[str, av.VideoFrame | None] = {pid: solid(rgb) for pid, rgb in COLOURS.items()}
    frames["p"] = None  # here, camera not yet sending
    del frames["d"]  # not here at all
    s = scene(frames=frames)
    picture = planes_of(comp.compose(s))
    layout = comp.layout(s)
    no_camera = region(picture, layout.tiles["p"])
    empty = region(picture, layout.tiles["d"])
    for tile in (no_camera, empty):
        assert tile.y.mean() > 25 and tile.y.std() > 3  # a drawn slate, not black
    # Plaintiff and defendant tiles are the same size; the words differ.
    assert no_camera.y.shape == empty.y.shape and (no_camera.y != empty.y).any()


def test_active_speaker_gets_a_bright_border(comp: Compositor) -> None:
    s = scene(active_speaker="d")
    picture = planes_of(comp.compose(s))
    quiet = planes_of(comp.compose(scene()))
    tile = comp.layout(s).tiles["d"]
    edge = picture.y[tile.y : tile.y + 2, tile.x : tile.right]
    assert edge.min() > 150  # brighter than the blue camera underneath
    assert (quiet.y[tile.y : tile.y + 2, tile.x : tile.right] != edge).all()
    assert (picture.y[:, : W // 2] == quiet.y[:, : W // 2]).all()  # nothing else moved
    comp.compose(scene(active_speaker="nobody"))  # unknown id: no border, no error


def test_exhibit_image_fills_the_exhibit_area(comp: Compositor) -> None:
    page = np.zeros((297 * 2, 210 * 2, 3), np.uint8)  # an A4 page, portrait
    page[:] = (250, 250, 240)
    page[100:140, 60:360] = (20, 20, 20)  # a line of "text"
    s = scene(exhibit=page)
    picture = planes_of(comp.compose(s))
    ex = comp.layout(s).exhibit
    assert ex is not None
    centre = region(picture, Rect(ex.x + ex.w // 2 - 4, ex.y + ex.h // 2 - 4, 8, 8))
    assert np.median(centre.y) > 200  # the white page
    # Portrait in a landscape area: letterboxed, not stretched.
    assert np.median(region(picture, Rect(ex.x, ex.y, 8, ex.h)).y) < 30
    assert comp.compose(s) is not None  # cached conversion reused


def test_exhibit_area_without_an_exhibit_is_a_slate(comp: Compositor) -> None:
    s = scene(show_exhibit_area=True)
    picture = planes_of(comp.compose(s))
    ex = comp.layout(s).exhibit
    assert ex is not None
    area = region(picture, ex)
    assert area.y.mean() > 25 and area.y.std() > 3
    assert comp.layout(scene()).exhibit is None


def test_exhibit_must_be_rgb(comp: Compositor) -> None:
    with pytest.raises(ValueError, match="RGB"):
        comp.compose(scene(exhibit=np.zeros((10, 10), np.uint8)))


def test_non_widescreen_camera_is_pillarboxed(comp: Compositor) -> None:
    frames = {pid: solid(rgb) for pid, rgb in COLOURS.items()}
    frames["d"] = solid(COLOURS["d"], 480, 640)  # a phone held upright
    s = scene(frames=frames)
    picture = planes_of(comp.compose(s))
    tile = comp.layout(s).tiles["d"]
    mid = region(picture, Rect(tile.x + tile.w // 2 - 2, tile.y + 4, 4, 4))
    side = region(picture, Rect(tile.x + 4, tile.y + 4, 4, 4))
    assert np.allclose(medians(mid), yuv_of(solid(COLOURS["d"])), atol=3)
    assert np.median(side.y) <= 20


def test_camera_in_another_format_and_size(comp: Compositor) -> None:
    rgb = np.empty((720, 1280, 3), np.uint8)
    rgb[:] = COLOURS["j"]
    frames = {pid: solid(c) for pid, c in COLOURS.items()}
    frames["j"] = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    s = scene(frames=frames)
    picture = planes_of(comp.compose(s))
    got = medians(region(picture, core(comp.layout(s).tiles["j"])))
    assert np.allclose(got, yuv_of(solid(COLOURS["j"])), atol=3)


def test_clock_text_and_corner(comp: Compositor) -> None:
    assert clock_text(754, "2026-11-23") == "2026-11-23 · 00:12:34"
    assert clock_text(36000 + 61.9) == "10:01:01"
    assert clock_text(-3) == "00:00:00"
    a = planes_of(comp.compose(scene(hearing_time=10)))
    b = planes_of(comp.compose(scene(hearing_time=11)))
    changed = np.nonzero((a.y != b.y).any(axis=0))[0]
    header = comp.layout(scene()).header
    assert changed.size and changed.min() > W / 2  # only the clock, top right
    assert np.nonzero((a.y != b.y).any(axis=1))[0].max() < header.bottom


def test_unknown_state_is_an_error(comp: Compositor) -> None:
    assert "in_session" in STATES
    with pytest.raises(ValueError, match="state"):
        comp.compose(scene(state="adjourned"))
