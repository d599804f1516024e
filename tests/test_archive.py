"""The archive: fragmented MP4, stream-copied H.264 + AAC, crash-safe, A/V in sync."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import av
import pytest
from media_fixtures import (
    audio_frames,
    feed,
    first_bright_frame_time,
    first_loud_sample_time,
    interleave,
    video_packets,
)

from recorder.archive import ArchiveWriter, next_part_path, read_start_hearing_time
from recorder.delay import Pump
from recorder.diskspace import DiskSpaceError, check_free_space

ROOT = Path(__file__).resolve().parent.parent


def test_archive_streams_duration_sync_and_decode(tmp_path: Path) -> None:
    # the hearing has run for 1 s when the picture starts; audio started a little earlier
    packets, extradata = video_packets(10, start=1.0, flash_at=4.0)
    frames = audio_frames(10.3, start=0.8, beep_at=4.0)
    path = tmp_path / "archive.mp4"
    writer = ArchiveWriter(path, 320, 240, 15, extradata)
    feed(writer, interleave(packets, frames))
    rec = writer.close()

    assert rec.start_hearing_time == pytest.approx(1.0)
    assert read_start_hearing_time(path) == pytest.approx(1.0)
    assert rec.size == path.stat().st_size
    assert rec.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert rec.duration == pytest.approx(10.0, abs=0.2)

    with av.open(str(path)) as c:
        assert [s.codec_context.name for s in c.streams.video] == ["h264"]
        assert [s.codec_context.name for s in c.streams.audio] == ["aac"]
        assert len(c.streams) == 2
        v = c.streams.video[0]
        assert v.duration is not None and v.time_base is not None
        assert float(v.duration * v.time_base) == pytest.approx(10.0, abs=0.2)
        assert c.duration is not None and c.duration / 1e6 == pytest.approx(10.0, abs=0.2)
        # every packet fed is there, in order, and decodes
        n_packets = 0
        n_frames = 0
        for pkt in c.demux(v):
            if pkt.size == 0:
                continue
            n_packets += 1
            n_frames += len(pkt.decode())
        n_frames += len(v.codec_context.decode(None))
        assert n_packets == len(packets)
        assert n_frames == len(packets)

    # flash and beep at hearing 4.0 s -> archive 3.0 s, together within 100 ms
    t_flash = first_bright_frame_time(str(path))
    t_beep = first_loud_sample_time(str(path))
    assert t_flash is not None and t_beep is not None
    assert t_flash == pytest.approx(3.0, abs=0.07)
    assert abs(t_flash - t_beep) < 0.1


def test_archive_starts_at_first_keyframe(tmp_path: Path) -> None:
    packets, extradata = video_packets(4)
    path = tmp_path / "a.mp4"
    w = ArchiveWriter(path, 320, 240, 15, extradata)
    for p in packets[5:]:  # starts mid-GOP: P-frames until the keyframe at 2 s are dropped
        w.write_video(p)
    rec = w.close()
    assert rec.start_hearing_time == pytest.approx(2.0)
    assert w.dropped_video == 25
    with av.open(str(path)) as c:
        frames = list(c.decode(video=0))
    assert len(frames) == 30
    assert frames[0].time == pytest.approx(0.0)


def test_archive_through_pump_thread(tmp_path: Path) -> None:
    packets, extradata = video_packets(4, flash_at=1.0)
    frames = audio_frames(4, beep_at=1.0)
    writer = ArchiveWriter(tmp_path / "a.mp4", 320, 240, 15, extradata)
    pump = Pump.for_archive(writer, fps=15)
    for kind, obj in interleave(packets, frames):
        if kind == "video":
            pump.put_video(obj)
        else:
            pump.put_audio(obj)
    rec = pump.close(timeout=10)
    assert pump.error is None and pump.line.dropped == 0
    assert rec.duration == pytest.approx(4.0, abs=0.2)
    t_flash = first_bright_frame_time(str(rec.path))
    t_beep = first_loud_sample_time(str(rec.path))
    assert t_flash is not None and t_beep is not None
    assert abs(t_flash - t_beep) < 0.1


CHILD = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{tests!r}, {root!r}]
    from media_fixtures import audio_frames, interleave, video_packets
    from recorder.archive import ArchiveWriter
    packets, extradata = video_packets(30)
    items = interleave(packets, audio_frames(30))
    w = ArchiveWriter({path!r}, 320, 240, 15, extradata)
    announced = False
    for kind, obj in items:
        (w.write_video if kind == "video" else w.write_audio)(obj)
        t = float(obj.pts * obj.time_base)
        if t >= 10 and not announced:
            print("READY", flush=True)
            announced = True
        if announced:
            time.sleep(0.004)   # keep writing, slowly, until killed mid-fragment
    print("DONE", flush=True)
    """
)


def test_archive_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "archive.mp4"
    code = CHILD.format(tests=str(ROOT / "tests"), root=str(ROOT), path=str(path))
    child = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=str(ROOT)
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "READY"
        time.sleep(0.25)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL

    # what was written opens, says where it starts, and decodes to (nearly) the kill point
    assert read_start_hearing_time(path) == pytest.approx(0.0)
    last_video = -1.0
    n_audio = 0
    with av.open(str(path)) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        for frame in c.decode(video=0, audio=0):
            if isinstance(frame, av.VideoFrame):
                last_video = max(last_video, float(frame.time or 0))
            else:
                n_audio += frame.samples
    assert last_video >= 9.0  # >= 10 s were written; at most the last 1 s fragment is lost
    assert n_audio / 48000 >= 9.0


def test_next_part_path(tmp_path: Path) -> None:
    assert next_part_path(tmp_path) == tmp_path / "archive.mp4"
    (tmp_path / "archive.mp4").touch()
    assert next_part_path(tmp_path) == tmp_path / "archive-part2.mp4"
    (tmp_path / "archive-part2.mp4").touch()
    assert next_part_path(tmp_path) == tmp_path / "archive-part3.mp4"


def test_check_free_space(tmp_path: Path) -> None:
    free = check_free_space(tmp_path / "not-yet" / "hearing", 1)
    assert free > 0
    with pytest.raises(DiskSpaceError, match="not enough disk space"):
        check_free_space(tmp_path, free * 1000 + 10**15)
