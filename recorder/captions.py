"""Captions for the livestream, the archive and the replay: WebVTT and SRT.

Cues are in hearing time; a :class:`recorder.replay.TimeMap` moves them onto the replay's
(or an archive's) timeline. A cue inside an off-air stretch is dropped; one straddling a
cut is clipped to its longest kept part. Clipping is by time only: the clipped cue keeps
its whole text, so the speech-recognition side should end segments at the judge's
broadcast switch (see docs/recording.md).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

MIN_CUE = 0.04  # seconds; a cue clipped shorter than this is dropped


@dataclass(frozen=True)
class Cue:
    start: float  # seconds (hearing time, or the output timeline once mapped)
    end: float
    speaker_label: str  # e.g. "原告 张三"; may be empty
    text: str


class IntervalMap(Protocol):
    def map_interval(self, start: float, end: float) -> tuple[float, float] | None: ...


def map_cues(cues: Iterable[Cue], time_map: IntervalMap | None) -> list[Cue]:
    """Cues on the output timeline, sorted; dropped or clipped at cuts."""
    out = []
    for c in cues:
        if c.end <= c.start:
            continue
        if time_map is None:
            out.append(c)
            continue
        span = time_map.map_interval(c.start, c.end)
        if span is None or span[1] - span[0] < MIN_CUE:
            continue
        out.append(replace(c, start=span[0], end=span[1]))
    out.sort(key=lambda c: (c.start, c.end))
    return out


def _clock(seconds: float, sep: str) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def vtt_time(seconds: float) -> str:
    return _clock(seconds, ".")


def srt_time(seconds: float) -> str:
    return _clock(seconds, ",")


def _lines(text: str) -> list[str]:
    """Non-empty lines (a blank line would end the cue)."""
    return [ln.strip() for ln in re.split(r"\r\n|\r|\n", text) if ln.strip()]


def vtt_escape(text: str) -> str:
    # '&' first; escaping '>' also breaks any "-->" inside the text
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _vtt_voice(label: str) -> str:
    # a voice annotation runs to the next '>'; keep it on one line
    return vtt_escape(" ".join(label.split()))


def to_webvtt(cues: Iterable[Cue], time_map: IntervalMap | None = None) -> str:
    parts = ["WEBVTT", ""]
    for c in map_cues(cues, time_map):
        lines = [vtt_escape(ln) for ln in _lines(c.text)] or [""]
        if c.speaker_label.strip():
            lines[0] = f"<v {_vtt_voice(c.speaker_label)}>{lines[0]}"
        parts.append(f"{vtt_time(c.start)} --> {vtt_time(c.end)}")
        parts.extend(lines)
        parts.append("")
    return "\n".join(parts)


def srt_escape(text: str) -> str:
    # SRT has no escaping; "-->" would be read as a timing line, so it becomes an arrow
    return text.replace("-->", "→")


def to_srt(cues: Iterable[Cue], time_map: IntervalMap | None = None) -> str:
    parts = []
    for n, c in enumerate(map_cues(cues, time_map), start=1):
        lines = [srt_escape(ln) for ln in _lines(c.text)] or [""]
        label = " ".join(c.speaker_label.split())
        if label:
            lines[0] = f"{srt_escape(label)}: {lines[0]}"
        parts.append(str(n))
        parts.append(f"{srt_time(c.start)} --> {srt_time(c.end)}")
        parts.extend(lines)
        parts.append("")
    return "\n".join(parts)


def write_captions(
    directory: str | os.PathLike[str],
    cues: Iterable[Cue],
    time_map: IntervalMap | None = None,
    stem: str = "captions",
) -> tuple[Path, Path]:
    """Write ``<stem>.vtt`` and ``<stem>.srt`` (UTF-8); returns their paths."""
    d = Path(directory)
    cue_list = list(cues)
    vtt, srt = d / f"{stem}.vtt", d / f"{stem}.srt"
    vtt.write_text(to_webvtt(cue_list, time_map), encoding="utf-8")
    srt.write_text(to_srt(cue_list, time_map), encoding="utf-8")
    return vtt, srt
