"""Recording health reaches the court: dropped archive media, a writer error, a falling disk
(issue 16: all three used to stay in the server's log)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from courtroom.court import Actor
from recorder import DelayLine, Pump
from signaling.metrics import Metrics
from signaling.recording_health import RecordingHealth
from tests.media_helpers import LOOPBACK_MEDIA, eventually, judge_in_session


class SlowSink:
    """A writer stalled until `gate` is set (a stuck disk): the queue in front of it fills."""

    def __init__(self) -> None:
        self.gate = threading.Event()

    def write_video(self, packet: av.Packet, on_air: bool = True) -> None:
        self.gate.wait(10)

    def write_audio(self, frame: av.AudioFrame, on_air: bool = True) -> None:
        self.gate.wait(10)

    def close(self) -> None:
        return None


class FailingSink(SlowSink):
    def write_video(self, packet: av.Packet, on_air: bool = True) -> None:
        raise OSError(28, "No space left on device")


def packet(i: int) -> av.Packet:
    p = av.Packet(b"\x00\x00\x00\x01" + bytes(100))
    p.pts = i
    p.time_base = Fraction(1, 15)
    p.is_keyframe = True  # after a drop the line skips to a keyframe: each one reaches the stalled writer
    return p


async def test_dropped_media_and_a_writer_error_become_event_notice_and_metric(court) -> None:
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初16号"}, Actor.clerk())
    notices: list[tuple[str, dict[str, Any]]] = []
    metrics = Metrics()
    health = RecordingHealth(court, metrics, lambda h, m: notices.append((h, m)))

    stalled = SlowSink()
    backlog = Pump(DelayLine(0.0, 15, max_items=10), stalled, name="test-archive")
    failing = Pump(DelayLine(0.0, 15, max_items=1000), FailingSink(), name="test-public")
    try:
        for i in range(100):  # far more than 10 items while the writer takes 50 ms each
            backlog.put_video(packet(i))
            failing.put_video(packet(i))
        assert await eventually(lambda: failing.error is not None, 5)
        await health.check_pump(hearing.id, "archive", backlog)
        await health.check_pump(hearing.id, "public", failing)
        for i in range(100, 150):  # more loss within the report interval: counted, not another event
            backlog.put_video(packet(i))
        await health.check_pump(hearing.id, "archive", backlog)
        await health.check_pump(hearing.id, "public", failing)
    finally:
        stalled.gate.set()
        # Close the pumps, not only their lines: a pump thread left running spins on a closed line.
        for pump in (backlog, failing):
            with contextlib.suppress(RuntimeError):  # the failing sink's error is re-raised at close
                pump.close(5)
    kinds = [e.kind for e in await court.events(hearing.id)]
    assert kinds.count("recording.dropped") == 1 and kinds.count("recording.error") == 1, kinds
    dropped = next(e for e in await court.events(hearing.id) if e.kind == "recording.dropped")
    assert dropped.data["stream"] == "archive" and dropped.data["dropped"] >= 80
    error = next(e for e in await court.events(hearing.id) if e.kind == "recording.error")
    assert "No space left" in error.data["error"]
    codes = [m["code"] for h, m in notices if h == hearing.id and m["type"] == "notice"]
    assert codes == ["recording_dropped", "recording_error"], codes
    text = metrics.render()
    assert f'courtroom_recording_dropped_total{{hearing="{hearing.id}",stream="archive"}} {backlog.line.dropped}' in text
    assert f'courtroom_recording_errors_total{{hearing="{hearing.id}",stream="public"}} 1' in text
    health.forget(hearing.id)
    assert not health._seen and not health.free


async def test_below_the_disk_floor_the_recording_stops_cleanly_and_says_so(server_factory, api_factory, tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    config = tmp_path / "floor.toml"
    # Room for the start, not for a 600 MB file written mid-hearing.
    config.write_text(f"disk_floor_bytes = {free - 300_000_000}\nhealth_interval = 0.5\n")
    server = await server_factory("--config", str(config), *LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10")
    api = api_factory(server)
    hearing, (judge_p,) = await api.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    filler = tmp_path / "filler.bin"
    async with judge_in_session(server.url, judge_p["token"]) as judge:
        # Already below twice the floor: the officers are warned.
        low = await judge.wait_for(lambda m: m["type"] == "notice" and m["code"] == "disk_low", timeout=10)
        assert "MB free" in low["message"]
        kinds = [e["kind"] for e in await api.events(hid)]
        assert "recording.part" in kinds and "recording.stopped" not in kinds

        def fill() -> None:
            with open(filler, "wb") as f:
                os.posix_fallocate(f.fileno(), 0, 600_000_000)

        await asyncio.to_thread(fill)
        t0 = time.monotonic()
        stopped = await judge.wait_for(lambda m: m["type"] == "notice" and m["code"] == "recording_stopped", timeout=10)
        print(f"recording stopped {time.monotonic() - t0:.2f} s after the disk fell below the floor")
        assert "disk" in stopped["message"]
        events = await api.events(hid)
        event = next(e for e in events if e["kind"] == "recording.stopped")
        assert event["data"]["free_bytes"] < free - 300_000_000
        metrics = (await api.request("GET", "/metrics", api.admin_key)).text
        assert f'courtroom_recording_stopped_total{{hearing="{hid}"}} 1' in metrics
        assert f'courtroom_recording_disk_free_bytes{{hearing="{hid}"}}' in metrics
        stats = (await api.request("GET", f"/api/hearings/{hid}/stats", api.admin_key)).json
        assert "disk" in stats["recording"]["refused"]
        # The part written so far was finalised: it opens and plays.
        parts = (await api.get_hearing(hid)).json["extra"]["archive_parts"]
        with av.open(parts[-1]["path"]) as c:
            assert sum(1 for _ in c.decode(video=0)) > 5
        # The hearing goes on without a recording, and no new part starts.
        await judge.act("recess")
        await judge.act("resume")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await asyncio.sleep(1.0)
        assert len((await api.get_hearing(hid)).json["extra"]["archive_parts"]) == len(parts)
        assert [e["kind"] for e in await api.events(hid)].count("recording.stopped") == 1
        filler.unlink(missing_ok=True)


def test_a_pump_on_a_closed_line_does_not_spin() -> None:
    """Its line closed but the pump not yet stopped: the pump thread waits, it does not burn a core."""
    pump = Pump(DelayLine(0.0, 15, max_items=10), SlowSink(), name="test-idle")
    pump.line.close()
    try:
        before = time.process_time()
        time.sleep(0.5)
        assert time.process_time() - before < 0.1
    finally:
        pump.sink.gate.set()
        with contextlib.suppress(RuntimeError):
            pump.close(5)
