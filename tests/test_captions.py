"""Captions (WebVTT, SRT) and chapters: formats, escaping, numbering, time mapping."""

from __future__ import annotations

import json
import re
from pathlib import Path

from recorder.captions import Cue, srt_time, to_srt, to_webvtt, vtt_time, write_captions
from recorder.chapters import Chapter, build_chapters, to_json, write_chapters
from recorder.chapters import to_webvtt as chapters_vtt
from recorder.replay import Piece, TimeMap

VTT_TIME = r"(\d\d):(\d\d):(\d\d)\.(\d\d\d)"
SRT_TIME = r"(\d\d):(\d\d):(\d\d),(\d\d\d)"


def _secs(m: tuple[str, ...]) -> float:
    h, mi, s, ms = (int(x) for x in m)
    return h * 3600 + mi * 60 + s + ms / 1000


def parse_vtt(text: str) -> list[tuple[float, float, str]]:
    """A small WebVTT reader: header, blank-line separated cues, optional identifiers."""
    assert text.startswith("WEBVTT\n")
    blocks = [b for b in text.split("\n\n")[1:] if b.strip()]
    cues = []
    for block in blocks:
        lines = block.strip("\n").split("\n")
        if "-->" not in lines[0]:
            lines = lines[1:]  # cue identifier
        m = re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", lines[0])
        assert m, f"bad timing line {lines[0]!r}"
        start, end = _secs(m.groups()[:4]), _secs(m.groups()[4:])
        assert end > start
        payload = "\n".join(lines[1:])
        assert "-->" not in payload and payload
        cues.append((start, end, payload))
    return cues


def parse_srt(text: str) -> list[tuple[int, float, float, str]]:
    blocks = [b for b in text.split("\n\n") if b.strip()]
    out = []
    for block in blocks:
        lines = block.strip("\n").split("\n")
        m = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", lines[1])
        assert m, f"bad timing line {lines[1]!r}"
        payload = "\n".join(lines[2:])
        assert "-->" not in payload
        out.append((int(lines[0]), _secs(m.groups()[:4]), _secs(m.groups()[4:]), payload))
    return out


def test_time_formatting() -> None:
    assert vtt_time(0) == "00:00:00.000"
    assert vtt_time(3661.5) == "01:01:01.500"
    assert vtt_time(59.9996) == "00:01:00.000"
    assert srt_time(7322.042) == "02:02:02,042"
    assert vtt_time(-0.2) == "00:00:00.000"


def test_webvtt_escaping_and_voices() -> None:
    cues = [
        Cue(1.0, 2.5, "原告 张三", "a < b & c --> d"),
        Cue(0.2, 0.9, "", "第一行\n\n第二行"),
        Cue(3.0, 4.0, "被告<李四>", "ok"),
    ]
    text = to_webvtt(cues)
    got = parse_vtt(text)
    assert got == [
        (0.2, 0.9, "第一行\n第二行"),  # sorted; blank line inside the text removed
        (1.0, 2.5, "<v 原告 张三>a &lt; b &amp; c --&gt; d"),
        (3.0, 4.0, "<v 被告&lt;李四&gt;>ok"),
    ]


def test_srt_numbering_escaping_and_speaker() -> None:
    cues = [Cue(5.0, 6.0, "审判长", "b"), Cue(1.0, 2.0, "原告 张三", "x --> y\n\nz")]
    got = parse_srt(to_srt(cues))
    assert got == [(1, 1.0, 2.0, "原告 张三: x → y\nz"), (2, 5.0, 6.0, "审判长: b")]


def test_cues_mapped_dropped_and_clipped() -> None:
    tm = TimeMap((Piece(10.0, 20.0, 0.0), Piece(30.0, 40.0, 10.0)))
    cues = [
        Cue(5.0, 9.0, "", "before the replay"),
        Cue(9.0, 11.0, "", "clipped at the start"),
        Cue(22.0, 28.0, "", "off air"),
        Cue(18.0, 33.0, "", "spans the cut: longest part kept"),
        Cue(35.0, 36.0, "", "second piece"),
        Cue(39.99, 41.0, "", "too short once clipped"),
    ]
    got = parse_vtt(to_webvtt(cues, tm))
    assert got == [
        (0.0, 1.0, "clipped at the start"),
        (10.0, 13.0, "spans the cut: longest part kept"),
        (15.0, 16.0, "second piece"),
    ]
    srt = parse_srt(to_srt(cues, tm))
    assert [n for n, *_ in srt] == [1, 2, 3]


def test_write_captions_and_chapters(tmp_path: Path) -> None:
    vtt, srt = write_captions(tmp_path, [Cue(1, 2, "书记员", "宣读法庭纪律")])
    assert parse_vtt(vtt.read_text(encoding="utf-8"))[0][2] == "<v 书记员>宣读法庭纪律"
    assert parse_srt(srt.read_text(encoding="utf-8"))[0][3] == "书记员: 宣读法庭纪律"

    tm = TimeMap((Piece(0.0, 100.0, 0.0), Piece(200.0, 300.0, 100.0)))
    chapters = build_chapters(
        [
            (0.0, "开庭 Opening"),
            (50.0, "法庭调查"),
            (150.0, "休庭 <recess>"),
            (160.0, "复庭"),
            (250.0, "法庭辩论 & 最后陈述"),
            (400.0, "after the end"),
        ],
        tm,
        200.0,
    )
    assert chapters == [
        Chapter(0.0, 50.0, "开庭 Opening"),
        Chapter(50.0, 100.0, "法庭调查"),
        Chapter(100.0, 150.0, "复庭"),  # both events in the cut land at 100; the last wins
        Chapter(150.0, 200.0, "法庭辩论 & 最后陈述"),
    ]
    text = chapters_vtt(chapters)
    assert [c[2] for c in parse_vtt(text)][-1] == "法庭辩论 &amp; 最后陈述"
    assert json.loads(to_json(chapters))[2] == {"start": 100.0, "end": 150.0, "title": "复庭"}
    v, j = write_chapters(tmp_path, chapters)
    assert v.exists() and json.loads(j.read_text(encoding="utf-8"))[0]["title"] == "开庭 Opening"
