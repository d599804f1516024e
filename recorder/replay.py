"""The public replay, built from the archive when a public hearing closes.

Stream copy only: the archive's packets are copied, the off-air stretches left out, and
the timestamps closed up so the replay runs continuously from 0. A kept stretch starts at
the first keyframe at or after its on-air start (the picture cannot start on a P-frame)
and ends before its off-air start, so no cut frame is ever shown; audio follows the
picture's stretch. Output: ``replay.mp4`` (faststart) and a VOD playlist ``replay.m3u8``
with MPEG-TS segments, both written in the same single pass over the archive.

The returned :class:`TimeMap` maps hearing time to replay time for captions and chapters.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import av

from .hls import HlsSegment, media_playlist, write_atomic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Piece:
    """Hearing time [hearing_start, hearing_end) plays at output time out_start onward."""

    hearing_start: float
    hearing_end: float
    out_start: float

    @property
    def out_end(self) -> float:
        return self.out_start + (self.hearing_end - self.hearing_start)


@dataclass(frozen=True)
class TimeMap:
    """Hearing time <-> an output timeline (the replay's, or an archive's)."""

    pieces: tuple[Piece, ...]

    @classmethod
    def for_archive(cls, start_hearing_time: float, duration: float) -> TimeMap:
        return cls((Piece(start_hearing_time, start_hearing_time + duration, 0.0),))

    @property
    def duration(self) -> float:
        return self.pieces[-1].out_end if self.pieces else 0.0

    def to_output(self, t: float) -> float | None:
        """Output time of hearing time ``t``, or None if ``t`` is not in the output."""
        for p in self.pieces:
            if p.hearing_start <= t < p.hearing_end:
                return p.out_start + (t - p.hearing_start)
        return None

    def to_output_next(self, t: float) -> float | None:
        """Like ``to_output``, but a time inside a cut maps to where the output resumes."""
        for p in self.pieces:
            if t < p.hearing_start:
                return p.out_start
            if t < p.hearing_end:
                return p.out_start + (t - p.hearing_start)
        return None

    def to_hearing(self, t: float) -> float | None:
        for p in self.pieces:
            if p.out_start <= t < p.out_end:
                return p.hearing_start + (t - p.out_start)
        return None

    def map_interval(self, start: float, end: float) -> tuple[float, float] | None:
        """The output interval of hearing interval [start, end), clipped to what is kept.

        An interval spanning a cut keeps its longest kept part (a cue is not shown twice
        or stretched over the cut)."""
        best: tuple[float, float] | None = None
        for p in self.pieces:
            s, e = max(start, p.hearing_start), min(end, p.hearing_end)
            if e > s and (best is None or e - s > best[1] - best[0]):
                best = (p.out_start + s - p.hearing_start, p.out_start + e - p.hearing_start)
        return best

    def to_json(self) -> list[dict[str, float]]:
        return [
            {
                "hearing_start": p.hearing_start,
                "hearing_end": p.hearing_end,
                "replay_start": p.out_start,
            }
            for p in self.pieces
        ]


class ArchivePart(Protocol):
    @property
    def path(self) -> Path: ...
    @property
    def start_hearing_time(self) -> float: ...


@dataclass
class Replay:
    mp4: Path
    playlist: Path
    segments: list[Path]
    duration: float
    time_map: TimeMap
    stats: dict[str, int] = field(default_factory=dict)


def _merge(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted((float(s), float(e)) for s, e in intervals if e > s):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


def _piece_of(pieces: list[Piece], h: float, dur: float) -> int | None:
    """The piece that holds all of [h, h + dur), if any (pieces are sorted, disjoint)."""
    lo, hi = 0, len(pieces)
    while lo < hi:  # last piece starting at or before h
        mid = (lo + hi) // 2
        if pieces[mid].hearing_start - 1e-6 <= h:
            lo = mid + 1
        else:
            hi = mid
    i = lo - 1
    if i >= 0 and h + dur <= pieces[i].hearing_end + 1e-6:
        return i
    return None


class _Outputs:
    """replay.mp4 and the VOD TS segments, fed the same packets."""

    def __init__(
        self,
        out_dir: Path,
        vin: av.video.stream.VideoStream,
        ain: av.audio.stream.AudioStream | None,
        segment_seconds: float,
    ) -> None:
        self.dir = out_dir
        self.vin, self.ain = vin, ain
        self.mp4_path = out_dir / "replay.mp4"
        self.mp4 = av.open(str(self.mp4_path), "w", format="mp4", options={"movflags": "faststart"})
        self.mv = self.mp4.add_stream_from_template(vin)
        self.ma = self.mp4.add_stream_from_template(ain) if ain is not None else None
        self.segment_seconds = segment_seconds
        self.seg: av.container.OutputContainer | None = None
        self.sv: av.stream.Stream | None = None
        self.sa: av.stream.Stream | None = None
        self.seg_start = 0.0
        self.seg_paths: list[Path] = []
        self.seg_infos: list[HlsSegment] = []
        self.last_v = 0.0

    def _open_segment(self, t: float) -> None:
        self._close_segment(t)
        name = f"replay{len(self.seg_paths):05d}.ts"
        path = self.dir / name
        self.seg = av.open(str(path), "w", format="mpegts")
        self.sv = self.seg.add_stream_from_template(self.vin)
        self.sa = self.seg.add_stream_from_template(self.ain) if self.ain is not None else None
        self.seg_start = t
        self.seg_paths.append(path)
        self.seg_infos.append(HlsSegment(name, len(self.seg_infos), t, t, True))

    def _close_segment(self, t: float) -> None:
        if self.seg is not None:
            self.seg.close()
            self.seg_infos[-1].end = t
            self.seg = None

    def video(self, pkt: av.Packet, out_ticks: int, key: bool) -> None:
        t = out_ticks * float(pkt.time_base or 0)
        if key and (self.seg is None or t - self.seg_start >= self.segment_seconds - 0.01):
            self._open_segment(t)
        self._mux(pkt, out_ticks, self.mv, self.sv)
        self.last_v = t

    def audio(self, pkt: av.Packet, out_ticks: int) -> None:
        if self.ma is not None:
            self._mux(pkt, out_ticks, self.ma, self.sa)

    def _mux(
        self,
        pkt: av.Packet,
        ticks: int,
        mp4_stream: av.stream.Stream,
        seg_stream: av.stream.Stream | None,
    ) -> None:
        tb = pkt.time_base
        pkt.pts = ticks
        pkt.dts = ticks
        pkt.stream = mp4_stream
        pkt.time_base = tb
        self.mp4.mux(pkt)
        if self.seg is not None and seg_stream is not None:
            # mux() took its own reference and rescaled the packet to the mp4 stream's base
            copy = av.Packet(bytes(pkt))
            copy.pts = ticks
            copy.dts = ticks
            copy.time_base = tb
            copy.is_keyframe = pkt.is_keyframe
            copy.stream = seg_stream
            self.seg.mux(copy)

    def close(self, end: float) -> None:
        self._close_segment(end)
        self.mp4.close()


def _plan(
    src: av.container.InputContainer,
    start: float,
    wanted: list[tuple[float, float]],
    frame: float,
    min_piece: float,
) -> list[tuple[float, float]]:
    """The kept stretches of one part, in hearing time: from the first keyframe at or after
    each on-air start to the end of the last frame that ends by its off-air start."""
    vin = src.streams.video[0]
    vtb = vin.time_base or Fraction(1, 90000)
    times: list[tuple[float, bool]] = []
    for pkt in src.demux(vin):  # video only: the demuxer skips the audio packets
        if pkt.pts is not None and pkt.size:
            times.append((start + float(pkt.pts * vtb), bool(pkt.is_keyframe)))
    times.sort()
    hs = [h for h, _ in times]
    keys = [h for h, key in times if key]
    spans: list[tuple[float, float]] = []
    for s, e in wanted:
        ki = bisect.bisect_left(keys, s - 1e-6)
        last = bisect.bisect_right(hs, e - frame + 1e-6) - 1
        if ki >= len(keys) or last < 0:
            continue
        k, end = keys[ki], hs[last] + frame
        if end - k >= min_piece:
            spans.append((k, end))
    return spans


def _copy(
    src: av.container.InputContainer,
    start: float,
    pieces: list[Piece],
    frame: float,
    outputs: _Outputs,
    stats: dict[str, int],
) -> None:
    """Copy the packets of one part that fall wholly inside a piece, retimed."""
    vin = src.streams.video[0]
    ain = src.streams.audio[0] if src.streams.audio else None
    vtb = vin.time_base or Fraction(1, 90000)
    atb = (ain.time_base if ain is not None else None) or Fraction(1, 48000)
    src.seek(0)
    last_video = -1.0
    for pkt in src.demux(*([vin] + ([ain] if ain is not None else []))):  # type: ignore[assignment]
        if pkt.pts is None or pkt.size == 0:
            continue
        is_video = pkt.stream.type == "video"
        tb = vtb if is_video else atb
        h = start + float(pkt.pts * tb)
        dur = frame if is_video else float((pkt.duration or 1024) * tb)
        i = _piece_of(pieces, h, dur)
        if i is None:
            continue
        o = pieces[i].out_start + (h - pieces[i].hearing_start)
        ticks = int(round(o / float(tb)))
        if is_video:
            if o <= last_video:
                continue
            last_video = o
            outputs.video(pkt, ticks, bool(pkt.is_keyframe))
            stats["video"] += 1
        else:
            outputs.audio(pkt, ticks)
            stats["audio"] += 1


def build_replay(
    parts: Sequence[ArchivePart],
    on_air: Sequence[tuple[float, float]],
    out_dir: str | os.PathLike[str],
    *,
    segment_seconds: float = 6.0,
    min_piece: float = 0.5,
) -> Replay:
    """Cut the on-air stretches (hearing time) out of the archive parts into a replay.

    ``parts`` are the archive files in order (``RecordFile`` or anything with ``path`` and
    ``start_hearing_time``); ``on_air`` are the hearing-time intervals the public may see.
    Stretches shorter than ``min_piece`` seconds after keyframe alignment are left out.
    Synchronous and CPU-bound: run it in a thread.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    wanted = _merge(on_air)
    pieces: list[Piece] = []
    stats = {"video": 0, "audio": 0}
    outputs: _Outputs | None = None
    out_pos = 0.0  # output seconds where the next piece starts
    # Inputs stay open to the end: the outputs' streams are made from the first part's.
    with contextlib.ExitStack() as inputs:
        for part in parts:
            src = inputs.enter_context(av.open(str(part.path)))
            if not src.streams.video:
                continue
            vin = src.streams.video[0]
            frame = 1.0 / float(vin.average_rate or 15)
            start = float(part.start_hearing_time)
            spans = _plan(src, start, wanted, frame, min_piece)
            if not spans:
                continue
            part_pieces = []
            for k, e in spans:
                part_pieces.append(Piece(k, e, out_pos))
                out_pos += e - k
            if outputs is None:
                ain = src.streams.audio[0] if src.streams.audio else None
                outputs = _Outputs(out, vin, ain, segment_seconds)
            _copy(src, start, part_pieces, frame, outputs, stats)
            pieces += part_pieces
        if outputs is None:
            raise ValueError("nothing to replay: no on-air picture in the archive")
        outputs.close(out_pos)
    infos = [s for s in outputs.seg_infos if s.end > s.start]
    target = max(1, math.ceil(max((s.duration for s in infos), default=1.0) - 0.01))
    playlist = out / "replay.m3u8"
    write_atomic(playlist, media_playlist(infos, target, ended=True, vod=True))
    return Replay(
        outputs.mp4_path, playlist, outputs.seg_paths, out_pos, TimeMap(tuple(pieces)), stats
    )
