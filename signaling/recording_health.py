"""Recording health: what degrades the official record reaches the court within seconds.

The archive's queue drops media past its backlog, a writer error discards what follows, a
disk fills up. Each of these becomes an event in the hearing's log, a `notice` on the
officers' sockets (the judge's console shows it) and a metric, checked every
`health_interval` seconds by one tracked task. Free disk is measured there too: below
`2 × disk_floor_bytes` the court is warned, below the floor the recording stops cleanly (the
part is finalised, nothing half-written) and says so. The events are timed when seen and go
through the court's outbox: a database outage delays them, it does not lose them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from courtroom.court import Court
from courtroom.hearing import Hearing
from courtroom.outbox import OutboxFull, record_event
from recorder import Pump
from recorder.diskspace import free_bytes

from .metrics import Metrics

if TYPE_CHECKING:
    from .recording import HearingRecording

log = logging.getLogger("courtroom.recording_health")

DROP_REPORT_EVERY = 30.0  # seconds between two events about the same ongoing loss

Notify = Callable[[str, dict[str, Any]], None]  # (hearing id, notice message) to the officers


@dataclass
class _Seen:
    dropped: int = 0
    error: bool = False
    reported_drop_at: float = float("-inf")
    unreported_drops: int = 0
    pump: int = 0  # id() of the pump counted: a rolled archive part has a new pump, counting from 0


class RecordingHealth:
    def __init__(self, court: Court, metrics: Metrics, notify: Notify, interval: float = 1.0) -> None:
        self.court = court
        self.metrics = metrics
        self.notify = notify
        self.interval = interval
        self.free: dict[str, int] = {}  # hearing → free bytes where it records, last measured
        self._seen: dict[tuple[str, str], _Seen] = {}
        self._disk_low: set[str] = set()
        self._hearings: dict[str, Hearing] = {}  # the recorded hearings (their clocks time the events)
        metrics.describe("courtroom_recording_dropped_total", "counter", "media items the recorder dropped (backlog)")
        metrics.describe("courtroom_recording_errors_total", "counter", "recorder writer failures")
        metrics.describe("courtroom_recording_stopped_total", "counter", "recordings stopped for lack of disk")
        metrics.collector(self.gauges)

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        return [("courtroom_recording_disk_free_bytes", "free disk where a hearing records", {"hearing": h}, float(v))
                for h, v in self.free.items()]

    async def run(self, recordings: dict[str, HearingRecording]) -> None:
        """The periodic check, until cancelled (the app's cleanup context owns the task)."""
        while True:
            await asyncio.sleep(self.interval)
            for hearing_id, recording in list(recordings.items()):
                try:
                    await self.check(hearing_id, recording)
                except Exception:  # noqa: BLE001 - one hearing's check must not end the watch
                    log.exception("checking the recording of %s failed", hearing_id)

    async def check(self, hearing_id: str, recording: HearingRecording) -> None:
        self._hearings[hearing_id] = recording.hearing
        for label, pump in (("archive", recording.archive), ("public", recording.public)):
            if pump is not None:
                await self.check_pump(hearing_id, label, pump)
        if recording.archive is not None or recording.public is not None:
            await self.check_disk(hearing_id, recording)

    async def check_pump(self, hearing_id: str, label: str, pump: Pump) -> None:
        """New drops and a first writer error of one pump become an event, a notice, a metric."""
        seen = self._seen.setdefault((hearing_id, label), _Seen())
        if seen.pump != id(pump):
            seen.pump, seen.dropped, seen.error = id(pump), 0, False
        dropped = pump.line.dropped
        if dropped > seen.dropped:
            new = dropped - seen.dropped
            seen.dropped = dropped
            seen.unreported_drops += new
            self.metrics.inc("courtroom_recording_dropped_total", new, hearing=hearing_id, stream=label)
            now = time.monotonic()
            if now - seen.reported_drop_at >= DROP_REPORT_EVERY:
                count, seen.unreported_drops, seen.reported_drop_at = seen.unreported_drops, 0, now
                await self._tell(hearing_id, "recording_dropped", "recording.dropped",
                                 f"The {label} recording fell behind: {count} media items dropped. 录制积压，部分音视频丢失。",
                                 stream=label, dropped=count)
        if pump.error is not None and not seen.error:
            seen.error = True
            self.metrics.inc("courtroom_recording_errors_total", hearing=hearing_id, stream=label)
            await self._tell(hearing_id, "recording_error", "recording.error",
                             f"The {label} recording failed: {pump.error}. Later media is not recorded. 录制写入失败。",
                             stream=label, error=str(pump.error)[:300])

    async def check_disk(self, hearing_id: str, recording: HearingRecording) -> None:
        floor = self.court.config.disk_floor_bytes
        free = await asyncio.to_thread(free_bytes, recording.dir)
        self.free[hearing_id] = free
        if free < floor:
            reason = (f"the disk is nearly full: {free / 1e6:.0f} MB free, the floor is {floor / 1e6:.0f} MB; "
                      "the recording was stopped and its last part finalised")
            if await recording.stop_for_disk(reason):
                self.metrics.inc("courtroom_recording_stopped_total", hearing=hearing_id)
                await self._tell(hearing_id, "recording_stopped", "recording.stopped",
                                 f"Recording stopped: {reason}. 磁盘空间不足，录制已停止。", reason=reason, free_bytes=free)
        elif free < 2 * floor:
            if hearing_id not in self._disk_low:
                self._disk_low.add(hearing_id)
                await self._tell(hearing_id, "disk_low", "recording.disk_low",
                                 f"Disk space is running low: {free / 1e6:.0f} MB free; recording stops below "
                                 f"{floor / 1e6:.0f} MB. 磁盘空间不足。", free_bytes=free, floor_bytes=floor)
        else:
            self._disk_low.discard(hearing_id)

    async def _tell(self, hearing_id: str, code: str, kind: str, message: str, **data: Any) -> None:
        log.warning("hearing %s: %s", hearing_id, message)
        self.notify(hearing_id, {"type": "notice", "code": code, "message": message})
        hearing = self._hearings.get(hearing_id) or await self.court.get_hearing(hearing_id)
        try:
            await record_event(self.court, hearing, kind, "system", **data)
        except OutboxFull:
            pass  # logged and counted by the outbox; the officers are told

    def forget(self, hearing_id: str) -> None:
        """The hearing's recording ended: nothing of it is kept here."""
        self.free.pop(hearing_id, None)
        self._hearings.pop(hearing_id, None)
        self._disk_low.discard(hearing_id)
        for key in [k for k in self._seen if k[0] == hearing_id]:
            del self._seen[key]
