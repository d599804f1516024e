"""Chapters for the replay (or an archive): a WebVTT chapters track and JSON.

Events are (hearing_time, title), e.g. (12.0, "开庭"). The titles come from the tables below,
in the court's language.
An event inside a cut starts its chapter where the output resumes; when several events
land on the same output time, the last one names the chapter.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .captions import vtt_escape, vtt_time

# A chapter begins at each of these hearing events.
CHAPTER_TITLES: dict[str, dict[str, str]] = {
    "zh": {
        "hearing.start": "开庭",
        "hearing.resume": "继续开庭",
        "evidence.present": "举证质证",
        "participant.call_witness": "证人作证",
        "hearing.close": "闭庭",
    },
    "en": {
        "hearing.start": "Opening",
        "hearing.resume": "Resumed",
        "evidence.present": "Evidence",
        "participant.call_witness": "Witness",
        "hearing.close": "Closing",
    },
}

# Each side's statement begins where its first words are on the record.
STATEMENT_TITLES: dict[str, dict[str, str]] = {
    "zh": {"plaintiff": "原告陈述", "defendant": "被告答辩"},
    "en": {"plaintiff": "Plaintiff's statement", "defendant": "Defendant's reply"},
}


def chapter_titles(language: str) -> dict[str, str]:
    return CHAPTER_TITLES.get(language, CHAPTER_TITLES["zh"])


def statement_titles(language: str) -> dict[str, str]:
    return STATEMENT_TITLES.get(language, STATEMENT_TITLES["zh"])


@dataclass(frozen=True)
class Chapter:
    start: float
    end: float
    title: str


class PointMap(Protocol):
    def to_output_next(self, t: float) -> float | None: ...


def build_chapters(
    events: Iterable[tuple[float, str]], time_map: PointMap | None, duration: float
) -> list[Chapter]:
    starts: dict[float, str] = {}
    for t, title in sorted(events, key=lambda e: e[0]):
        o = t if time_map is None else time_map.to_output_next(t)
        if o is None or o >= duration:
            continue
        starts[round(max(0.0, o), 3)] = " ".join(title.split())
    keys = sorted(starts)
    return [
        Chapter(s, keys[i + 1] if i + 1 < len(keys) else duration, starts[s])
        for i, s in enumerate(keys)
    ]


def to_webvtt(chapters: Iterable[Chapter]) -> str:
    parts = ["WEBVTT", ""]
    for n, c in enumerate(chapters, start=1):
        parts += [
            f"chapter-{n}",
            f"{vtt_time(c.start)} --> {vtt_time(c.end)}",
            vtt_escape(c.title),
            "",
        ]
    return "\n".join(parts)


def to_json(chapters: Iterable[Chapter]) -> str:
    return json.dumps([asdict(c) for c in chapters], ensure_ascii=False, indent=1)


def write_chapters(
    directory: str | os.PathLike[str], chapters: list[Chapter], stem: str = "chapters"
) -> tuple[Path, Path]:
    d = Path(directory)
    vtt, js = d / f"{stem}.vtt", d / f"{stem}.json"
    vtt.write_text(to_webvtt(chapters), encoding="utf-8")
    js.write_text(to_json(chapters), encoding="utf-8")
    return vtt, js
