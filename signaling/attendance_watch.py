"""Attendance on the judge's console, live: a party admitted after the start is late, and a
connection lost for longer than `drop_note_seconds` is flagged. Both are events (officers'
sockets get every event); the record's timed notes come from the events themselves
(`courtroom.attendance`), so nothing here decides anything: the judge rules (`rule`).
"""

from __future__ import annotations

import asyncio
import logging

from courtroom.court import Change, Court
from courtroom.participants import ParticipantState
from courtroom.procedure import LIVE
from courtroom.roles import PARTY_ROLES

log = logging.getLogger("courtroom.attendance")


class AttendanceWatch:
    def __init__(self, court: Court) -> None:
        self.court = court
        self._timers: dict[tuple[str, str], asyncio.Task[None]] = {}
        court.add_listener(self.on_change)

    @property
    def threshold(self) -> float:
        return float(self.court.config.drop_note_seconds)

    async def on_change(self, change: Change) -> None:
        p, hearing = change.subject, change.hearing
        if p is None or hearing.state not in LIVE:
            return
        key = (hearing.id, p.id)
        if change.action == "disconnect" and p.state is ParticipantState.ADMITTED:
            old = self._timers.pop(key, None)
            if old is not None:
                old.cancel()
            task = asyncio.create_task(self._after_drop(hearing.id, p.id))
            self._timers[key] = task
            task.add_done_callback(lambda t: self._timers.pop(key, None) if self._timers.get(key) is t else None)
        elif change.action == "admit" and p.role in PARTY_ROLES and hearing.started_at is not None:
            await self.court.record_event(hearing.id, "attendance.late", "system", p.id)

    async def _after_drop(self, hearing_id: str, participant_id: str) -> None:
        await asyncio.sleep(self.threshold)
        try:
            hearing = await self.court.get_hearing(hearing_id)
            if hearing.state in LIVE and not self.court.is_connected(hearing_id, participant_id):
                await self.court.record_event(hearing_id, "attendance.drop", "system", participant_id,
                                              seconds=self.threshold)
        except Exception:  # noqa: BLE001 - a notice must never take the hearing down
            log.exception("an attendance notice failed")

    def close(self) -> None:
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()
