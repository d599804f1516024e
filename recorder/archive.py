"""The hearing's archive: a fragmented MP4 written while the hearing runs.

The picture is muxed as the media room encoded it (stream copy, no re-encode); the full
audio mix is encoded to AAC here. The file is fragmented (``empty_moov``, a fragment at
every keyframe and at least every ``fragment_seconds``) and flushed after every packet
write, so a SIGKILL loses at most the fragment in progress and what is on disk plays.

``ArchiveWriter`` is a plain synchronous class: it must not be called from the event loop.
Run it behind :class:`recorder.delay.Pump` (a bounded queue and one thread), which is what
``recorder.delay.Pump.for_archive`` does.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections import deque
from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from courtroom.ledger import file_digest

log = logging.getLogger(__name__)

VIDEO_TB = Fraction(1, 90000)
AUDIO_RATE = 48000
AUDIO_TB = Fraction(1, AUDIO_RATE)
AAC_FRAME = 1024
_START_KEY = "comment"
_START_RE = re.compile(r"hearing_start=([0-9.]+)")


@dataclass(frozen=True)
class RecordFile:
    """A finished record file. ``archive time + start_hearing_time = hearing time``."""

    path: Path
    sha256: str
    size: int
    duration: float
    start_hearing_time: float


def next_part_path(directory: str | os.PathLike[str], taken: Collection[str] = ()) -> Path:
    """``archive.mp4`` for a new hearing, ``archive-part2.mp4``... after a crash. ``taken``:
    names already used elsewhere (a part another pod wrote on its own disk), so a part's
    name, and with it its key in the court's bucket, is never used twice."""
    d = Path(directory)
    first = d / "archive.mp4"
    if not first.exists() and first.name not in taken:
        return first
    n = 2
    while (d / f"archive-part{n}.mp4").exists() or f"archive-part{n}.mp4" in taken:
        n += 1
    return d / f"archive-part{n}.mp4"


def read_start_hearing_time(path: str | os.PathLike[str]) -> float | None:
    """The hearing time of archive time 0, as stored in the file (works on a crashed part)."""
    try:
        with av.open(str(path)) as c:
            m = _START_RE.search(c.metadata.get(_START_KEY, ""))
    except (av.error.FFmpegError, OSError):
        return None
    return float(m.group(1)) if m else None


def to_ticks(pts: int, time_base: Fraction | None, tb: Fraction) -> int:
    """``pts`` (in ``time_base``) in units of ``tb``."""
    if time_base is None or time_base == tb:
        return int(pts)
    return int(round(pts * time_base / tb))


def has_parameter_sets(annexb: bytes) -> bool:
    """True when an Annex-B access unit carries an SPS (NAL type 7)."""
    i = 0
    while True:
        j = annexb.find(b"\x00\x00\x01", i)
        if j < 0 or j + 3 >= len(annexb):
            return False
        if annexb[j + 3] & 0x1F == 7:
            return True
        i = j + 3


# -- audio ---------------------------------------------------------------------------


def _mono_float(frame: av.AudioFrame) -> np.ndarray:
    a = frame.to_ndarray()
    fmt = frame.format.name
    if frame.format.is_planar:
        a = a.astype(np.float32)
        if a.shape[0] > 1:
            a = a.mean(axis=0, keepdims=True)
        a = a[0]
    else:
        a = a.reshape(-1, len(frame.layout.channels)).astype(np.float32).mean(axis=1)
    if fmt.startswith("s16"):
        a = a / 32768.0
    elif fmt.startswith("s32"):
        a = a / 2147483648.0
    elif fmt.startswith("u8"):
        a = (a - 128.0) / 128.0
    return a.astype(np.float32, copy=False)


class AudioChunker:
    """Mono 48 kHz frames of any size in, fltp frames of exactly ``frame_size`` out.

    Keeps the hearing clock: output pts are absolute sample numbers. Jitter under 10 ms is
    absorbed, a gap is filled with silence (up to ``max_gap`` seconds, beyond that the
    clock jumps), an overlap is trimmed. Samples before ``origin`` are dropped.
    """

    def __init__(self, frame_size: int = AAC_FRAME, max_gap: float = 30.0) -> None:
        self.frame_size = frame_size
        self.max_gap = int(max_gap * AUDIO_RATE)
        self.origin: int | None = None
        self._buf = np.zeros(0, np.float32)
        self._buf_start: int | None = None  # sample number of _buf[0]
        self._resampler: av.AudioResampler | None = None
        self.gaps_filled = 0
        self.samples_trimmed = 0

    def push(self, frame: av.AudioFrame) -> list[av.AudioFrame]:
        if frame.sample_rate != AUDIO_RATE:
            if self._resampler is None:
                self._resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
            out: list[av.AudioFrame] = []
            for f in self._resampler.resample(frame):
                out += self.push(f)
            return out
        samples = _mono_float(frame)
        if frame.pts is None:
            pts = self._expected() if self._buf_start is not None else 0
        else:
            pts = to_ticks(frame.pts, frame.time_base, AUDIO_TB)
        return self._push(samples, pts)

    def _expected(self) -> int:
        assert self._buf_start is not None
        return self._buf_start + len(self._buf)

    def _push(self, samples: np.ndarray, pts: int) -> list[av.AudioFrame]:
        out: list[av.AudioFrame] = []
        if self.origin is not None and pts < self.origin:
            cut = self.origin - pts
            samples = samples[cut:]
            pts = self.origin
            if samples.size == 0:
                return out
        if self._buf_start is None:
            self._buf_start = pts
        else:
            diff = pts - self._expected()
            if abs(diff) <= AUDIO_RATE // 100:
                pass  # jitter: treat as continuous
            elif diff > 0 and diff <= self.max_gap:
                self.gaps_filled += 1
                self._buf = np.concatenate([self._buf, np.zeros(diff, np.float32)])
            elif diff > 0:
                out += self.flush()
                self._buf_start = pts
            else:
                self.samples_trimmed += -diff
                samples = samples[-diff:]
                if samples.size == 0:
                    return out
        self._buf = np.concatenate([self._buf, samples]) if self._buf.size else samples
        n = self.frame_size
        while len(self._buf) >= n:
            out.append(self._frame(self._buf[:n], self._buf_start))
            self._buf = self._buf[n:]
            self._buf_start += n
        return out

    def flush(self) -> list[av.AudioFrame]:
        """The partial last frame, padded with silence."""
        if self._buf_start is None or self._buf.size == 0:
            return []
        pad = np.zeros(self.frame_size, np.float32)
        pad[: self._buf.size] = self._buf
        f = self._frame(pad, self._buf_start)
        self._buf_start += self.frame_size
        self._buf = np.zeros(0, np.float32)
        return [f]

    @staticmethod
    def _frame(samples: np.ndarray, pts: int) -> av.AudioFrame:
        f = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, np.float32).reshape(1, -1), format="fltp", layout="mono"
        )
        f.sample_rate = AUDIO_RATE
        f.pts = pts
        f.time_base = AUDIO_TB
        return f


def configure_aac(ctx: av.CodecContext, bitrate: int) -> None:
    ctx.sample_rate = AUDIO_RATE  # type: ignore[attr-defined]
    ctx.layout = "mono"  # type: ignore[attr-defined]
    ctx.format = "fltp"  # type: ignore[attr-defined]
    ctx.bit_rate = bitrate
    ctx.time_base = AUDIO_TB


class AacEncoder:
    """The record's audio: mono 48 kHz in, AAC-LC packets out, pts on the hearing clock
    (1/48000). The native encoder's first packet carries 1024 samples of priming, so its
    pts is 1024 before the first input sample."""

    def __init__(self, bitrate: int = 64000, ctx: av.CodecContext | None = None) -> None:
        if ctx is None:
            ctx = av.CodecContext.create("aac", "w")
        configure_aac(ctx, bitrate)
        ctx.open()
        self.ctx = ctx
        self.chunker = AudioChunker(frame_size=ctx.frame_size or AAC_FRAME)  # type: ignore[attr-defined]

    @property
    def extradata(self) -> bytes:
        return bytes(self.ctx.extradata or b"")

    def encode(self, frame: av.AudioFrame) -> list[av.Packet]:
        out: list[av.Packet] = []
        for f in self.chunker.push(frame):
            out += self.ctx.encode(f)  # type: ignore[attr-defined]
        return out

    def flush(self) -> list[av.Packet]:
        out: list[av.Packet] = []
        for f in self.chunker.flush():
            out += self.ctx.encode(f)  # type: ignore[attr-defined]
        out += self.ctx.encode(None)  # type: ignore[attr-defined]
        return out


def adts_header(extradata: bytes, payload_size: int) -> bytes:
    """A 7-byte ADTS header for one raw AAC frame (MPEG-TS wants ADTS without extradata)."""
    object_type = extradata[0] >> 3
    freq_index = ((extradata[0] & 0x07) << 1) | (extradata[1] >> 7)
    channels = (extradata[1] >> 3) & 0x0F
    length = payload_size + 7
    profile = object_type - 1
    return bytes(
        [
            0xFF,
            0xF1,
            (profile << 6) | (freq_index << 2) | (channels >> 2),
            ((channels & 3) << 6) | (length >> 11),
            (length >> 3) & 0xFF,
            ((length & 7) << 5) | 0x1F,
            0xFC,
        ]
    )


# -- the archive -----------------------------------------------------------------------


class ArchiveWriter:
    """Fragmented MP4 of the hearing: H.264 stream copy + AAC of the full mix.

    Synchronous; one thread at a time. Video before the first keyframe is dropped; the
    archive starts (archive time 0) at the first keyframe's hearing time, and audio before
    it is trimmed to the sample.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        extradata: bytes,
        *,
        audio_bitrate: int = 64000,
        fragment_seconds: float = 1.0,
        metadata: dict[str, str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.width = width
        self.height = height
        self.fps = float(fps)
        self.extradata = bytes(extradata)
        self._frame_ticks = int(round(90000 / self.fps))
        movflags = "frag_keyframe+empty_moov+default_base_moof"
        options = {"movflags": movflags, "flush_packets": "1"}
        if fragment_seconds:
            options["frag_duration"] = str(int(fragment_seconds * 1_000_000))
        self._container = av.open(str(self.path), "w", format="mp4", options=options)
        self._metadata = dict(metadata or {})
        self._vstream = self._container.add_mux_stream(
            "h264", rate=Fraction(self.fps).limit_denominator(1001), width=width, height=height
        )
        self._vstream.time_base = VIDEO_TB
        self._astream = self._container.add_stream("aac", rate=AUDIO_RATE)
        self._aac = AacEncoder(audio_bitrate, ctx=self._astream.codec_context)
        self._astream.time_base = AUDIO_TB
        self._pending_audio: deque[av.AudioFrame] = deque(maxlen=500)  # 10 s before video
        self._early_audio: list[av.Packet] = []
        self.start_hearing_time: float | None = None
        self._start_v: int | None = None  # hearing ticks (1/90000) of archive time 0
        self._start_a: int | None = None  # hearing samples of archive time 0
        self._last_v: int | None = None
        self._last_a: int | None = None
        self._end = 0.0  # archive seconds
        self.video_packets = 0
        self.audio_packets = 0
        self.dropped_video = 0
        self._closed: RecordFile | None = None

    # The sink interface shared with HlsWriter (see recorder.delay.Pump); the archive keeps
    # everything, so ``on_air`` is accepted and ignored.
    def write_video(self, packet: av.Packet, on_air: bool = True) -> None:
        if self._closed is not None:
            raise ValueError("archive is closed")
        if packet.pts is None:
            self.dropped_video += 1
            return
        ticks = to_ticks(packet.pts, packet.time_base, VIDEO_TB)
        data = bytes(packet)
        if self._start_v is None:
            if not packet.is_keyframe:
                self.dropped_video += 1
                return
            self._begin(ticks)
            if not has_parameter_sets(data):
                data = self.extradata + data
        assert self._start_v is not None
        rel = ticks - self._start_v
        if self._last_v is not None and rel <= self._last_v:
            self.dropped_video += 1  # out of order or duplicate: mp4 needs rising dts
            return
        out = av.Packet(data)
        out.pts = rel
        out.dts = rel
        out.time_base = VIDEO_TB
        out.is_keyframe = bool(packet.is_keyframe)
        out.duration = self._frame_ticks
        out.stream = self._vstream
        self._container.mux(out)
        self._last_v = rel
        self.video_packets += 1
        self._end = max(self._end, (rel + self._frame_ticks) / 90000)

    def write_audio(self, frame: av.AudioFrame, on_air: bool = True) -> None:
        if self._closed is not None:
            raise ValueError("archive is closed")
        if self._start_v is None:
            self._pending_audio.append(frame)
            return
        self._mux_audio(self._aac.encode(frame))

    def _begin(self, ticks: int) -> None:
        self._start_v = ticks
        self._start_a = int(round(ticks * AUDIO_RATE / 90000))
        self.start_hearing_time = ticks / 90000
        self._aac.chunker.origin = self._start_a
        meta = dict(self._metadata)
        meta[_START_KEY] = f"hearing_start={self.start_hearing_time:.6f}"
        self._container.metadata.update(meta)
        pending = list(self._pending_audio)
        self._pending_audio.clear()
        # The header is written with the first muxed packet; audio packets encoded now wait
        # for the first video packet so that the muxer sees the keyframe first.
        self._early_audio = [p for f in pending for p in self._aac.encode(f)]

    def _mux_audio(self, packets: list[av.Packet]) -> None:
        if self._early_audio:
            packets = self._early_audio + packets
            self._early_audio = []
        assert self._start_a is not None
        for p in packets:
            if p.pts is None:
                continue
            rel = int(p.pts) - self._start_a
            # rel < 0 is the encoder's priming packet: muxed, it would make the muxer shift
            # both tracks by 1024 samples and break archive time + start = hearing time.
            if rel < 0 or (self._last_a is not None and rel <= self._last_a):
                continue
            p.pts = rel
            p.dts = rel
            p.time_base = AUDIO_TB
            p.stream = self._astream
            self._container.mux(p)
            self._last_a = rel
            self.audio_packets += 1
            self._end = max(self._end, (rel + AAC_FRAME) / AUDIO_RATE)

    @property
    def written_until(self) -> float | None:
        """Hearing time up to which media has been written (None before the first packet)."""
        if self.start_hearing_time is None:
            return None
        return self.start_hearing_time + self._end

    def close(self) -> RecordFile:
        """Flush the encoder, write the trailer, hash the file. Idempotent."""
        if self._closed is not None:
            return self._closed
        try:
            if self._start_v is not None:
                self._mux_audio(self._aac.flush())
        finally:
            self._container.close()
        start = self.start_hearing_time if self.start_hearing_time is not None else 0.0
        # A part that never received a keyframe was never written: it is an empty record.
        written = self.path.exists()
        self._closed = RecordFile(
            path=self.path,
            sha256=file_digest(self.path)[0] if written else hashlib.sha256(b"").hexdigest(),
            size=self.path.stat().st_size if written else 0,
            duration=round(self._end, 6),
            start_hearing_time=start,
        )
        return self._closed
