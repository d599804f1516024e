"""A clock drawn into a camera picture, read back from a scaled, re-encoded copy.

The code is a grid of 3 x 8 big black-or-white cells across the top half of the picture
(the courtroom puts a seat's name label at the bottom-left of its tile, so the top half is
what survives untouched). Cell 0 is always white and cell 1 always black: the reader
thresholds halfway between them, so brightness and contrast changes of the encoders do
not matter. Then 16 bits of the send time in milliseconds (modulo 65.536 s) and a 6-bit
CRC of those bits: a damaged or absent code (an empty seat, a slate) fails the check
instead of giving a wrong time.

At 640x360 a cell is 70 x 60 pixels; in the smallest tile of a 320x180 courtroom (76x42)
it is still about 8 x 6 pixels, and the reader averages the middle of each cell.
"""

from __future__ import annotations

from dataclasses import dataclass

import av
import numpy as np

ROWS = 3
COLS = 8
TIME_BITS = 16
CRC_BITS = 6
TIME_MODULO = 1 << TIME_BITS
# The code's area, as fractions of the picture (or tile): left, top, right, bottom.
AREA = (0.06, 0.05, 0.94, 0.52)
WHITE = 235  # limited-range luma
BLACK = 16
MIN_CONTRAST = 40  # white reference minus black reference, or the code is not there


def crc6(value: int, bits: int = TIME_BITS) -> int:
    """CRC-6 (polynomial x^6 + x + 1) of the low `bits` bits of value, MSB first."""
    reg = 0
    for i in range(bits - 1, -1, -1):
        bit = (value >> i) & 1
        top = (reg >> 5) & 1
        reg = (reg << 1) & 0x3F
        if top ^ bit:
            reg ^= 0x03
    return reg


def cell_values(stamp_ms: int) -> list[int]:
    """The 24 cells (1 = white) for a time in ms."""
    t = stamp_ms % TIME_MODULO
    bits = [1, 0]
    bits += [(t >> i) & 1 for i in range(TIME_BITS - 1, -1, -1)]
    c = crc6(t)
    bits += [(c >> i) & 1 for i in range(CRC_BITS - 1, -1, -1)]
    return bits


def _edges(n: int, lo: float, hi: float, size: int) -> list[int]:
    """n+1 even pixel edges spanning [lo, hi] of size."""
    return [int(round((lo + (hi - lo) * i / n) * size / 2)) * 2 for i in range(n + 1)]


@dataclass(frozen=True)
class Painter:
    """Draws the code into the luma and chroma planes of one picture size (yuv420p)."""

    width: int
    height: int

    def cells(self) -> list[tuple[int, int, int, int]]:
        xs = _edges(COLS, AREA[0], AREA[2], self.width)
        ys = _edges(ROWS, AREA[1], AREA[3], self.height)
        return [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(ROWS) for c in range(COLS)]

    def clear_chroma(self, u: np.ndarray, v: np.ndarray) -> None:
        """Grey chroma under the code (once, on the precomputed background)."""
        xs = _edges(COLS, AREA[0], AREA[2], self.width)
        ys = _edges(ROWS, AREA[1], AREA[3], self.height)
        u[ys[0] // 2 : ys[-1] // 2, xs[0] // 2 : xs[-1] // 2] = 128
        v[ys[0] // 2 : ys[-1] // 2, xs[0] // 2 : xs[-1] // 2] = 128

    def paint(self, y: np.ndarray, stamp_ms: int) -> None:
        for (x0, y0, x1, y1), bit in zip(self.cells(), cell_values(stamp_ms), strict=True):
            y[y0:y1, x0:x1] = WHITE if bit else BLACK


class Reader:
    """Reads the code from a rectangle of a decoded picture's luma plane.

    The sample points (the middle half of each cell, 3 x 3 points) are computed once per
    rectangle; reading is one fancy-indexing gather and a mean.
    """

    def __init__(self) -> None:
        self._points: dict[tuple[int, int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def _sample_points(self, rect: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        pts = self._points.get(rect)
        if pts is None:
            x, y, w, h = rect
            rows, cols = [], []
            for r in range(ROWS):
                for c in range(COLS):
                    cx0 = AREA[0] + (AREA[2] - AREA[0]) * c / COLS
                    cx1 = AREA[0] + (AREA[2] - AREA[0]) * (c + 1) / COLS
                    cy0 = AREA[1] + (AREA[3] - AREA[1]) * r / ROWS
                    cy1 = AREA[1] + (AREA[3] - AREA[1]) * (r + 1) / ROWS
                    fx = [cx0 + (cx1 - cx0) * f for f in (0.3, 0.5, 0.7)]
                    fy = [cy0 + (cy1 - cy0) * f for f in (0.3, 0.5, 0.7)]
                    cols.append([x + int(fx_ * w) for fy_ in fy for fx_ in fx])
                    rows.append([y + int(fy_ * h) for fy_ in fy for fx_ in fx])
            pts = (np.array(rows, dtype=np.intp), np.array(cols, dtype=np.intp))
            if len(self._points) > 64:
                self._points.clear()
            self._points[rect] = pts
        return pts

    def read(self, luma: np.ndarray, rect: tuple[int, int, int, int]) -> int | None:
        """The time (ms modulo 65536) coded in `rect` = (x, y, w, h) of `luma`, or None."""
        x, y, w, h = rect
        if w < 16 or h < 12 or x < 0 or y < 0 or x + w > luma.shape[1] or y + h > luma.shape[0]:
            return None
        rows, cols = self._sample_points(rect)
        means = luma[rows, cols].mean(axis=1)
        white, black = means[0], means[1]
        if white - black < MIN_CONTRAST:
            return None
        bits = (means > (white + black) / 2).astype(np.int64)
        t = 0
        for b in bits[2 : 2 + TIME_BITS]:
            t = (t << 1) | int(b)
        c = 0
        for b in bits[2 + TIME_BITS :]:
            c = (c << 1) | int(b)
        return t if crc6(t) == c else None


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """The Y plane of a decoded yuv420p frame as a (height, width) view, without a copy."""
    if frame.format.name not in ("yuv420p", "yuvj420p"):
        return frame.to_ndarray(format="gray")
    plane = frame.planes[0]
    data = np.frombuffer(memoryview(plane), dtype=np.uint8)
    return data.reshape(frame.height, plane.line_size)[:, : frame.width]


def fitted(src_w: int, src_h: int, rect: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Where a src_w x src_h camera lands inside a tile, as the compositor fits it:
    the whole tile when the shapes are within 4 %, else centred and letter/pillarboxed."""
    x, y, w, h = rect
    if src_w <= 0 or src_h <= 0 or abs((src_w / src_h) / (w / h) - 1) < 0.04:
        return rect
    scale = min(w / src_w, h / src_h)
    fw, fh = max(2, int(src_w * scale) & ~1), max(2, int(src_h * scale) & ~1)
    return (x + ((w - fw) // 2 & ~1), y + ((h - fh) // 2 & ~1), fw, fh)


def age_ms(now_ms: int, stamp: int) -> int:
    """Milliseconds from a coded stamp to now (both on the same clock), modulo 65.536 s."""
    return (now_ms - stamp) % TIME_MODULO
