"""The public livestream: HLS segments and playlist, the broadcast delay line, the slate."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest
from media_fixtures import audio_frames, feed, interleave, video_packets

from recorder.delay import AUDIO, VIDEO, DelayLine
from recorder.hls import HlsWriter
from recorder.slate import Slate

W, H, FPS = 320, 240, 15


@dataclass
class Playlist:
    version: int = 0
    target: int = 0
    media_sequence: int = 0
    discontinuity_sequence: int = 0
    ended: bool = False
    vod: bool = False
    segments: list[tuple[float, str, bool]] = field(default_factory=list)  # (dur, uri, disc)


def parse_m3u8(text: str) -> Playlist:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    assert lines[0] == "#EXTM3U"
    pl = Playlist()
    duration: float | None = None
    disc = False
    for ln in lines[1:]:
        if ln.startswith("#EXT-X-VERSION:"):
            pl.version = int(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-TARGETDURATION:"):
            pl.target = int(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            pl.media_sequence = int(ln.split(":", 1)[1])
        elif ln.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            pl.discontinuity_sequence = int(ln.split(":", 1)[1])
        elif ln == "#EXT-X-DISCONTINUITY":
            disc = True
        elif ln == "#EXT-X-ENDLIST":
            pl.ended = True
        elif ln == "#EXT-X-PLAYLIST-TYPE:VOD":
            pl.vod = True
        elif ln.startswith("#EXTINF:"):
            duration = float(ln.split(":", 1)[1].split(",", 1)[0])
        elif ln.startswith("#"):
            raise AssertionError(f"unexpected tag {ln}")
        else:
            assert duration is not None, f"URI without EXTINF: {ln}"
            pl.segments.append((duration, ln, disc))
            duration, disc = None, False
    assert pl.target >= 1
    for dur, _, _ in pl.segments:
        assert round(dur) <= pl.target
    return pl


def decode_segment(path: Path) -> tuple[list[av.VideoFrame], int]:
    frames: list[av.VideoFrame] = []
    samples = 0
    with av.open(str(path)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        for f in c.decode(video=0, audio=0):
            if isinstance(f, av.VideoFrame):
                frames.append(f)
            else:
                samples += f.samples
    return frames, samples


def test_live_playlist_rolls_and_ends(tmp_path: Path) -> None:
    packets, extradata = video_packets(30, start=5.0)
    items = interleave(packets, audio_frames(30, start=5.0))
    hls = HlsWriter(tmp_path, W, H, FPS, extradata, segment_seconds=2, window=4, keep_extra=2)
    half = len(items) // 2
    feed(hls, items[:half])
    live = parse_m3u8((tmp_path / "live.m3u8").read_text())
    assert not live.ended and len(live.segments) == 4
    assert live.media_sequence == int(live.segments[0][1][3:9])
    feed(hls, items[half:])
    segments = hls.finish()

    assert len(segments) == 15
    assert all(s.duration == pytest.approx(2.0, abs=0.05) for s in segments)
    assert segments[0].start == pytest.approx(5.0) and segments[-1].end == pytest.approx(35.0)
    pl = parse_m3u8((tmp_path / "live.m3u8").read_text())
    assert pl.ended and pl.target == 2
    assert [uri for _, uri, _ in pl.segments] == [s.name for s in segments[-4:]]
    assert pl.media_sequence == segments[-4].sequence
    assert all(d == pytest.approx(2.0, abs=0.05) for d, _, _ in pl.segments)
    # old segments are deleted, a few beyond the window kept for slow clients
    on_disk = sorted(p.name for p in tmp_path.glob("*.ts"))
    assert on_disk == [s.name for s in segments[-6:]]
    for _, uri, _ in pl.segments:
        frames, samples = decode_segment(tmp_path / uri)
        assert len(frames) == 2 * FPS
        assert samples / 48000 == pytest.approx(2.0, abs=0.1)
    index = [json.loads(ln) for ln in (tmp_path / "segments.jsonl").read_text().splitlines()]
    assert [e["name"] for e in index] == [s.name for s in segments]
    assert all(e["on_air"] for e in index)


# -- the delay line ----------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def slate() -> Slate:
    return Slate.create(W, H, FPS)


def test_delay_releases_after_the_delay_not_before() -> None:
    clock = FakeClock()
    line = DelayLine(30.0, FPS, clock=clock)
    packets, _ = video_packets(2)
    frames = audio_frames(2)
    for kind, obj in interleave(packets, frames):
        (line.put_video if kind == "video" else line.put_audio)(obj)
        clock.now += 0.01
    entered_until = clock.now
    clock.now = 1000.0 + 29.999
    assert line.pop_due() == []
    clock.now = 1000.0 + 30.0
    first = line.pop_due()
    assert len(first) == 1 and first[0].kind == VIDEO
    clock.now = entered_until + 30.0
    rest = line.pop_due()
    assert len(first) + len(rest) == len(packets) + len(frames)
    assert all(i.on_air for i in first + rest)
    assert len(line) == 0


def test_off_air_items_come_out_as_slate(slate: Slate) -> None:
    clock = FakeClock()
    line = DelayLine(30.0, FPS, slate=slate, clock=clock)
    packets, _ = video_packets(6)  # keyframes at 0, 2, 4 s
    frames = audio_frames(6, beep_at=0.0, beep_seconds=6)  # loud all the way
    items = interleave(packets, frames)
    originals = {bytes(p) for p in packets}
    slate_bytes = {d for d, _ in slate.packets}
    for kind, obj in items:
        t = float(obj.pts * obj.time_base)
        line.set_on_air(not (1.5 <= t < 3.5))  # judge cuts 1.5 .. 3.5 s
        (line.put_video if kind == "video" else line.put_audio)(obj)
    clock.now += 31
    out = line.pop_due()
    assert len(out) == len(items)
    video = [i for i in out if i.kind == VIDEO]
    # on air before the cut; slate from the cut (starting on an IDR) until the first
    # keyframe after it was lifted (4.0 s); the picture at 3.5 .. 4.0 s is slate too
    for item in video:
        data = bytes(item.payload)
        if item.hearing_time < 1.5 - 1e-6 or item.hearing_time >= 4.0 - 1e-6:
            assert item.on_air and data in originals
        else:
            assert not item.on_air and data in slate_bytes
        assert item.payload.pts == round(item.hearing_time * 90000)
    first_slate = next(i for i in video if not i.on_air)
    assert first_slate.payload.is_keyframe and bytes(first_slate.payload) == slate.packets[0][0]
    for item in (i for i in out if i.kind == AUDIO):
        loud = np.abs(item.payload.to_ndarray()).max() > 1000
        assert loud == (not (1.5 <= item.hearing_time < 3.5))
    assert line.on_air_intervals(0.0, 6.0) == [
        (0.0, pytest.approx(1.5, abs=0.07)),
        (pytest.approx(3.5, abs=0.07), 6.0),
    ]


def test_bound_drops_oldest_and_resumes_on_a_keyframe() -> None:
    clock = FakeClock()
    line = DelayLine(30.0, FPS, clock=clock, max_items=40)
    packets, _ = video_packets(4)  # keyframes at packets 0 and 30
    for p in packets:
        line.put_video(p)
    assert len(line) == 40 and line.dropped == 20
    clock.now += 31
    out = line.pop_due()
    # the 10 P-frames left from the first GOP cannot decode without their keyframe
    assert [i.payload.pts for i in out] == [p.pts for p in packets[30:]]
    assert out[0].payload.is_keyframe
    assert line.skipped == 10
    assert DelayLine(30.0, 15).max_items == 30 * (15 + 50) * 2


def test_public_stream_never_shows_what_was_cut(tmp_path: Path, slate: Slate) -> None:
    """Delay line + slate + HLS: a flash and a beep while off air never reach the public."""
    clock = FakeClock()
    line = DelayLine(30.0, FPS, slate=slate, clock=clock)
    packets, extradata = video_packets(12, flash_at=6.0)
    frames = audio_frames(12, beep_at=6.0)
    hls = HlsWriter(tmp_path, W, H, FPS, extradata, window=20)
    for kind, obj in interleave(packets, frames):
        t = float(obj.pts * obj.time_base)
        line.set_on_air(not (5.0 <= t < 9.0))
        (line.put_video if kind == "video" else line.put_audio)(obj)
        clock.now += 1 / 65  # items enter in real time
        for item in line.pop_due():
            (hls.write_video if item.kind == VIDEO else hls.write_audio)(item.payload, item.on_air)
    assert line.pop_due() == [] and len(line) > 0  # the last 30 s are still in the line
    for item in line.drain():
        (hls.write_video if item.kind == VIDEO else hls.write_audio)(item.payload, item.on_air)
    segments = hls.finish()

    # segments: 0-2 2-4 4-5 | slate 5-7 7-9 10 | 10-12  (on air again at the keyframe at 10 s)
    assert [(round(s.start, 2), round(s.end, 2), s.on_air) for s in segments] == [
        (0.0, 2.0, True),
        (2.0, 4.0, True),
        (4.0, 5.0, True),
        (5.0, 7.0, False),
        (7.0, 9.0, False),
        (9.0, 10.0, False),
        (10.0, 12.0, True),
    ]
    pl = parse_m3u8((tmp_path / "live.m3u8").read_text())
    assert [disc for _, _, disc in pl.segments] == [False, False, False, True, False, False, True]
    assert pl.ended
    total_frames = 0
    for _, uri, _ in pl.segments:
        frames_out, _ = decode_segment(tmp_path / uri)
        total_frames += len(frames_out)
        for f in frames_out:
            assert f.to_ndarray(format="gray").mean() < 200, f"the cut flash leaked at {f.time}"
        with av.open(str(tmp_path / uri)) as c:
            for af in c.decode(audio=0):
                assert np.abs(af.to_ndarray()).max() < 0.3, "the cut beep leaked"
    assert total_frames == len(packets)


def test_a_new_writer_after_a_crash_keeps_the_media_sequence(tmp_path: Path) -> None:
    packets, extradata = video_packets(10)
    items = interleave(packets, audio_frames(10))
    first = HlsWriter(tmp_path, W, H, FPS, extradata, window=3)
    feed(first, items[: len(items) // 2])  # ~5 s, never finished: the server died
    before = parse_m3u8((tmp_path / "live.m3u8").read_text())
    again = HlsWriter(tmp_path, W, H, FPS, extradata, window=3)
    feed(again, items[len(items) // 2 :])
    again.finish()
    after = parse_m3u8((tmp_path / "live.m3u8").read_text())
    names = [uri for _, uri, _ in before.segments + after.segments]
    assert len(set(names)) == len(names)  # nothing overwritten
    assert after.media_sequence > before.media_sequence
    assert again.segments[0].discontinuity and again.segments[0].sequence == 2
