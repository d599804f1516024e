"""Text for the courtroom picture: rendered once with PIL, kept as yuv420p, blitted with numpy.

A label ("原告 · 张三", the clock, a slate title) is drawn in RGB with a CJK font
into an opaque dark box, converted once to Y, U and V planes by swscale (the same BT.601
conversion the camera frames get), and cached by (text, height). Drawing it on a picture
is then three numpy slice copies.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Final, NamedTuple

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from courtroom.panel import SEATS, SEATS_EN
from courtroom.roles import ROLE_NAMES_EN, ROLE_NAMES_ZH, Role

# The picture speaks the court's language (Config.language): role names from the one table
# of the pod (courtroom.roles), and every other word drawn into the picture here.
ROLE_NAMES: Final[Mapping[str, Mapping[str, str]]] = {
    "zh": {role.value: ROLE_NAMES_ZH[role] for role in Role},
    "en": {role.value: ROLE_NAMES_EN[role] for role in Role},
}

PICTURE_TEXT: Final[Mapping[str, Mapping[str, str]]] = {
    "zh": {
        "emblem": "人民法院",
        "recess": "休庭",
        "recess_note": "庭审暂停，稍后继续",
        "closed": "闭庭",
        "closed_note": "庭审已结束",
        "waiting": "等待开庭",
        "empty_seat": "空席",
        "no_camera": "无画面",
        "exhibits": "证据展示区",
    },
    "en": {
        "emblem": "PEOPLE'S COURT",
        "recess": "RECESS",
        "recess_note": "The hearing will resume shortly",
        "closed": "CLOSED",
        "closed_note": "The hearing has ended",
        "waiting": "Waiting for the hearing to start",
        "empty_seat": "Empty seat",
        "no_camera": "No camera",
        "exhibits": "Exhibits",
    },
}


def picture_text(language: str) -> Mapping[str, str]:
    return PICTURE_TEXT.get(language, PICTURE_TEXT["zh"])


LABEL_FG: Final = (240, 240, 236)
LABEL_BG: Final = (18, 22, 32)

# Checked before asking fontconfig, so a normal Debian/Ubuntu/Fedora/macOS box needs no subprocess.
_KNOWN_FONTS: Final = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/System/Library/Fonts/PingFang.ttc",
)


class FontNotFoundError(RuntimeError):
    pass


class Yuv(NamedTuple):
    """A yuv420p picture as three planes: y is h x w, u and v are h/2 x w/2."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray

    @property
    def width(self) -> int:
        return int(self.y.shape[1])

    @property
    def height(self) -> int:
        return int(self.y.shape[0])


def role_label(role: str, name: str | None = None, language: str = "zh", bench: str | None = None) -> str:
    """'原告 · 张三' (or 'Plaintiff · 张三'); the role alone when the name is withheld or unknown.
    A judge is named by the seat on the panel (`bench`): 审判长, 审判员 or 人民陪审员."""
    seats = SEATS_EN if language == "en" else SEATS
    text = seats[bench] if bench in seats else ROLE_NAMES.get(language, ROLE_NAMES["zh"]).get(role, role)
    return f"{text} · {name}" if name else text


def find_cjk_font() -> tuple[str, int] | None:
    """(font file, face index) of a font that covers simplified Chinese, or None."""
    override = os.environ.get("COURTROOM_CJK_FONT")
    candidates = [override] if override else []
    candidates += [p for p in _KNOWN_FONTS if os.path.exists(p)]
    for path in candidates:
        if os.path.exists(path):
            return path, _sc_face(path)
    if shutil.which("fc-list") is None:
        return None
    try:
        out = subprocess.run(
            ["fc-list", "-f", "%{file}|%{index}|%{family}\n", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = [line.split("|", 2) for line in out.splitlines() if line.count("|") == 2]
    if not found:
        return None
    # A simplified-Chinese sans face draws 审判长 the way a mainland court writes it.
    found.sort(key=lambda f: ("SC" not in f[2], "Mono" in f[2], "Sans" not in f[2]))
    path, index, _ = found[0]
    return path, int(index) if index.isdigit() else 0


def _sc_face(path: str) -> int:
    """In a .ttc collection, the face index of the simplified-Chinese (SC) member."""
    if not path.lower().endswith(".ttc"):
        return 0
    for index in range(12):
        try:
            family = ImageFont.truetype(path, 12, index=index).getname()[0] or ""
        except OSError:
            break
        if " SC" in family and "Mono" not in family:
            return index
    return 0


# Discovered once at import; LabelCache raises FontNotFoundError if this is None.
CJK_FONT: Final = find_cjk_font()


def rgb_to_yuv(rgb: np.ndarray) -> Yuv:
    """Convert an even-sized RGB uint8 image to yuv420p planes (owned copies)."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return planes_of(frame.reformat(format="yuv420p"), copy=True)


def planes_of(frame: av.VideoFrame, copy: bool = False) -> Yuv:
    """Numpy views (or copies) of a yuv420p frame's planes, without the line padding."""
    out = []
    for plane in frame.planes:
        size = plane.height * plane.line_size
        rows = np.frombuffer(memoryview(plane), dtype=np.uint8, count=size).reshape(
            plane.height, -1
        )
        view = rows[:, : plane.width]
        out.append(view.copy() if copy else view)
    return Yuv(out[0], out[1], out[2])


class LabelCache:
    """Renders text labels once and keeps the most recently used ones as yuv420p."""

    def __init__(self, font: tuple[str, int] | None = None, max_entries: int = 256, language: str = "zh") -> None:
        self.language = language
        font = font or CJK_FONT
        if font is None:
            raise FontNotFoundError(
                "no font covering Chinese was found: install fonts-noto-cjk "
                "or set COURTROOM_CJK_FONT to a .ttc/.otf file"
            )
        self.font_path, self.font_index = font
        self._max = max_entries
        self._labels: OrderedDict[tuple[str, int], Yuv] = OrderedDict()
        self._fonts: dict[tuple[int, bool], ImageFont.FreeTypeFont] = {}

    def font(self, size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
        key = (size, bold)
        if key not in self._fonts:
            path = self.font_path
            bold_path = path.replace("Regular", "Bold")
            if bold and bold_path != path and Path(bold_path).exists():
                path = bold_path
            self._fonts[key] = ImageFont.truetype(path, size, index=self.font_index)
        return self._fonts[key]

    def text(self, text: str, height: int) -> Yuv:
        """A label of the given (even) height: the text in light on an opaque dark box."""
        key = (text, height)
        label = self._labels.get(key)
        if label is not None:
            self._labels.move_to_end(key)
            return label
        label = self._render(text, height)
        self._labels[key] = label
        # Bounded: the clock makes a new label every second.
        if len(self._labels) > self._max:
            self._labels.popitem(last=False)
        return label

    def seat(self, role: str, name: str | None, height: int, bench: str | None = None) -> Yuv:
        return self.text(role_label(role, name, self.language, bench), height)

    def __len__(self) -> int:
        return len(self._labels)

    def _render(self, text: str, height: int) -> Yuv:
        height = max(2, height & ~1)
        font = self.font(max(6, round(height * 0.68)))
        pad = max(2, height // 3)
        width = max(2, (int(font.getlength(text)) + 2 * pad + 1) & ~1)
        image = Image.new("RGB", (width, height), LABEL_BG)
        ImageDraw.Draw(image).text((pad, height / 2), text, font=font, fill=LABEL_FG, anchor="lm")
        return rgb_to_yuv(np.asarray(image))

    @staticmethod
    def blit(canvas: Yuv, label: Yuv, x: int, y: int, max_width: int | None = None) -> None:
        """Copy a label onto the canvas at (x, y), clipped to the canvas and max_width."""
        x, y = x & ~1, y & ~1  # chroma is at half resolution: stay on even pixels
        w = label.width if max_width is None else min(label.width, max_width & ~1)
        x0, y0 = max(x, 0), max(y, 0)
        x1, y1 = min(x + w, canvas.width), min(y + label.height, canvas.height)
        if x1 <= x0 or y1 <= y0:
            return
        lx, ly = x0 - x, y0 - y
        canvas.y[y0:y1, x0:x1] = label.y[ly : ly + y1 - y0, lx : lx + x1 - x0]
        cx0, cy0, cx1, cy1 = x0 // 2, y0 // 2, x1 // 2, y1 // 2
        lcx, lcy = lx // 2, ly // 2
        canvas.u[cy0:cy1, cx0:cx1] = label.u[lcy : lcy + cy1 - cy0, lcx : lcx + cx1 - cx0]
        canvas.v[cy0:cy1, cx0:cx1] = label.v[lcy : lcy + cy1 - cy0, lcx : lcx + cx1 - cx0]
