"""Synthetic media for the recorder tests: packets and frames shaped like the media room's.

Video: libx264 constrained baseline, Annex-B with SPS/PPS repeated before every IDR,
GOP = 2 s x fps, pts == dts on the hearing clock in 1/90000. A bright bar moves across a
dark picture; a "flash" makes whole frames white. Audio: s16 mono 48 kHz frames of 960
samples (20 ms), a quiet 440 Hz tone with an optional loud 1 kHz "beep".
"""

from __future__ import annotations

import functools
from fractions import Fraction

import av
import numpy as np

VIDEO_TB = Fraction(1, 90000)
AUDIO_TB = Fraction(1, 48000)
AUDIO_RATE = 48000
AUDIO_FRAME = 960


def x264_options(fps: int) -> dict[str, str]:
    gop = 2 * fps
    return {
        "profile": "baseline",
        "tune": "zerolatency",
        "preset": "ultrafast",
        "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:repeat-headers=1",
    }


def parameter_sets(annexb: bytes) -> bytes:
    """The SPS and PPS NAL units (with start codes) found in an Annex-B buffer."""
    out = bytearray()
    i = 0
    n = len(annexb)
    starts: list[int] = []
    while True:
        j = annexb.find(b"\x00\x00\x01", i)
        if j < 0:
            break
        starts.append(j + 3)
        i = j + 3
    for k, s in enumerate(starts):
        end = starts[k + 1] - 3 if k + 1 < len(starts) else n
        nal = annexb[s:end].rstrip(b"\x00")
        if nal and nal[0] & 0x1F in (7, 8):
            out += b"\x00\x00\x00\x01" + nal
    return bytes(out)


@functools.lru_cache(maxsize=8)
def _video_bytes(
    seconds: float,
    fps: int,
    width: int,
    height: int,
    start: float,
    flash_at: float | None,
    bitrate: int,
) -> tuple[tuple[tuple[bytes, int, bool], ...], bytes]:
    enc = av.CodecContext.create("libx264", "w")
    enc.width = width
    enc.height = height
    enc.pix_fmt = "yuv420p"
    enc.time_base = VIDEO_TB
    enc.framerate = Fraction(fps, 1)
    opts = x264_options(fps)
    if bitrate:
        opts["x264-params"] += f":bitrate={bitrate // 1000}:vbv-maxrate={bitrate // 1000}"
        opts["x264-params"] += f":vbv-bufsize={bitrate // 1000}"
    enc.options = opts
    out: list[tuple[bytes, int, bool]] = []
    nframes = int(round(seconds * fps))
    rng = np.random.default_rng(1)
    noise = rng.integers(0, 40, size=(height, width), dtype=np.uint8) if bitrate else None
    for i in range(nframes):
        t = start + i / fps
        y = np.full((height, width), 30, np.uint8)
        if noise is not None:
            y = y + np.roll(noise, i * 3, axis=1)
        x = (i * 8) % width
        y[:, x : x + 16] = 200
        if flash_at is not None and flash_at <= t < flash_at + 0.2:
            y[:, :] = 250
        uv = np.full((height // 2, width), 128, np.uint8)
        frame = av.VideoFrame.from_ndarray(np.vstack([y, uv]), format="yuv420p")
        frame.pts = int(round(t * 90000))
        frame.time_base = VIDEO_TB
        for p in enc.encode(frame):
            out.append((bytes(p), int(p.pts), bool(p.is_keyframe)))
    for p in enc.encode(None):
        out.append((bytes(p), int(p.pts), bool(p.is_keyframe)))
    return tuple(out), parameter_sets(out[0][0])


def video_packets(
    seconds: float,
    *,
    fps: int = 15,
    width: int = 320,
    height: int = 240,
    start: float = 0.0,
    flash_at: float | None = None,
    bitrate: int = 0,
) -> tuple[list[av.Packet], bytes]:
    """Fresh packets (hearing clock, 1/90000) and the Annex-B SPS+PPS extradata."""
    raw, extradata = _video_bytes(seconds, fps, width, height, start, flash_at, bitrate)
    packets = []
    for data, pts, key in raw:
        p = av.Packet(data)
        p.pts = pts
        p.dts = pts
        p.time_base = VIDEO_TB
        p.is_keyframe = key
        packets.append(p)
    return packets, extradata


def audio_frames(
    seconds: float, *, start: float = 0.0, beep_at: float | None = None, beep_seconds: float = 0.2
) -> list[av.AudioFrame]:
    """s16 mono 48 kHz frames of 960 samples on the hearing clock (1/48000)."""
    frames = []
    first = int(round(start * AUDIO_RATE))
    total = int(round(seconds * AUDIO_RATE / AUDIO_FRAME))
    for k in range(total):
        n0 = first + k * AUDIO_FRAME
        t = (n0 + np.arange(AUDIO_FRAME)) / AUDIO_RATE
        x = 0.02 * np.sin(2 * np.pi * 440 * t)
        if beep_at is not None:
            on = (t >= beep_at) & (t < beep_at + beep_seconds)
            x = np.where(on, 0.8 * np.sin(2 * np.pi * 1000 * t), x)
        s16 = (x * 32767).astype(np.int16).reshape(1, -1)
        f = av.AudioFrame.from_ndarray(s16, format="s16", layout="mono")
        f.sample_rate = AUDIO_RATE
        f.pts = n0
        f.time_base = AUDIO_TB
        frames.append(f)
    return frames


def interleave(
    packets: list[av.Packet], frames: list[av.AudioFrame]
) -> list[tuple[str, av.Packet | av.AudioFrame]]:
    """Video and audio merged in hearing-time order, as the media room would hand them over."""
    items: list[tuple[float, int, str, av.Packet | av.AudioFrame]] = []
    for p in packets:
        items.append((float(p.pts * VIDEO_TB), 0, "video", p))
    for f in frames:
        items.append((float(f.pts * AUDIO_TB), 1, "audio", f))
    items.sort(key=lambda x: (x[0], x[1]))
    return [(kind, obj) for _, _, kind, obj in items]


def feed(writer, items: list[tuple[str, av.Packet | av.AudioFrame]]) -> None:  # noqa: ANN001
    for kind, obj in items:
        if kind == "video":
            writer.write_video(obj)
        else:
            writer.write_audio(obj)


def first_bright_frame_time(path: str, threshold: float = 200.0) -> float | None:
    with av.open(path) as c:
        for f in c.decode(video=0):
            y = f.to_ndarray(format="gray")
            if y.mean() > threshold:
                return float(f.time)
    return None


def first_loud_sample_time(path: str, threshold: float = 0.4) -> float | None:
    with av.open(path) as c:
        for f in c.decode(audio=0):
            a = f.to_ndarray()
            a = a.reshape(-1) if a.ndim == 1 else a[0]
            idx = np.nonzero(np.abs(a) > threshold)[0]
            if idx.size:
                return float(f.time) + float(idx[0]) / f.sample_rate
    return None
