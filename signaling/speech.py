"""Live speech recognition wired to the hearing: one recognizer stream per speaker.

The media room pushes each speaker's in-session, unmuted audio into that speaker's stream;
results come back on the event loop. A final segment is stored first and shown second, so
nothing that was shown is lost in a crash. Partials are shown and never stored. The stores go
through the court's outbox: while the database is unreachable the finals wait there in order
and are shown when stored (`courtroom/outbox.py`).

Two engines, one record: when the record engine's reading of a whole turn arrives, it
replaces the turn's live segments (`TranscriptService.replace_with_reading`) and the changed
segments are shown again under their ids. Its prompt carries the hearing's own words.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from asr.pipeline import OverloadReport, SpeakerResult, SpeakerStream, Transcriber
from asr.prompt import hearing_vocabulary
from courtroom.config import Config
from courtroom.court import Court
from courtroom.outbox import OutboxFull, record_event
from courtroom.participants import Participant
from courtroom.procedure import ActionRefused
from courtroom.transcript import Segment, TranscriptService
from courtroom.vocabulary import court_vocabulary

from .hub import Hub
from .metrics import Metrics
from .room import SpeechStream
from .rooms import RoomManager

log = logging.getLogger("courtroom.speech")


def add_final_once(transcript: TranscriptService, hearing_id: str, participant_id: str, text: str, start: float,
                   end: float, words: list[dict[str, Any]], engine: str) -> Callable[[], Awaitable[Segment | None]]:
    """A final segment's write, safe for the outbox to retry: an attempt cut off after its
    insert was stored (the database lost between the insert and the read after it) is found
    on the next attempt, not stored twice."""
    tried = False
    first, last = max(0.0, float(start)), float(end)  # as add_final stores them
    last = max(first, last)

    async def store() -> Segment | None:
        nonlocal tried
        if tried:
            for s in await transcript.segments(hearing_id, corrected=False):
                if (s.participant_id, s.start, s.end, s.engine) == (participant_id, first, last, engine):
                    return s
        tried = True
        return await transcript.add_final(hearing_id, participant_id, text, start, end, words, engine)

    return store


class Speech:
    """The `SpeechSink` of every media room in this pod."""

    def __init__(self, court: Court, hub: Hub, rooms: RoomManager, transcript: TranscriptService,
                 transcriber: Transcriber, metrics: Metrics, engine_name: str,
                 config: Config | None = None) -> None:
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
        self._open: dict[str, int] = {}  # open recognizer streams per speaker
        transcriber.on_overload = self._overload_from_thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self.language = (config.asr_language or config.language) if config is not None else ""
        self.vocabulary = court_vocabulary(self.language, config.asr_vocabulary if config is not None else None)
        # the hearing's exhibit labels (set by the app: evidence lives in its own service)
        self.exhibit_labels: Callable[[str], Awaitable[list[str]]] | None = None
        self.record_engine = f"{transcriber.record.engine.name}-record" if transcriber.record is not None else ""
        # live finals being stored, by (participant, stream, turn), until the turn's reading
        self._turns: dict[tuple[str, int, int], list[asyncio.Task[Segment | None]]] = {}
        self._generation = 0
        self._streams: dict[str, list[SpeakerStream]] = {}
        # For the record's finishing step: where each speaker's audio that has not become a
        # final begins, and the finals being stored, per hearing (docs/record.md).
        self._stores: dict[str, set[asyncio.Task[Any]]] = {}
        self._last_final: dict[str, float] = {}
        self._open_since: dict[str, float] = {}
        self._audio_at_final: dict[str, float] = {}
        transcript.review.flushers.append(self.flush)
        transcript.review.pending_audio.append(self.pending)

    def open_speaker(self, participant: Participant) -> SpeechStream:
        self._loop = asyncio.get_running_loop()
        self._speakers[participant.id] = participant
        self._generation += 1
        generation = self._generation

        def on_result(result: SpeakerResult) -> None:
            self._on_result(result, generation)

        stream = self.transcriber.open_speaker(participant.id, on_result, self._loop)
        streams = self._streams.setdefault(participant.hearing_id, [])
        streams[:] = [s for s in streams if not s.closed.done()] + [stream]
        self._spawn(self._update_vocabulary(participant.hearing_id))
        self._open[participant.id] = self._open.get(participant.id, 0) + 1
        loop = self._loop

        # Forgotten once its last stream has delivered its last result (never before: a
        # closing stream still flushes a final segment).
        def released(_: object) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone at shutdown: nothing to free
                loop.call_soon_threadsafe(self._release, participant.id, participant.hearing_id)

        stream.closed.add_done_callback(released)
        return stream

    def _release(self, participant_id: str, hearing_id: str) -> None:
        streams = [s for s in self._streams.get(hearing_id, []) if not s.closed.done()]
        if streams:
            self._streams[hearing_id] = streams
        else:
            self._streams.pop(hearing_id, None)
        left = self._open.get(participant_id, 1) - 1
        if left > 0:
            self._open[participant_id] = left
            return
        self._open.pop(participant_id, None)
        self._speakers.pop(participant_id, None)
        self._overloaded.discard(participant_id)

    async def _update_vocabulary(self, hearing_id: str) -> None:
        """The record engine's words for this hearing, given to each of its speakers: names,
        case number and title, exhibits, the court's vocabulary (refreshed when one joins)."""
        if self.transcriber.record is None:
            return
        try:
            hearing = await self.court.get_hearing(hearing_id)
            people = await self.court.participants(hearing_id)
            exhibits = await self.exhibit_labels(hearing_id) if self.exhibit_labels is not None else []
        except Exception:  # noqa: BLE001 - the plain prompt still works
            log.exception("reading the hearing's words failed")
            return
        words = hearing_vocabulary(
            self.language, [p.name for p in people], hearing.case_number, hearing.title, exhibits, self.vocabulary,
        )
        for stream in self._streams.get(hearing_id, []):
            stream.vocabulary = words

    async def readings_done(self, timeout: float = 60.0) -> bool:
        """Wait (off the loop) until the record engine has read every turn handed to it, and
        the replacements are stored: for closing a hearing's record (finishing)."""
        reader = self.transcriber.record
        if reader is None:
            return True
        done = await asyncio.to_thread(reader.wait_idle, timeout)
        pending = [t for t in self._tasks if not t.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        return done

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # the record's finishing step
    def pending(self, hearing_id: str) -> list[dict[str, Any]]:
        """Each speaker whose stream is still open, with where its untranscribed audio may begin."""
        out: dict[str, dict[str, Any]] = {}
        for stream in self._streams.get(hearing_id, []):
            pid = stream.participant_id
            if stream.closed.done():
                continue
            stats = stream.stats()
            heard = stats.backlog_seconds > 0 or stats.audio_seconds > self._audio_at_final.get(pid, 0.0) + 0.05
            if pid not in self._open_since and not heard:
                continue  # silent since its last final: nothing of it can be missing
            p = self._speakers.get(pid)
            since = self._open_since.get(pid, self._last_final.get(pid, 0.0))
            out[pid] = {"participant": pid, "name": p.name if p else "", "since": round(since, 3)}
        return list(out.values())

    async def flush(self, hearing_id: str, timeout: float) -> list[dict[str, Any]]:
        """Close the hearing's streams, wait (bounded) for their last finals to be stored;
        return the speakers whose audio did not make it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        before = self.pending(hearing_id)
        streams = list(self._streams.get(hearing_id, []))
        waits = {asyncio.wrap_future(stream.close()): stream.participant_id for stream in streams}
        late: set[str] = set()
        if waits:
            _, not_done = await asyncio.wait(list(waits), timeout=max(0.0, deadline - loop.time()))
            late = {waits[f] for f in not_done}
            for f in not_done:
                f.cancel()
        stores = list(self._stores.get(hearing_id, set()))
        if stores:
            _, unstored = await asyncio.wait(stores, timeout=max(0.1, deadline - loop.time()))
            if unstored:
                late |= {stream.participant_id for stream in streams}
        # The record engine's second reading of each turn replaces texts: wait for it too.
        if not await self.readings_done(max(0.1, deadline - loop.time())):
            late |= {stream.participant_id for stream in streams}
        return [item for item in before if item["participant"] in late]

    # results, on the event loop
    def _on_result(self, result: SpeakerResult, generation: int = 0) -> None:
        p = self._speakers.get(result.participant_id)
        if p is None:
            return
        key = (p.id, generation, result.turn)
        if result.source == "record":
            self._spawn(self._replace_turn(p, key, result))
            return
        if result.source == "deferred":
            self._spawn(self._mark_deferred(p, key))
            return
        if not result.final:
            self._open_since.setdefault(p.id, result.start)
            self._show(p, {
                "id": f"partial-{p.id}", "speaker": p.id, "role": p.role.value, "name": p.name,
                "text": result.text, "final": False, "start": round(result.start, 3), "end": round(result.end, 3),
            })
            return
        self.metrics.inc("courtroom_asr_finals_total", engine=self.engine_name)
        self._open_since.pop(p.id, None)
        self._last_final[p.id] = max(self._last_final.get(p.id, 0.0), result.end)
        for stream in self._streams.get(p.hearing_id, []):
            if stream.participant_id == p.id and not stream.closed.done():
                self._audio_at_final[p.id] = stream.stats().audio_seconds
        task = self._spawn(self._store_and_show(p, result))
        if self.transcriber.record is not None:
            self._turns.setdefault(key, []).append(task)
            while len(self._turns) > 1000:  # a turn whose reading never came (too long to read)
                self._turns.pop(next(iter(self._turns)))
        stores = self._stores.setdefault(p.hearing_id, set())
        stores.add(task)
        task.add_done_callback(stores.discard)

    async def _store_and_show(self, p: Participant, result: SpeakerResult) -> Segment | None:
        def show(segment: Segment | None) -> None:  # in the outbox's order: captions in speaking order
            if segment is not None:
                self._show(p, segment.to_message())

        try:
            segment: Segment | None = await self.court.outbox.put(
                p.hearing_id, "transcript.segment",
                add_final_once(self.transcript, p.hearing_id, p.id, result.text, result.start, result.end,
                               [asdict(w) for w in result.words], self.engine_name),
                on_stored=show,
            )
        except OutboxFull:  # logged and counted by the outbox; the officers are told
            self.metrics.inc("courtroom_asr_finals_lost_total")
            return None
        except Exception:  # noqa: BLE001 - a refused segment (sealed record) must not end the stream
            log.exception("storing a final segment failed")
            return None
        return segment

    async def _turn_segments(self, key: tuple[str, int, int], keep: bool) -> list[int]:
        tasks = self._turns.get(key, []) if keep else self._turns.pop(key, [])
        stored = await asyncio.gather(*tasks, return_exceptions=True)
        return [s.id for s in stored if isinstance(s, Segment)]

    async def _replace_turn(self, p: Participant, key: tuple[str, int, int], result: SpeakerResult) -> None:
        """The record engine's reading of a whole turn takes the place of its live segments."""
        ids = await self._turn_segments(key, keep=False)
        if not ids or not result.text.strip():
            return  # nothing read (noise, an echo dropped): the live text stays
        try:
            changed: list[Segment] = await self.court.outbox.put(
                p.hearing_id, "transcript.reading", self.transcript.replace_with_reading,
                p.hearing_id, ids, result.text, result.start, result.end,
                [asdict(w) for w in result.words], self.record_engine,
            )
        except OutboxFull:
            return  # the live text stays in the record
        except ActionRefused as refused:  # sealed meanwhile: the record stays as confirmed
            log.warning("the record engine's reading of a turn of %s was not applied: %s", p.id, refused.message)
            return
        except Exception:  # noqa: BLE001 - the live text stays in the record
            log.exception("replacing a turn with the record engine's reading failed")
            return
        if changed:
            self.metrics.inc("courtroom_asr_record_readings_total")
        for segment in changed:
            self._show(p, segment.to_message())

    async def _mark_deferred(self, p: Participant, key: tuple[str, int, int]) -> None:
        """The record engine was behind: the turn keeps its live text for now, marked in the
        events, and is read when the speaker's stream closes."""
        ids = await self._turn_segments(key, keep=True)
        self.metrics.inc("courtroom_asr_record_deferred_total")
        if ids:
            await self._record(p, "asr.reread_pending", segments=ids)

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
        self._spawn(self._record(
            p, "asr.overload" if report.overloaded else "asr.recovered",
            dropped_seconds=round(report.dropped_seconds, 2), backlog_seconds=round(report.backlog_seconds, 2),
        ))

    async def _record(self, p: Participant, kind: str, **data: Any) -> None:
        """The pod's own event about a speaker, timed now, stored through the outbox (it waits
        out an outage); a hearing whose room has stopped is read from the store."""
        room = self.rooms.rooms.get(p.hearing_id)
        try:
            hearing = room.hearing if room is not None else await self.court.get_hearing(p.hearing_id)
            await record_event(self.court, hearing, kind, "system", p.id, **data)
        except OutboxFull:
            pass  # logged and counted by the outbox
        except Exception:  # noqa: BLE001 - a notice must never end the stream
            log.exception("recording %s failed", kind)

    def held(self) -> dict[str, int]:
        return {"speech_speakers": len(self._speakers), "speech_open": len(self._open),
                "speech_hearings": len(self._streams)}

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
