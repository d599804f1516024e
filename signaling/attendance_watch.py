"""Attendance on the judge's console, live: a party admitted after the start is late, and a
connection lost for longer than `drop_note_seconds` is flagged. Both are events (officers'
sockets get every event); the record's timed notes come from the events themselves
(`courtroom.attendance`), so nothing here decides anything: the judge rules (`rule`).

A drop noted while the court's database is unreachable is timed when it is noted and waits in
the outbox until it can be stored (`courtroom/outbox.py`).
"""

from __future__ import annotations

import asyncio
import logging

from courtroom.court import Change, Court
from courtroom.hearing import Hearing
from courtroom.outbox import OutboxFull, is_outage, record_event
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
            task = asyncio.create_task(self._after_drop(hearing, p.id))
            self._timers[key] = task
            task.add_done_callback(lambda t: self._timers.pop(key, None) if self._timers.get(key) is t else None)
        elif change.action == "admit" and p.role in PARTY_ROLES and hearing.started_at is not None:
            await self.court.record_event(hearing.id, "attendance.late", "system", p.id)

    async def _after_drop(self, hearing: Hearing, participant_id: str) -> None:
        await asyncio.sleep(self.threshold)
        try:
            try:
                hearing = await self.court.get_hearing(hearing.id)
            except Exception as exc:  # unreachable: the hearing as it was at the drop (its clock holds)
                if not is_outage(exc):
                    raise
            if hearing.state in LIVE and not self.court.is_connected(hearing.id, participant_id):
                await record_event(self.court, hearing, "attendance.drop", "system", participant_id,
                                   seconds=self.threshold)
        except OutboxFull:
            pass  # logged and counted by the outbox; the officers are told
        except Exception:  # noqa: BLE001 - a notice must never take the hearing down
            log.exception("an attendance notice failed")

    def close(self) -> None:
        for task in self._timers.values():
            task.cancel()
        self._timers.clear()
