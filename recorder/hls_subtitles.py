"""Captions inside the public live stream: a WebVTT subtitles rendition of the HLS stream.

Beside the video's ``live.m3u8`` the rendition writes, for every video segment, a WebVTT
segment of the same sequence number and time span (``subNNNNNN.vtt``), a rolling
``subs.m3u8`` over the same window, and a master playlist ``index.m3u8`` that ties both
together (``EXT-X-MEDIA TYPE=SUBTITLES``). A player (hls.js, Safari) then shows the captions on
the video itself, in step with the picture, behind the same broadcast delay.

Cue times are hearing time, like the segments' timestamps; each WebVTT segment says so with
``X-TIMESTAMP-MAP`` (MPEG-TS 90 kHz ticks of the segment's start = its hearing time). The cues
come from a :class:`PublicCaptions` the server keeps current from the disclosure rule
(``courtroom/disclosure.py``, as for ``/live/captions.json``): final lines, roles only, on air.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .captions import vtt_escape, vtt_time
from .hls import HlsSegment, write_atomic

MASTER = "index.m3u8"
SUBTITLES = "subs.m3u8"


@dataclass(frozen=True)
class PublicCaption:
    start: float  # hearing time
    end: float
    label: str  # the speaker's role, never a name
    text: str


class PublicCaptions:
    """The current public lines, replaced whole by the server's loop and read by the
    recorder's thread (a tuple swapped under a lock: no reader sees half an update)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: tuple[PublicCaption, ...] = ()

    def replace(self, lines: Sequence[PublicCaption]) -> None:
        with self._lock:
            self._lines = tuple(lines)

    def starting(self, start: float, end: float) -> list[PublicCaption]:
        """The lines that begin in [start, end): each cue goes into one WebVTT segment only (a
        cue repeated in the next segment would show twice in players that do not merge them)."""
        with self._lock:
            lines = self._lines
        return [c for c in lines if start <= c.start < end]


def vtt_segment(start: float, cues: Sequence[PublicCaption]) -> str:
    ticks = int(round(start * 90000))
    parts = ["WEBVTT", f"X-TIMESTAMP-MAP=MPEGTS:{ticks},LOCAL:{vtt_time(start)}", ""]
    for c in cues:
        parts.append(f"{vtt_time(c.start)} --> {vtt_time(c.end)}")
        label = vtt_escape(" ".join(c.label.split()))
        text = " ".join(vtt_escape(c.text).split())
        parts.append(f"<v {label}>{text}" if label else text)  # the page shows the voice as the speaker
        parts.append("")
    return "\n".join(parts) + "\n"


def master_playlist(bandwidth: int, width: int, height: int, language: str = "zh", name: str = "字幕 Captions") -> str:
    return "\n".join([
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f'#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="{name}",LANGUAGE="{language}",'
        f'DEFAULT=YES,AUTOSELECT=YES,FORCED=NO,URI="{SUBTITLES}"',
        f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},RESOLUTION={width}x{height},SUBTITLES="subs"',
        "live.m3u8",
        "",
    ])


class SubtitleRendition:
    """Follows an :class:`recorder.hls.HlsWriter` (its ``on_playlist`` hook)."""

    def __init__(self, directory: Path, captions: PublicCaptions, bandwidth: int, width: int, height: int) -> None:
        self.dir = Path(directory)
        self.captions = captions
        self.written: dict[int, str] = {}  # sequence -> file name
        self.texts: dict[int, str] = {}  # sequence -> what its file holds
        write_atomic(self.dir / MASTER, master_playlist(bandwidth, width, height))

    def on_playlist(self, live: Sequence[HlsSegment], target: int, media_sequence: int,
                    discontinuity_sequence: int, ended: bool) -> None:
        for seg in live:
            # Written with the video segment, and again while it is in the window if a line
            # came late (speech recognition can finish after a short broadcast delay): a
            # player that has not fetched it yet gets the line.
            text = vtt_segment(seg.start, self.captions.starting(seg.start, seg.end))
            if self.texts.get(seg.sequence) != text:
                name = f"sub{seg.sequence:06d}.vtt"
                write_atomic(self.dir / name, text)
                self.written[seg.sequence] = name
                self.texts[seg.sequence] = text
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
                 f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}"]
        if discontinuity_sequence:
            lines.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
        for seg in live:
            if seg.discontinuity:
                lines.append("#EXT-X-DISCONTINUITY")
            lines += [f"#EXTINF:{seg.duration:.3f},", self.written[seg.sequence]]
        if ended:
            lines.append("#EXT-X-ENDLIST")
        write_atomic(self.dir / SUBTITLES, "\n".join(lines) + "\n")
        keep = {s.sequence for s in live}
        for sequence in [s for s in self.written if s not in keep and s < min(keep, default=0) - 4]:
            (self.dir / self.written.pop(sequence)).unlink(missing_ok=True)
            self.texts.pop(sequence, None)

