"""One courtroom picture from everyone's camera, composed directly in yuv420p.

Everything static (background, the bench's backdrop and emblem, seat frames, slates) is
drawn once with PIL per layout and converted once; each frame then only copies that
background, scales each camera into its tile with swscale, and blits cached labels, the
speaker's border and the clock. Working in yuv420p avoids two colour conversions of the
whole picture per frame, and the encoder wants yuv420p anyway.

Not thread-safe: one compositor belongs to one worker thread.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageDraw, ImageFont

from .labels import LABEL_BG, LabelCache, Yuv, picture_text, planes_of, rgb_to_yuv
from .layout import Layout, Rect, Seat, border_width, courtroom_layout, label_box

# The hearing's states (courtroom.procedure.HearingState); "scheduled" looks like "open".
STATES: Final = ("scheduled", "open", "in_session", "recess", "closed")

_CANVAS: Final = (16, 22, 36)
_TILE: Final = (30, 36, 50)
_TILE_FG: Final = (120, 128, 145)
_GOLD: Final = (201, 162, 75)
_WOOD_TOP: Final = (96, 60, 34)
_WOOD_FOOT: Final = (58, 34, 19)
_EMBLEM_BAND: Final = (22, 38, 84)
_EMBLEM_RED: Final = (176, 28, 34)
# Seat frames tell the sides apart at a glance, as the tables do in a courtroom.
_SIDE_COLOURS: Final = {
    "bench": _GOLD,
    "plaintiff": (178, 64, 60),
    "defendant": (64, 104, 178),
    "stand": (74, 142, 96),
}
_BLACK: Final = (16, 128, 128)  # limited-range yuv black
_SPEAKER: Final = (196, 28, 160)  # bright amber in BT.601 yuv
_MOSAIC_BLOCKS: Final = 8  # blocks across a screened tile: a face becomes a few squares

_SLATE_STATES: Final = ("recess", "closed")  # nobody on camera: a slate in the court's language


@dataclass
class Scene:
    seats: Sequence[Seat]
    # Latest decoded camera frame per participant. A missing key is an empty seat; None
    # is a participant who is here but whose camera has sent nothing yet.
    frames: Mapping[str, av.VideoFrame | None]
    active_speaker: str | None = None
    state: str = "in_session"  # scheduled | open | in_session | recess | closed
    case_number: str = ""
    title: str = ""
    hearing_time: float = 0.0  # seconds on the hearing clock
    date_text: str = ""  # the wall date, e.g. "2026-11-23"
    exhibit: np.ndarray | None = None  # RGB uint8; pass a new array when it changes
    show_exhibit_area: bool = False
    protected: Collection[str] = field(default_factory=frozenset)  # screened in this picture


class Compositor:
    def __init__(self, width: int, height: int, labels: LabelCache | None = None, language: str = "zh") -> None:
        if width % 2 or height % 2:
            raise ValueError("yuv420p needs an even width and height")
        self.width = width
        self.height = height
        self.labels = labels or LabelCache(language=language)
        self.words = picture_text(self.labels.language)
        self._border = border_width(width)
        self._stages: OrderedDict[tuple[object, ...], tuple[Layout, Yuv]] = OrderedDict()
        self._slates: OrderedDict[tuple[str, str, str], Yuv] = OrderedDict()
        self._tile_slates: dict[tuple[int, int, str], Yuv] = {}
        self._scalers: dict[str, VideoReformatter] = {}
        self._exhibit: tuple[np.ndarray, Rect, Yuv] | None = None

    def layout(self, scene: Scene) -> Layout:
        return self._stage(scene)[0]

    def compose(self, scene: Scene) -> av.VideoFrame:
        if scene.state not in STATES:
            raise ValueError(f"unknown hearing state {scene.state!r}")
        out = av.VideoFrame(self.width, self.height, "yuv420p")
        canvas = planes_of(out)
        layout, background = self._stage(scene)

        if scene.state in _SLATE_STATES:
            # Nobody is on camera during a recess or after closing, not even on the record.
            _copy(canvas, self._slate(scene, layout))
            self._draw_header(canvas, scene, layout)
            return out

        _copy(canvas, background)
        seats = {seat.participant_id: seat for seat in scene.seats}
        for pid, rect in layout.tiles.items():
            seat = seats[pid]
            screened = pid in scene.protected
            if pid not in scene.frames:
                _paste(canvas, self._tile_slate(rect, self.words["empty_seat"]), rect.x, rect.y)
            elif (frame := scene.frames[pid]) is None:
                _paste(canvas, self._tile_slate(rect, self.words["no_camera"]), rect.x, rect.y)
            else:
                self._draw_camera(canvas, pid, frame, rect, screened)
            name = None if screened else seat.name
            x, y, h = self.label_position(rect)
            label = self.labels.seat(seat.role, name, h, seat.bench)
            self.labels.blit(canvas, label, x, y, max_width=rect.right - self._border - x)
        if scene.active_speaker in layout.tiles:
            _frame_rect(canvas, layout.tiles[scene.active_speaker], self._border, _SPEAKER)
        if layout.exhibit is not None and scene.exhibit is not None:
            self._draw_exhibit(canvas, scene.exhibit, layout.exhibit)
        self._draw_header(canvas, scene, layout)
        if scene.state in ("scheduled", "open"):
            # In the exhibit area if there is one, else at the foot of the picture.
            banner = self.labels.text(self.words["waiting"], _even(self.height * 0.06))
            x = (self.width - banner.width) // 2
            if layout.exhibit is not None:
                y = layout.exhibit.y + (layout.exhibit.h - banner.height) // 2
            else:
                y = self.height - banner.height - 2 * self._border
            self.labels.blit(canvas, banner, x, y)
        return out

    # -- per frame ---------------------------------------------------------------

    def _draw_camera(
        self, canvas: Yuv, pid: str, frame: av.VideoFrame, rect: Rect, screened: bool
    ) -> None:
        w, h = _fit(frame.width, frame.height, rect.w, rect.h)
        # One reformatter per camera keeps its swscale context: half the cost of frame.reformat.
        scaler = self._scalers.setdefault(pid, VideoReformatter())
        image = planes_of(scaler.reformat(frame, width=w, height=h, format="yuv420p"))
        if screened:
            image = _mosaic(image, _MOSAIC_BLOCKS)
        if (w, h) != (rect.w, rect.h):
            _fill(canvas, rect, _BLACK)
        _paste(canvas, image, rect.x + _even((rect.w - w) / 2), rect.y + _even((rect.h - h) / 2))

    def _draw_exhibit(self, canvas: Yuv, exhibit: np.ndarray, rect: Rect) -> None:
        cached = self._exhibit
        if cached is None or cached[0] is not exhibit or cached[1] != rect:
            if exhibit.dtype != np.uint8 or exhibit.ndim != 3 or exhibit.shape[2] != 3:
                raise ValueError("the exhibit must be an RGB uint8 image (height, width, 3)")
            w, h = _fit(exhibit.shape[1], exhibit.shape[0], rect.w, rect.h)
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(exhibit), format="rgb24")
            image = planes_of(frame.reformat(width=w, height=h, format="yuv420p"), copy=True)
            # Keeping the array itself makes the identity check safe (its id can't be reused).
            cached = self._exhibit = (exhibit, rect, image)
        image = cached[2]
        _fill(canvas, rect, _BLACK)
        x = rect.x + _even((rect.w - image.width) / 2)
        _paste(canvas, image, x, rect.y + _even((rect.h - image.height) / 2))

    def _draw_header(self, canvas: Yuv, scene: Scene, layout: Layout) -> None:
        bar = layout.header
        h = _even(bar.h * 0.8)
        if h < 8:
            return
        y = bar.y + _even((bar.h - h) / 2)
        clock = self.labels.text(clock_text(scene.hearing_time, scene.date_text), h)
        clock_x = bar.right - clock.width - self._border
        self.labels.blit(canvas, clock, clock_x, y)
        caption = "  ".join(t for t in (scene.case_number, scene.title) if t)
        if caption:
            room = max(0, clock_x - 2 * self._border - bar.x)
            self.labels.blit(canvas, self.labels.text(caption, h), bar.x + self._border, y, room)

    def label_position(self, tile: Rect) -> tuple[int, int, int]:
        """(x, y, height) of a tile's label: bottom-left, inset by the speaker border's
        width so that border never cuts it."""
        box = label_box(tile, self.width, self.height)
        return box.x, box.y, box.h

    # -- rendered once -------------------------------------------------------------

    def _stage(self, scene: Scene) -> tuple[Layout, Yuv]:
        area = scene.exhibit is not None or scene.show_exhibit_area
        key = (tuple((s.participant_id, s.role, s.side) for s in scene.seats), area)
        stage = self._stages.get(key)
        if stage is None:
            layout = courtroom_layout(self.width, self.height, scene.seats, area)
            stage = (layout, rgb_to_yuv(self._draw_background(layout, scene.seats)))
            self._stages[key] = stage
            if len(self._stages) > 4:
                self._stages.popitem(last=False)
            # Forget the scalers of people who left.
            for pid in set(self._scalers) - set(layout.tiles):
                del self._scalers[pid]
        else:
            self._stages.move_to_end(key)
        return stage

    def _draw_background(self, layout: Layout, seats: Sequence[Seat]) -> np.ndarray:
        image = Image.new("RGB", (self.width, self.height), _CANVAS)
        draw = ImageDraw.Draw(image)
        draw.rectangle(_box(layout.header), fill=LABEL_BG)
        draw.line([(0, layout.header.bottom - 1), (self.width, layout.header.bottom - 1)], _GOLD)
        self._draw_bench(image, layout)
        if layout.exhibit is not None:
            ex = layout.exhibit
            draw.rectangle(_box(ex), fill=_TILE, outline=(70, 78, 96))
            font = self.labels.font(_even(max(12, min(ex.h * 0.1, self.height * 0.045))))
            draw.text((ex.x + ex.w / 2, ex.y + ex.h / 2), self.words["exhibits"], _TILE_FG, font, anchor="mm")
        edge = max(1, self._border // 2)
        for seat in seats:
            rect = layout.tiles.get(seat.participant_id)
            if rect is not None:
                outer = Rect(rect.x - edge, rect.y - edge, rect.w + 2 * edge, rect.h + 2 * edge)
                draw.rectangle(_box(outer), fill=_side_colour(seat))
        return np.asarray(image)

    def _draw_bench(self, image: Image.Image, layout: Layout) -> None:
        bench, band = layout.bench, layout.emblem
        # Wood: a dark vertical gradient with faint grain, computed once.
        t = np.linspace(0.0, 1.0, bench.h)[:, None, None]
        wood = (1 - t) * np.array(_WOOD_TOP) + t * np.array(_WOOD_FOOT)
        grain = 1 + 0.06 * np.sin(np.arange(bench.w) / 3.1 + 2 * np.sin(np.arange(bench.w) / 17))
        panel = np.clip(wood * grain[None, :, None], 0, 255).astype(np.uint8)
        image.paste(Image.fromarray(panel), (bench.x, bench.y))
        draw = ImageDraw.Draw(image)
        draw.rectangle(_box(band), fill=_EMBLEM_BAND)
        draw.rectangle(_box(bench), outline=_GOLD, width=max(1, self._border // 2))
        if band.h < 12:
            return
        # The emblem: a red disc with 法 in gold, then the court's name.
        r = band.h * 0.42
        emblem = self.words["emblem"]
        text_font = self._fit_font(emblem, band.w - 4 * r, band.h * 0.55, bold=True)
        text_w = text_font.getlength(emblem)
        left = band.x + (band.w - (2 * r + r * 0.8 + text_w)) / 2
        cx, cy = left + r, band.y + band.h / 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_EMBLEM_RED, outline=_GOLD, width=2)
        draw.text((cx, cy), "法", _GOLD, self.labels.font(int(r * 1.3), bold=True), anchor="mm")
        draw.text((cx + r * 1.8, cy), emblem, _GOLD, text_font, anchor="lm")

    def _slate(self, scene: Scene, layout: Layout) -> Yuv:
        key = (scene.state, scene.case_number, scene.title)
        slate = self._slates.get(key)
        if slate is not None:
            return slate
        title, subtitle = self.words[scene.state], self.words[f"{scene.state}_note"]
        w, h = self.width, self.height
        image = Image.new("RGB", (w, h), _CANVAS)
        draw = ImageDraw.Draw(image)
        draw.rectangle(_box(layout.header), fill=LABEL_BG)
        r = h * 0.07
        cx, cy = w / 2, h * 0.27
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=_EMBLEM_RED, outline=_GOLD, width=3)
        draw.text((cx, cy), "法", _GOLD, self.labels.font(int(r * 1.3), bold=True), anchor="mm")
        lines = [
            (title, h * 0.12, (236, 232, 220), True, h * 0.47),
            (subtitle, h * 0.045, _TILE_FG, False, h * 0.60),
            (scene.case_number, h * 0.05, _GOLD, False, h * 0.72),
            (scene.title, h * 0.045, (210, 210, 204), False, h * 0.81),
        ]
        for text, size, colour, bold, y in lines:
            if text:
                font = self._fit_font(text, w * 0.9, size, bold)
                draw.text((cx, y), text, colour, font, anchor="mm")
        slate = rgb_to_yuv(np.asarray(image))
        self._slates[key] = slate
        if len(self._slates) > 4:
            self._slates.popitem(last=False)
        return slate

    def _tile_slate(self, rect: Rect, text: str) -> Yuv:
        key = (rect.w, rect.h, text)
        slate = self._tile_slates.get(key)
        if slate is None:
            image = Image.new("RGB", (rect.w, rect.h), _TILE)
            draw = ImageDraw.Draw(image)
            # A head-and-shoulders silhouette says "a person's seat" without words; the
            # words go above the seat label, and only where they can be read.
            cx, s = rect.w / 2, rect.h
            draw.ellipse((cx - s * 0.1, s * 0.1, cx + s * 0.1, s * 0.32), fill=(52, 60, 78))
            draw.chord(
                (cx - s * 0.22, s * 0.34, cx + s * 0.22, s * 0.78), 180, 360, fill=(52, 60, 78)
            )
            if rect.h >= 100:
                font = self._fit_font(text, rect.w * 0.9, rect.h * 0.1)
                draw.text((cx, s * 0.66), text, _TILE_FG, font, anchor="mm")
            slate = self._tile_slates[key] = rgb_to_yuv(np.asarray(image))
        return slate

    def _fit_font(
        self, text: str, width: float, size: float, bold: bool = False
    ) -> ImageFont.FreeTypeFont:
        """The font at `size` pixels, smaller if the text would not fit in `width`."""
        font = self.labels.font(max(6, int(size)), bold)
        length = font.getlength(text)
        if length > width > 0:
            font = self.labels.font(max(6, int(size * width / length)), bold)
        return font


def clock_text(hearing_time: float, date_text: str = "") -> str:
    """'2026-11-23 · 00:12:34': the wall date and the hearing clock."""
    seconds = max(0, int(hearing_time))
    clock = f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{date_text} · {clock}" if date_text else clock


def _side_colour(seat: Seat) -> tuple[int, int, int]:
    if seat.role in ("judge", "mediator", "clerk"):
        return _SIDE_COLOURS["bench"]
    if seat.role in ("plaintiff", "defendant"):
        return _SIDE_COLOURS[seat.role]
    if seat.role == "agent" and seat.side in ("plaintiff", "defendant"):
        return _SIDE_COLOURS[seat.side]
    return _SIDE_COLOURS["stand"]


def _even(v: float) -> int:
    return int(math.floor(v)) & ~1


def _box(r: Rect) -> tuple[int, int, int, int]:
    return (r.x, r.y, r.right - 1, r.bottom - 1)


def _fit(src_w: int, src_h: int, w: int, h: int) -> tuple[int, int]:
    """The even size that shows all of a src_w x src_h image inside w x h."""
    if src_w <= 0 or src_h <= 0:
        return w, h
    # Near enough the tile's shape: fill it rather than leave a 2-pixel bar.
    if abs((src_w / src_h) / (w / h) - 1) < 0.04:
        return w, h
    scale = min(w / src_w, h / src_h)
    return max(2, _even(src_w * scale)), max(2, _even(src_h * scale))


def _copy(canvas: Yuv, image: Yuv) -> None:
    np.copyto(canvas.y, image.y)
    np.copyto(canvas.u, image.u)
    np.copyto(canvas.v, image.v)


def _paste(canvas: Yuv, image: Yuv, x: int, y: int) -> None:
    """Copy an even-sized image at even (x, y); it must lie inside the canvas."""
    h, w = image.y.shape
    canvas.y[y : y + h, x : x + w] = image.y
    cx, cy = x // 2, y // 2
    canvas.u[cy : cy + h // 2, cx : cx + w // 2] = image.u
    canvas.v[cy : cy + h // 2, cx : cx + w // 2] = image.v


def _fill(canvas: Yuv, r: Rect, colour: tuple[int, int, int]) -> None:
    canvas.y[r.y : r.bottom, r.x : r.right] = colour[0]
    canvas.u[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2] = colour[1]
    canvas.v[r.y // 2 : r.bottom // 2, r.x // 2 : r.right // 2] = colour[2]


def _frame_rect(canvas: Yuv, r: Rect, t: int, colour: tuple[int, int, int]) -> None:
    """A border of thickness t drawn just inside r."""
    for side in (
        Rect(r.x, r.y, r.w, t),
        Rect(r.x, r.bottom - t, r.w, t),
        Rect(r.x, r.y, t, r.h),
        Rect(r.right - t, r.y, t, r.h),
    ):
        _fill(canvas, side, colour)


def _mosaic(image: Yuv, blocks: int) -> Yuv:
    """Screen a face: average the picture over a coarse grid of blocks."""
    rows = max(1, round(blocks * image.height / image.width))
    return Yuv(*(_blocky(p, rows, blocks) for p in image))


def _blocky(plane: np.ndarray, rows: int, cols: int) -> np.ndarray:
    h, w = plane.shape
    ys = np.linspace(0, h, min(rows, h) + 1).astype(np.intp)
    xs = np.linspace(0, w, min(cols, w) + 1).astype(np.intp)
    sums = np.add.reduceat(
        np.add.reduceat(plane.astype(np.uint32), ys[:-1], axis=0), xs[:-1], axis=1
    )
    means = (sums // np.outer(np.diff(ys), np.diff(xs))).astype(np.uint8)
    return np.repeat(np.repeat(means, np.diff(ys), axis=0), np.diff(xs), axis=1)


if __name__ == "__main__":
    # Micro-benchmark: five 640x360 cameras into a 1280x720 courtroom.
    import time

    seats = [
        Seat("j", "judge", "王法官"),
        Seat("c", "clerk", "李书记"),
        Seat("p", "plaintiff", "张三"),
        Seat("d", "defendant", "李四"),
        Seat("a", "agent", "赵律师", side="plaintiff"),
    ]
    rng = np.random.default_rng(1)
    cams = {
        s.participant_id: av.VideoFrame.from_ndarray(
            rng.integers(0, 255, (540, 640), dtype=np.uint8), format="yuv420p"
        )
        for s in seats
    }
    for W, H in ((1280, 720), (640, 360)):
        comp = Compositor(W, H)
        scene = Scene(
            seats,
            cams,
            active_speaker="p",
            case_number="(2026)京0491民初1234号",
            title="张三诉李四买卖合同纠纷",
            date_text="2026-11-23",
            protected={"d"},
        )
        t0 = time.perf_counter()
        comp.compose(scene)
        first = time.perf_counter() - t0
        n = 200
        t0 = time.perf_counter()
        for i in range(n):
            scene.hearing_time = i / 15
            comp.compose(scene)
        per = (time.perf_counter() - t0) / n
        print(f"{W}x{H}: first compose {first * 1e3:.1f} ms, then {per * 1e3:.2f} ms/frame")
