"""The replay: cut from the archive without the off-air parts, continuous, captions shifted."""

from __future__ import annotations

import time
from pathlib import Path

import av
import pytest
from media_fixtures import audio_frames, feed, first_bright_frame_time, interleave, video_packets
from test_captions import parse_vtt
from test_hls import parse_m3u8

from recorder.archive import ArchiveWriter, RecordFile
from recorder.captions import Cue, to_webvtt
from recorder.chapters import build_chapters
from recorder.replay import TimeMap, build_replay

FPS = 15


def make_archive(
    path: Path, seconds: float, start: float = 0.0, flash_at: float | None = None
) -> RecordFile:
    packets, extradata = video_packets(seconds, start=start, flash_at=flash_at)
    w = ArchiveWriter(path, 320, 240, FPS, extradata)
    feed(w, interleave(packets, audio_frames(seconds, start=start)))
    return w.close()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> RecordFile:
    # a 20 s hearing whose picture starts at hearing time 3 s; flash while off air
    return make_archive(
        tmp_path_factory.mktemp("arch") / "archive.mp4", 20, start=3.0, flash_at=12.0
    )


def check_continuous(path: Path) -> tuple[int, float]:
    """Video pts step by exactly one frame from 0; audio never overlaps, gaps < 2 frames."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base  # read before the container closes: its streams die with it
        vt = [p.pts for p in c.demux(v) if p.size]
    assert tb is not None
    step = round(1 / FPS / tb)
    assert vt[0] == 0
    assert all(b - a == step for a, b in zip(vt, vt[1:], strict=False)), "video timestamps jump"
    with av.open(str(path)) as c:
        at = [p.pts for p in c.demux(audio=0) if p.size]
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert min(gaps) == 1024 and max(gaps) < 2 * 1024
    return len(vt), float(vt[-1] * tb) + 1 / FPS


def test_replay_leaves_out_the_off_air_stretch(archive: RecordFile, tmp_path: Path) -> None:
    # off air 9 .. 15 hearing time (6 s, on keyframes: the picture's GOPs start at 3, 5, ...)
    t0 = time.monotonic()
    replay = build_replay([archive], [(0.0, 9.0), (15.0, 100.0)], tmp_path, segment_seconds=4)
    elapsed = time.monotonic() - t0
    assert elapsed < 3.0
    assert replay.duration == pytest.approx(14.0, abs=0.1)
    assert replay.time_map.pieces[0].hearing_start == pytest.approx(3.0)
    assert replay.time_map.to_output(8.0) == pytest.approx(5.0)
    assert replay.time_map.to_output(12.0) is None
    assert replay.time_map.to_output(16.0) == pytest.approx(7.0)
    assert replay.time_map.to_hearing(7.0) == pytest.approx(16.0)

    n_video, end = check_continuous(replay.mp4)
    assert n_video == 14 * FPS and end == pytest.approx(14.0, abs=0.01)
    with av.open(str(replay.mp4)) as c:
        assert c.duration is not None and c.duration / 1e6 == pytest.approx(14.0, abs=0.1)
        assert len(list(c.decode(video=0))) == 14 * FPS  # plays
    # faststart: the moov comes before the media
    head = replay.mp4.read_bytes()[:4096]
    assert head.find(b"moov") != -1 and (
        head.find(b"mdat") == -1 or head.find(b"moov") < head.find(b"mdat")
    )
    assert first_bright_frame_time(str(replay.mp4)) is None  # the off-air flash is not there

    pl = parse_m3u8(replay.playlist.read_text())
    assert pl.vod and pl.ended
    assert sum(d for d, _, _ in pl.segments) == pytest.approx(14.0, abs=0.05)
    frames = 0
    for _, uri, _ in pl.segments:
        with av.open(str(tmp_path / uri)) as c:
            frames += sum(1 for _ in c.decode(video=0))
    assert frames == 14 * FPS


def test_replay_cut_off_a_keyframe_resumes_at_the_next_one(
    archive: RecordFile, tmp_path: Path
) -> None:
    replay = build_replay([archive], [(0.0, 9.5), (14.2, 100.0)], tmp_path)
    # 3 .. 9.5 kept (6.5 s), then the picture resumes at the keyframe at 15 (8 s)
    assert [
        (round(p.hearing_start, 3), round(p.hearing_end, 3)) for p in replay.time_map.pieces
    ] == [(3.0, 9.467), (15.0, 23.0)]
    check_continuous(replay.mp4)
    assert replay.duration == pytest.approx(14.467, abs=0.01)


def test_captions_and_chapters_follow_the_replay(archive: RecordFile, tmp_path: Path) -> None:
    replay = build_replay([archive], [(0.0, 9.0), (15.0, 100.0)], tmp_path)
    cues = [
        Cue(4.0, 5.0, "审判长", "现在开庭。"),
        Cue(8.0, 10.0, "原告 张三", "straddles the cut"),
        Cue(10.0, 12.0, "被告 李四", "said off air"),
        Cue(14.5, 16.0, "被告 李四", "straddles the resume"),
        Cue(17.0, 18.5, "原告 张三", "after"),
    ]
    got = parse_vtt(to_webvtt(cues, replay.time_map))
    assert [(round(s, 3), round(e, 3), text) for s, e, text in got] == [
        (1.0, 2.0, "<v 审判长>现在开庭。"),
        (5.0, 6.0, "<v 原告 张三>straddles the cut"),
        (6.0, 7.0, "<v 被告 李四>straddles the resume"),
        (8.0, 9.5, "<v 原告 张三>after"),
    ]
    chapters = build_chapters(
        [(3.0, "开庭"), (11.0, "休庭"), (16.0, "法庭辩论")], replay.time_map, replay.duration
    )
    assert [(c.start, round(c.end, 3), c.title) for c in chapters] == [
        (0.0, 6.0, "开庭"),
        (6.0, 7.0, "休庭"),
        (7.0, 14.0, "法庭辩论"),
    ]
    # the archive's own timeline: hearing time minus the archive's start
    amap = TimeMap.for_archive(archive.start_hearing_time, archive.duration)
    assert parse_vtt(to_webvtt(cues[:1], amap))[0][:2] == (1.0, 2.0)


def test_replay_joins_archive_parts(tmp_path: Path) -> None:
    """After a crash the hearing continues in archive-part2.mp4; the replay spans both."""
    p1 = make_archive(tmp_path / "archive.mp4", 6, start=0.0)
    p2 = make_archive(tmp_path / "archive-part2.mp4", 4, start=10.0)
    replay = build_replay([p1, p2], [(0.0, 100.0)], tmp_path / "replay")
    assert replay.duration == pytest.approx(10.0, abs=0.05)
    assert replay.time_map.to_output(11.0) == pytest.approx(7.0)
    n_video, _ = check_continuous(replay.mp4)
    assert n_video == 10 * FPS
