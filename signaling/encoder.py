"""Encode the courtroom picture once, for every participant, the recording and the stream.

libx264 through PyAV, set up for RTP first: constrained baseline (every WebRTC browser
decodes it), no B-frames and zerolatency (a packet out for every frame in), SPS/PPS
in-band before each keyframe (an RTP receiver has no global header), a keyframe every
2 seconds of picture time (HLS cuts segments on keyframes) and one thread (the pod runs
several hearings on two cores). Blocking: call it from a worker thread, never from the
event loop.

The 2-second keyframes are placed by timestamp here, not by x264's frame count: x264
restarts its count at every forced keyframe (a participant's picture-loss request) and a
dropped frame stretches it, and either would make HLS segments longer than their target.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Final

import av
from av.video.frame import PictureType

TIME_BASE: Final = Fraction(1, 90000)  # the RTP video clock
_START_CODE: Final = b"\x00\x00\x00\x01"
NAL_IDR: Final = 5
NAL_SPS: Final = 7
NAL_PPS: Final = 8


class PictureEncoder:
    def __init__(
        self,
        width: int,
        height: int,
        fps: int,
        bitrate: int = 1_200_000,
        preset: str = "veryfast",
    ) -> None:
        self.width = width
        self.height = height
        self.fps = fps
        self.gop = 2 * fps  # frames, at the nominal rate
        self.keyframe_interval = 2 * TIME_BASE.denominator  # 2 s in pts ticks
        codec = av.CodecContext.create("libx264", "w")
        assert isinstance(codec, av.VideoCodecContext)
        codec.width = width
        codec.height = height
        codec.pix_fmt = "yuv420p"
        codec.time_base = TIME_BASE
        codec.framerate = Fraction(fps, 1)
        codec.bit_rate = bitrate
        # x264's own keyframe count is only a backstop for a stalled clock (see the module doc).
        codec.gop_size = 10 * self.gop
        codec.max_b_frames = 0
        codec.thread_count = 1
        kbps = bitrate // 1000
        # Not setting AV_CODEC_FLAG_GLOBAL_HEADER keeps SPS/PPS in the stream; repeat-headers
        # says so explicitly. With scenecut off and min-keyint at the GOP, x264 never adds a
        # keyframe of its own between ours. The VBV (1 s of bitrate) caps bursts on a link.
        codec.options = {
            "preset": preset,
            "tune": "zerolatency",
            "profile": "baseline",
            "x264-params": ":".join(
                [
                    f"keyint={10 * self.gop}",
                    f"min-keyint={self.gop}",
                    "scenecut=0",
                    "repeat-headers=1",
                    "bframes=0",
                    "threads=1",
                    f"vbv-maxrate={kbps}",
                    f"vbv-bufsize={kbps}",
                ]
            ),
        }
        self._codec = codec
        self._last_pts: int | None = None
        self._next_keyframe: int | None = None  # pts at or after which the next one is due
        self._extradata = b""
        self.frames = 0
        self.keyframes = 0
        self.last_encode_ms = 0.0

    def encode(
        self, frame: av.VideoFrame, pts: int, force_keyframe: bool = False
    ) -> list[av.Packet]:
        """Encode one picture; pts is in 1/90000 s. Sets pts, time_base and pict_type on it."""
        if (frame.width, frame.height) != (
            self.width,
            self.height,
        ) or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        # x264 refuses a timestamp that does not move forward; nudge rather than fail.
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = TIME_BASE
        # Keyframes on a 2-second grid from the first frame, so a forced one (or a dropped
        # frame) never shifts the HLS segment boundaries.
        if self._next_keyframe is None:
            self._next_keyframe = pts
        if pts >= self._next_keyframe:
            force_keyframe = True
            while self._next_keyframe <= pts:
                self._next_keyframe += self.keyframe_interval
        # Always set: a decoded frame still carries its own type, and an I here forces an IDR.
        frame.pict_type = PictureType.I if force_keyframe else PictureType.NONE

        start = time.perf_counter()
        packets = self._codec.encode(frame)
        self.last_encode_ms = (time.perf_counter() - start) * 1000
        self.frames += 1
        for packet in packets:
            packet.time_base = TIME_BASE
            if packet.is_keyframe:
                self.keyframes += 1
                self._extradata = parameter_sets(bytes(packet))
        return list(packets)

    def extradata(self) -> bytes:
        """Annex-B SPS and PPS from the last keyframe (empty before the first one)."""
        return self._extradata


def nal_units(data: bytes) -> list[bytes]:
    """Split an annex-B byte stream into NAL units (start codes removed)."""
    units: list[bytes] = []
    starts: list[tuple[int, int]] = []  # (start code position, payload position)
    i = data.find(b"\x00\x00\x01")
    while i >= 0:
        begin = i - 1 if i > 0 and data[i - 1] == 0 else i
        starts.append((begin, i + 3))
        i = data.find(b"\x00\x00\x01", i + 3)
    for n, (_, payload) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(data)
        units.append(data[payload:end])
    return units


def nal_type(unit: bytes) -> int:
    return unit[0] & 0x1F if unit else 0


def parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS units of an access unit, each behind a 4-byte start code."""
    return b"".join(
        _START_CODE + unit for unit in nal_units(data) if nal_type(unit) in (NAL_SPS, NAL_PPS)
    )


if __name__ == "__main__":
    # Micro-benchmark: ms per frame per preset and size, encoding composed courtroom
    # pictures of five moving synthetic cameras (what the media room really encodes).
    import numpy as np

    from .compositor import Compositor, Scene
    from .layout import Seat

    seats = [
        Seat("j", "judge", "王"),
        Seat("c", "clerk", "李"),
        Seat("p", "plaintiff", "张"),
        Seat("d", "defendant", "赵"),
        Seat("a", "agent", "钱", side="plaintiff"),
    ]
    rng = np.random.default_rng(0)
    row, col = np.mgrid[0:360, 0:640]

    def camera(i: int, k: int) -> av.VideoFrame:
        yuv = np.full((540, 640), 128 + 20 * k, np.uint8)
        yuv[:360] = (col + 4 * i + 50 * k + row // 2) % 200 + 30 + rng.integers(0, 8, (360, 640))
        return av.VideoFrame.from_ndarray(yuv, format="yuv420p")

    cameras = [{s.participant_id: camera(i, k) for k, s in enumerate(seats)} for i in range(60)]
    for width, height in ((640, 360), (1280, 720)):
        compositor = Compositor(width, height)
        pictures = [compositor.compose(Scene(seats, cams, active_speaker="p")) for cams in cameras]
        for preset in ("ultrafast", "veryfast", "medium"):
            encoder = PictureEncoder(width, height, 15, preset=preset)
            times, size = [], 0
            for i, frame in enumerate(pictures):
                size += sum(p.size for p in encoder.encode(frame, i * 6000))
                times.append(encoder.last_encode_ms)
            mean = sum(times[1:]) / (len(times) - 1)
            kbps = size * 8 / (len(pictures) / 15) / 1000
            print(f"{width}x{height} {preset:9s} {mean:5.2f} ms/frame, {kbps:.0f} kbit/s")
