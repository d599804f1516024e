"""The public livestream: MPEG-TS segments and a rolling ``live.m3u8``.

Each segment is its own ``mpegts`` container, cut at a video keyframe once it holds
``segment_seconds`` (the room's GOP is 2 s x fps, so segments are 2 s), and also at every
switch between the hearing and the slate (both start on an IDR; the playlist marks the
switch with EXT-X-DISCONTINUITY since the slate's SPS is its own). H.264 is stream-copied
(Annex-B, SPS/PPS in band); audio is encoded to AAC here and written with ADTS headers.
Timestamps stay on the hearing clock, continuous across segments and across the slate.

The playlist is rewritten atomically (temp file + rename) after every segment; segments
older than the window plus ``keep_extra`` are deleted. Every finished segment is also
appended to ``segments.jsonl`` (name, hearing-time range, on-air flag) -- the replay is
built from the archive, so this index is the record of what the public was shown.

``HlsWriter`` is synchronous: feed it from :class:`recorder.delay.Pump`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av

from .archive import AUDIO_TB, VIDEO_TB, AacEncoder, adts_header, to_ticks

log = logging.getLogger(__name__)


@dataclass
class HlsSegment:
    name: str
    sequence: int
    start: float  # hearing time of the first video frame
    end: float  # hearing time where the next segment starts
    on_air: bool  # True if every picture in it is the hearing (no slate)
    discontinuity: bool = False  # the picture source changed at its start
    size: int = 0

    @property
    def duration(self) -> float:
        return self.end - self.start


# Called after each rewrite of the playlist: (live window, target, media sequence,
# discontinuity sequence, ended).
PlaylistHook = Callable[[Sequence[HlsSegment], int, int, int, bool], None]


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
    os.replace(tmp, path)


def media_playlist(
    segments: list[HlsSegment],
    target: int,
    *,
    media_sequence: int = 0,
    discontinuity_sequence: int = 0,
    ended: bool = False,
    vod: bool = False,
) -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}"]
    if vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}")
    if discontinuity_sequence:
        lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    for seg in segments:
        if seg.discontinuity:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{seg.duration:.3f},")
        lines.append(seg.name)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


class _TsSegment:
    """One open .ts file: a video mux stream and an AAC (ADTS) mux stream."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self.path = path
        self.container = av.open(str(path), "w", format="mpegts")
        self.v = self.container.add_mux_stream(
            "h264", rate=Fraction(fps).limit_denominator(1001), width=width, height=height
        )
        self.v.time_base = VIDEO_TB
        self.a = self.container.add_mux_stream("aac", rate=48000)
        self.a.time_base = AUDIO_TB

    def close(self) -> int:
        self.container.close()
        return self.path.stat().st_size


class HlsWriter:
    def __init__(
        self,
        directory: str | os.PathLike[str],
        width: int,
        height: int,
        fps: float,
        extradata: bytes,
        segment_seconds: float = 2.0,
        window: int = 6,
        *,
        keep_extra: int = 4,
        audio_bitrate: int = 64000,
        playlist_name: str = "live.m3u8",
        prefix: str = "seg",
        on_playlist: PlaylistHook | None = None,
    ) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.width, self.height, self.fps = width, height, float(fps)
        self.extradata = bytes(extradata)
        self.segment_seconds = float(segment_seconds)
        self.window = window
        self.keep_extra = keep_extra
        self.playlist = self.dir / playlist_name
        self.index_path = self.dir / "segments.jsonl"
        self.prefix = prefix
        self.on_playlist = on_playlist  # e.g. the subtitles rendition (recorder/hls_subtitles.py)
        self.target = max(1, math.ceil(self.segment_seconds))
        self._frame_ticks = int(round(90000 / self.fps))
        self._aac = AacEncoder(audio_bitrate)
        self.segments: list[HlsSegment] = []  # every finished segment, deleted ones too
        self._seq = 0
        self._cur: _TsSegment | None = None
        self._cur_info: HlsSegment | None = None
        self._cur_start_ticks = 0
        self._last_v: int | None = None
        self._last_a: int | None = None
        self._source_on_air: bool | None = None
        self._deleted = 0  # segments removed from the playlist's head
        self._unlinked = 0  # segment files deleted from disk
        self._disc_seq = 0
        self._finished = False
        self._resumed = self._resume()

    def _resume(self) -> bool:
        """After a crash the hearing goes on in the same folder: keep numbering where the
        index stopped (live clients must never see a media sequence go back) and mark the
        break as a discontinuity."""
        if not self.index_path.exists():
            return False
        last = -1
        for line in self.index_path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by the crash
            last = max(last, int(entry.get("sequence", -1)))
            self._disc_seq += bool(entry.get("discontinuity"))
        self._seq = last + 1
        return last >= 0

    # -- input -----------------------------------------------------------------------------

    def write_video(self, packet: av.Packet, on_air: bool = True) -> None:
        if self._finished or packet.pts is None:
            return
        ticks = to_ticks(packet.pts, packet.time_base, VIDEO_TB)
        if self._last_v is not None and ticks <= self._last_v:
            return
        key = bool(packet.is_keyframe)
        if self._cur is None:
            if not key:
                return
            self._open(ticks, on_air)
        elif key and (
            on_air != self._source_on_air
            or (ticks - self._cur_start_ticks) / 90000 >= self.segment_seconds - 0.5 / self.fps
        ):
            self._cut(ticks, on_air)
        elif on_air != self._source_on_air:
            on_air = bool(self._source_on_air)  # cannot switch source mid-GOP (the line won't)
        assert self._cur is not None and self._cur_info is not None
        if not on_air:
            self._cur_info.on_air = False
        out = av.Packet(bytes(packet))
        out.pts = ticks
        out.dts = ticks
        out.time_base = VIDEO_TB
        out.is_keyframe = key
        out.stream = self._cur.v
        self._cur.container.mux(out)
        self._last_v = ticks

    def write_audio(self, frame: av.AudioFrame, on_air: bool = True) -> None:
        if self._finished:
            return
        self._mux_audio(self._aac.encode(frame))

    def _mux_audio(self, packets: list[av.Packet]) -> None:
        if self._cur is None:
            return  # audio before the first picture is not broadcast
        for p in packets:
            if p.pts is None:
                continue
            pts = int(p.pts)
            if self._last_a is not None and pts <= self._last_a:
                continue
            out = av.Packet(adts_header(self._aac.extradata, p.size) + bytes(p))
            out.pts = pts
            out.dts = pts
            out.time_base = AUDIO_TB
            out.stream = self._cur.a
            self._cur.container.mux(out)
            self._last_a = pts

    # -- segments --------------------------------------------------------------------------

    def _open(self, ticks: int, on_air: bool) -> None:
        name = f"{self.prefix}{self._seq:06d}.ts"
        disc = self._source_on_air is not None and on_air != self._source_on_air
        if self._resumed:
            disc, self._resumed = True, False
        self._cur = _TsSegment(self.dir / name, self.width, self.height, self.fps)
        self._cur_info = HlsSegment(name, self._seq, ticks / 90000, ticks / 90000, on_air, disc)
        self._cur_start_ticks = ticks
        self._source_on_air = on_air
        self._seq += 1

    def _cut(self, ticks: int | None, on_air: bool) -> None:
        assert self._cur is not None and self._cur_info is not None
        info = self._cur_info
        end_ticks = ticks if ticks is not None else (self._last_v or 0) + self._frame_ticks
        info.end = end_ticks / 90000
        info.size = self._cur.close()
        self._cur = None
        self.segments.append(info)
        with open(self.index_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(info), ensure_ascii=False) + "\n")
        if math.ceil(info.duration - 0.01) > self.target:
            log.warning("HLS segment %s is %.2f s, over the target", info.name, info.duration)
            self.target = math.ceil(info.duration - 0.01)
        self._prune()
        self._write_playlist(ended=False)
        if ticks is not None:
            self._open(ticks, on_air)

    def _live(self) -> list[HlsSegment]:
        return self.segments[-self.window :]

    def _prune(self) -> None:
        live_from = max(0, len(self.segments) - self.window)
        while self._deleted < live_from:
            gone = self.segments[self._deleted]
            self._deleted += 1
            if gone.discontinuity:
                self._disc_seq += 1
        while self._unlinked < live_from - self.keep_extra:
            try:
                (self.dir / self.segments[self._unlinked].name).unlink()
            except FileNotFoundError:
                pass
            self._unlinked += 1

    def _write_playlist(self, ended: bool) -> None:
        live = self._live()
        text = media_playlist(
            live,
            self.target,
            media_sequence=live[0].sequence if live else 0,
            discontinuity_sequence=self._disc_seq,
            ended=ended,
        )
        write_atomic(self.playlist, text)
        if self.on_playlist is not None:
            self.on_playlist(live, self.target, live[0].sequence if live else 0, self._disc_seq, ended)

    def finish(self) -> list[HlsSegment]:
        """Close the last segment and end the playlist. Returns every segment written."""
        if self._finished:
            return self.segments
        if self._cur is not None:
            self._mux_audio(self._aac.flush())
            self._cut(None, True)
        self._finished = True
        self._write_playlist(ended=True)
        return self.segments

    close = finish
