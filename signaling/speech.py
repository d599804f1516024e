"""Live speech recognition wired to the hearing: one recognizer stream per speaker.

The media room pushes each speaker's in-session, unmuted audio into that speaker's stream;
results come back on the event loop. A final segment is stored first and shown second, so
nothing that was shown is lost in a crash. Partials are shown and never stored.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import Any

from asr.pipeline import OverloadReport, SpeakerResult, Transcriber
from courtroom.court import Court
from courtroom.participants import Participant
from courtroom.transcript import TranscriptService

from .hub import Hub
from .metrics import Metrics
from .room import SpeechStream
from .rooms import RoomManager

log = logging.getLogger("courtroom.speech")


class Speech:
    """The `SpeechSink` of every media room in this pod."""

    def __init__(self, court: Court, hub: Hub, rooms: RoomManager, transcript: TranscriptService,
                 transcriber: Transcriber, metrics: Metrics, engine_name: str) -> None:
        self.court = court
        self.rooms = rooms
        self.hub = hub
        self.transcript = transcript
        self.transcriber = transcriber
        self.metrics = metrics
        self.engine_name = engine_name
        self._speakers: dict[str, Participant] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._overloaded: set[str] = set()
        transcriber.on_overload = self._overload_from_thread
        self._loop: asyncio.AbstractEventLoop | None = None

    def open_speaker(self, participant: Participant) -> SpeechStream:
        self._loop = asyncio.get_running_loop()
        self._speakers[participant.id] = participant
        return self.transcriber.open_speaker(participant.id, self._on_result, self._loop)

    # results, on the event loop
    def _on_result(self, result: SpeakerResult) -> None:
        p = self._speakers.get(result.participant_id)
        if p is None:
            return
        if not result.final:
            self._show(p, {
                "id": f"partial-{p.id}", "speaker": p.id, "role": p.role.value, "name": p.name,
                "text": result.text, "final": False, "start": round(result.start, 3), "end": round(result.end, 3),
            })
            return
        self.metrics.inc("courtroom_asr_finals_total", engine=self.engine_name)
        task = asyncio.create_task(self._store_and_show(p, result))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _store_and_show(self, p: Participant, result: SpeakerResult) -> None:
        try:
            segment = await self.transcript.add_final(
                p.hearing_id, p.id, result.text, result.start, result.end,
                [asdict(w) for w in result.words], self.engine_name,
            )
        except Exception:  # noqa: BLE001 - a refused segment (sealed record) must not end the stream
            log.exception("storing a final segment failed")
            return
        if segment is not None:
            self._show(p, segment.to_message())

    def _show(self, p: Participant, segment: dict[str, Any]) -> None:
        hearing_state = self._state_of(p.hearing_id)
        if hearing_state is not None:
            self.hub.broadcast(p.hearing_id, {"type": "transcript", "segment": segment}, hearing_state, transcript=True)

    def _state_of(self, hearing_id: str) -> Any:
        room = self.rooms.rooms.get(hearing_id)
        return room.hearing.state if room is not None else None

    # overload: a metric, an event and a notice for the court's officers
    def _overload_from_thread(self, report: OverloadReport) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._overload, report)

    def _overload(self, report: OverloadReport) -> None:
        p = self._speakers.get(report.participant_id)
        if p is None:
            return
        if report.overloaded:
            self.metrics.inc("courtroom_asr_overload_total")
            if p.id in self._overloaded:
                return
            self._overloaded.add(p.id)
        else:
            self._overloaded.discard(p.id)
        message = {
            "type": "notice",
            "code": "asr_overload" if report.overloaded else "asr_recovered",
            "message": (
                f"Speech recognition is behind for {p.name}: {report.dropped_seconds:.1f} s of audio skipped. 转写过载。"
                if report.overloaded else f"Speech recognition caught up for {p.name}. 转写已恢复。"
            ),
            "participant": p.id,
        }
        self.hub.to_officers(p.hearing_id, message)
        task = asyncio.create_task(self._record_overload(p, report))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _record_overload(self, p: Participant, report: OverloadReport) -> None:
        await self.court.record_event(
            p.hearing_id, "asr.overload" if report.overloaded else "asr.recovered", "system", p.id,
            dropped_seconds=round(report.dropped_seconds, 2), backlog_seconds=round(report.backlog_seconds, 2),
        )

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        stats = self.transcriber.stats()
        out: list[tuple[str, str, dict[str, str], float]] = [
            ("courtroom_asr_backlog_seconds", "the largest recognition backlog", {}, stats.backlog_seconds),
            ("courtroom_asr_dropped_seconds", "audio skipped because recognition fell behind", {}, stats.dropped_seconds),
            ("courtroom_asr_overloaded", "1 while any speaker's recognition is behind", {}, float(stats.overloaded)),
        ]
        for pid, sp in stats.speakers.items():
            labels = {"participant": pid}
            out.append(("courtroom_asr_speaker_backlog_seconds", "recognition backlog per speaker", labels, sp.backlog_seconds))
            out.append(("courtroom_asr_speaker_busy_seconds", "worker time spent recognising a speaker", labels, sp.busy_seconds))
            out.append(("courtroom_asr_speaker_audio_seconds", "gated audio a speaker's recognizer received", labels, sp.audio_seconds))
        return out
