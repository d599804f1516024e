"""The public stream's slate: what the livestream shows while the broadcast is paused.

The picture is rendered once with PIL and encoded ONCE at startup into one GOP (2 s x fps
packets: an IDR with in-band SPS/PPS, then P-frames) with the media room's H.264 settings.
While off air the delay line loops those packets with rewritten timestamps; audio is
replaced by silence of the same length. No encoder runs during the hearing.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

VIDEO_TB = Fraction(1, 90000)
# What the public sees while the broadcast is paused, in the court's language.
SLATE_LINES: dict[str, tuple[str, ...]] = {
    "zh": ("暂停直播", "公开直播已暂停，稍后恢复"),
    "en": ("Broadcast paused", "The public broadcast will resume"),
}
DEFAULT_LINES = SLATE_LINES["zh"]


def slate_lines(language: str) -> tuple[str, ...]:
    return SLATE_LINES.get(language, DEFAULT_LINES)
FONT_DIRS = ("/usr/share/fonts/opentype/noto", "/usr/share/fonts")


def find_cjk_font() -> tuple[str, int] | None:
    """A (path, face index) for a Simplified-Chinese Noto Sans CJK face, if installed."""
    paths = sorted(glob.glob(f"{FONT_DIRS[0]}/NotoSansCJK-*.tt[cf]"))
    paths += sorted(glob.glob(f"{FONT_DIRS[1]}/**/*CJK*.tt[cf]", recursive=True))
    for path in paths:
        for index in range(10):
            try:
                font = ImageFont.truetype(path, 20, index=index)
            except OSError:
                break
            name = " ".join(n or "" for n in font.getname())
            if "SC" in name and "Mono" not in name:
                return path, index
    return (paths[0], 0) if paths else None


def render_slate(width: int, height: int, lines: tuple[str, ...] = DEFAULT_LINES) -> Image.Image:
    img = Image.new("RGB", (width, height), (16, 24, 40))
    draw = ImageDraw.Draw(img)
    found = find_cjk_font()
    sizes = [max(12, height // 9), max(10, height // 16)]
    y_total = sum(int(s * 1.5) for s in sizes[: len(lines)])
    y = (height - y_total) // 2
    for i, text in enumerate(lines):
        size = sizes[min(i, len(sizes) - 1)]
        font: ImageFont.FreeTypeFont | ImageFont.ImageFont
        if found is not None:
            font = ImageFont.truetype(found[0], size, index=found[1])
        else:  # pragma: no cover - a machine without CJK fonts shows boxes
            log.warning("no CJK font found; the slate's Chinese text will not render")
            font = ImageFont.load_default()
        box = draw.textbbox((0, 0), text, font=font)
        w = box[2] - box[0]
        draw.text(((width - w) // 2 - box[0], y), text, font=font, fill=(235, 235, 235))
        y += int(size * 1.5)
    return img


def encode_gop(
    image: Image.Image, fps: int, x264_params: str | None = None
) -> list[tuple[bytes, bool]]:
    """One GOP (2 s x fps frames) of the still image: (Annex-B bytes, is_keyframe)."""
    gop = max(1, int(round(2 * fps)))
    enc = av.CodecContext.create("libx264", "w")
    enc.width = image.width  # type: ignore[attr-defined]
    enc.height = image.height  # type: ignore[attr-defined]
    enc.pix_fmt = "yuv420p"  # type: ignore[attr-defined]
    enc.time_base = VIDEO_TB
    enc.framerate = Fraction(fps).limit_denominator(1001)  # type: ignore[attr-defined]
    enc.options = {
        "profile": "baseline",
        "tune": "zerolatency",
        "preset": "ultrafast",
        "x264-params": x264_params or f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
    }
    frame = av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")
    frame = frame.reformat(format="yuv420p")
    out: list[tuple[bytes, bool]] = []
    for i in range(gop):
        frame.pts = int(round(i * 90000 / fps))
        frame.time_base = VIDEO_TB
        out += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(frame)]  # type: ignore[attr-defined]
    out += [(bytes(p), bool(p.is_keyframe)) for p in enc.encode(None)]  # type: ignore[attr-defined]
    if not out or not out[0][1]:
        raise RuntimeError("slate encoder did not start with a keyframe")
    return out


@dataclass
class Slate:
    """Pre-encoded slate packets, looped by ``video_packet(i, pts)``."""

    width: int
    height: int
    fps: float
    packets: list[tuple[bytes, bool]]

    @classmethod
    def create(
        cls, width: int, height: int, fps: float, lines: tuple[str, ...] = DEFAULT_LINES
    ) -> Slate:
        image = render_slate(width, height, lines)
        return cls(width, height, float(fps), encode_gop(image, int(round(fps))))

    def video_packet(self, index: int, pts: int) -> av.Packet:
        """The ``index``-th packet of an off-air stretch (index 0 is an IDR), at ``pts``
        (1/90000 on the hearing clock)."""
        data, key = self.packets[index % len(self.packets)]
        p = av.Packet(data)
        p.pts = pts
        p.dts = pts
        p.time_base = VIDEO_TB
        p.is_keyframe = key
        return p

    @staticmethod
    def silence_like(frame: av.AudioFrame) -> av.AudioFrame:
        """Silence with the same format, layout, length and timestamp as ``frame``."""
        s = av.AudioFrame(format=frame.format.name, layout=frame.layout.name, samples=frame.samples)
        for plane in s.planes:
            plane.update(bytes(plane.buffer_size))
        s.sample_rate = frame.sample_rate
        s.pts = frame.pts
        s.time_base = frame.time_base
        return s
