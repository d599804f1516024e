"""The live part: per-speaker voice gate → bounded backlog → worker threads → results on the
event loop, with times on the hearing clock.

Threading model.  ``SpeakerStream.push`` runs on the event loop: it copies the 20 ms chunk,
runs the voice gate (a dot product) and appends what the gate lets through to the speaker's
backlog under a short lock; it never waits for recognition.  A small pool of worker threads,
niced below the media threads, takes speakers in turn (at most ``slice_seconds`` of audio per
turn, so one talkative speaker cannot starve the others), resamples to 16 kHz, feeds the
speaker's own recognizer, and posts results back with ``loop.call_soon_threadsafe``.
A speaker is handled by one worker at a time, so results stay in order.

Turns and the record.  A speaker's *turn* runs from the gate opening until the gate has
stayed closed for ``turn_gap`` seconds (or a reset, a cut, the speaker leaving).  Every result
carries its turn number.  With a :class:`~asr.record_pass.RecordReader`, the worker keeps the
turn's 16 kHz audio (at most ``max_turn_seconds``) and hands the whole turn to it when the turn
ends; its reading comes back as a final with ``source="record"`` and the same turn number, to
replace that turn's live finals in the record.  A turn the reader has no room for comes back
as ``source="deferred"`` (the live text stays) and is read when the speaker's stream closes.

Memory.  A recognizer that has heard ``recycle_seconds`` of audio is replaced by a new one at
the next pause (Vosk's recognizers grow with the audio they have decoded).

Back-pressure.  A backlog holds at most ``max_backlog`` seconds of gated audio.  When it is
full the oldest audio is dropped, the open utterance is cut there, the speaker is flagged
overloaded and ``on_overload`` is called; the flag clears (and ``on_overload`` is called
again) once the backlog is down to a quarter of the bound and nothing has been dropped for
``recover_after`` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .engine import (
    RECOGNITION_NICE,
    SAMPLE_RATE,
    Engine,
    RecognitionResult,
    RecognizerStream,
    TimeMap,
    Word,
    default_workers,
    set_thread_nice,
)
from .gate import GateConfig, VoiceGate
from .record_pass import RecordReader, TurnJob
from .resample import IN_RATE, Resampler

__all__ = [
    "OverloadReport",
    "SpeakerResult",
    "SpeakerStats",
    "SpeakerStream",
    "Transcriber",
    "TranscriberStats",
    "default_workers",
]

log = logging.getLogger(__name__)

_END = object()  # utterance boundary in a backlog
_CLOSE = object()  # the speaker left: flush, free the recognizer
_TURN = object()  # the speaker's turn ended (a long enough pause)
ONSET_SNAP = 1.0  # a final whose first word starts this soon after the voice onset starts there


@dataclass(frozen=True, slots=True)
class _Onset:
    """Where the gate heard the voice begin (hearing time), ahead of the utterance's audio."""

    hearing_time: float
_BATCH = IN_RATE // 10  # wake a worker for 100 ms of audio (or an utterance boundary)


@dataclass(frozen=True, slots=True)
class SpeakerResult:
    """A transcript segment: ``start``/``end`` and word times are on the hearing clock."""

    participant_id: str
    text: str
    final: bool
    start: float
    end: float
    words: list[Word] = field(default_factory=list)
    language: str | None = None
    turn: int = 0  # the speaker's turn it belongs to (numbered from 0 per stream)
    #: live (captions, partial or final) | record (the record engine's reading of the whole
    #: turn: replaces the turn's live finals) | deferred (no reading now: read after the hearing)
    source: str = "live"


@dataclass(frozen=True, slots=True)
class OverloadReport:
    """``overloaded`` True: audio is being dropped; False: the speaker has caught up."""

    participant_id: str
    overloaded: bool
    dropped_seconds: float
    backlog_seconds: float


@dataclass(frozen=True, slots=True)
class SpeakerStats:
    participant_id: str
    backlog_seconds: float
    dropped_seconds: float
    overloaded: bool
    audio_seconds: float  # gated audio recognised so far
    busy_seconds: float  # wall time a worker spent on it (engines may compute on own threads)
    busy: bool  # audio queued or being recognised right now

    @property
    def rtf(self) -> float:
        """Worker seconds per second of gated audio."""
        return self.busy_seconds / self.audio_seconds if self.audio_seconds else 0.0


@dataclass(frozen=True, slots=True)
class TranscriberStats:
    speakers: dict[str, SpeakerStats]
    backlog_seconds: float  # the largest backlog
    dropped_seconds: float  # all speakers, including those who left
    overloaded: bool  # any speaker


ResultCallback = Callable[[SpeakerResult], None]
OverloadCallback = Callable[[OverloadReport], None]


class SpeakerStream:
    """One speaker's live recognition.  ``push``, ``reset`` and ``close`` are called on the
    event loop; everything else happens on a worker thread."""

    def __init__(
        self,
        transcriber: Transcriber,
        participant_id: str,
        on_result: ResultCallback,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.participant_id = participant_id
        self._transcriber = transcriber
        self._on_result = on_result
        self._loop = loop
        self._gate = VoiceGate(transcriber.gate_config, rate=IN_RATE)
        self._max_backlog = int(transcriber.max_backlog * IN_RATE)
        # shared with the worker, under _lock
        self._lock = threading.Lock()
        self._backlog: deque[object] = deque()
        self._backlog_samples = 0
        self._dropped_samples = 0
        self._cut = False  # audio was dropped: end the utterance before the next audio
        self._overloaded = False
        self._last_drop = 0.0
        self._scheduled = False
        self._closing = False
        self.closed: concurrent.futures.Future[None] = concurrent.futures.Future()
        # worker-only state
        self._stream: RecognizerStream | None = None
        self._resampler: Resampler | None = None
        self._utt_start = 0  # stream sample where the current utterance starts
        self._onset: float | None = None  # voice onset of the utterance not yet finalised
        self._times = TimeMap(SAMPLE_RATE)
        self._last_partial = 0.0
        self._partial_cost = 0.0  # seconds the last partial took
        self._partial_text = ""
        self._audio_samples = 0
        self._busy = 0.0
        self._finished = False
        self.recycled = 0  # recognizers renewed (bounded memory)
        # the turn (worker side)
        self._turn_no = 0
        self._turn_pieces: list[np.ndarray] = []
        self._turn_samples = 0
        self._turn_utt_start = 0
        self._turn_times = TimeMap(SAMPLE_RATE)
        self._turn_finals = 0
        self._turn_full = False
        self._deferred: deque[TurnJob] = deque()
        self._deferred_samples = 0
        # the turn (loop side): hearing time the gate closed, while the turn may go on
        self._quiet_since: float | None = None
        #: the hearing's words for the record engine's prompt (set on the loop, read by workers)
        self.vocabulary: str | None = None

    # ---- event loop side -------------------------------------------------------------

    def push(self, chunk: np.ndarray, hearing_time: float) -> None:
        """One chunk of 48 kHz mono int16 audio whose first sample was heard at
        ``hearing_time``.  Non-blocking."""
        if self._closing:
            return
        events = self._gate.process(np.array(chunk, dtype=np.int16).reshape(-1), hearing_time)
        turn_end = self._turn_clock(events, hearing_time)
        if events or turn_end:
            self._enqueue(events, turn_end=turn_end)
        elif self._overloaded:
            self._check_recovered()

    def _turn_clock(self, events: list, hearing_time: float) -> bool:
        """True once the gate has stayed closed ``turn_gap`` seconds after an utterance."""
        for event in events:
            if event.kind == "closed":
                self._quiet_since = hearing_time
            elif event.kind == "opened":
                self._quiet_since = None
        if self._quiet_since is not None and not self._gate.is_open:
            if hearing_time - self._quiet_since >= self._transcriber.turn_gap:
                self._quiet_since = None
                return True
        return False

    def reset(self) -> None:
        """End the current utterance and turn now (mute, recess): flushed as a final."""
        if not self._closing:
            self._quiet_since = None
            self._enqueue(self._gate.close(), turn_end=True)

    def close(self) -> concurrent.futures.Future[None]:
        """Flush the open utterance as a final and free the recognizer.  The returned future
        (also ``self.closed``; ``await asyncio.wrap_future(...)``) completes after the last
        result has been posted to the loop."""
        if not self._closing:
            items = self._gate.close()
            self._closing = True
            self._enqueue(items, closing=True)
        return self.closed

    def _enqueue(self, events: list, closing: bool = False, turn_end: bool = False) -> None:
        report = None
        recovered = False
        with self._lock:
            for event in events:
                if event.kind == "closed":
                    self._backlog.append(_END)
                    continue
                if event.kind == "opened" and event.chunks:
                    # The gate decides after `attack` of voice: the voice began that much earlier.
                    attack = self._gate.config.attack - event.chunks[-1][0].size / IN_RATE
                    self._backlog.append(_Onset(event.chunks[-1][1] - max(0.0, attack)))
                for samples, t in event.chunks:
                    self._backlog.append((samples, t))
                    self._backlog_samples += samples.size
            if turn_end:
                self._backlog.append(_TURN)
            if closing:
                self._backlog.append(_CLOSE)
            if self._backlog_samples > self._max_backlog:
                report = self._drop_oldest()
            elif self._overloaded:
                recovered = True
            boundary = closing or turn_end or (bool(events) and events[-1].kind != "audio")
            submit = not self._scheduled and (boundary or self._backlog_samples >= _BATCH)
            self._scheduled = self._scheduled or submit
        if report is not None:
            self._transcriber._report_overload(self._loop, report)
        elif recovered:
            self._check_recovered()
        if submit:
            self._transcriber._submit(self)

    def _check_recovered(self) -> None:
        """Clear the overload once the backlog is low and nothing was dropped for a while
        (hysteresis, so that a clerk's notice does not flap)."""
        with self._lock:
            if not (
                self._overloaded
                and self._backlog_samples <= self._max_backlog // 4
                and time.monotonic() - self._last_drop >= self._transcriber.recover_after
            ):
                return
            self._overloaded = False
            report = self._report()
        self._transcriber._report_overload(self._loop, report)

    def _drop_oldest(self) -> OverloadReport | None:
        """Under the lock: drop the oldest audio until the backlog fits."""
        while self._backlog_samples > self._max_backlog and self._backlog:
            item = self._backlog.popleft()
            if isinstance(item, tuple):
                self._backlog_samples -= item[0].size
                self._dropped_samples += item[0].size
                self._transcriber._dropped_samples += item[0].size
            elif item is _CLOSE:  # never drop the close marker
                self._backlog.appendleft(item)
                break
        self._cut = True
        self._last_drop = time.monotonic()
        if self._overloaded:
            return None
        self._overloaded = True
        return self._report()

    def _report(self) -> OverloadReport:
        return OverloadReport(
            self.participant_id,
            self._overloaded,
            self._dropped_samples / IN_RATE,
            self._backlog_samples / IN_RATE,
        )

    def stats(self) -> SpeakerStats:
        if self._overloaded:
            self._check_recovered()
        with self._lock:
            return SpeakerStats(
                self.participant_id,
                self._backlog_samples / IN_RATE,
                self._dropped_samples / IN_RATE,
                self._overloaded,
                self._audio_samples / IN_RATE,
                self._busy,
                self._scheduled or bool(self._backlog),
            )

    # ---- worker side -----------------------------------------------------------------

    def _take(self, budget: int) -> tuple[list[object], bool]:
        """Under the lock: up to ``budget`` samples of backlog items, and whether to cut."""
        items: list[object] = []
        with self._lock:
            cut, self._cut = self._cut, False
            taken = 0
            while self._backlog and taken < budget:
                item = self._backlog.popleft()
                items.append(item)
                if isinstance(item, tuple):
                    taken += item[0].size
            self._backlog_samples -= taken
        return items, cut

    def _work(self) -> None:
        """One turn on a worker thread: process a slice of the backlog, then requeue or rest."""
        busy0 = time.perf_counter()
        transcriber = self._transcriber
        items, cut = self._take(int(transcriber.slice_seconds * IN_RATE))
        try:
            if self._stream is None and not self._finished:
                self._stream = transcriber.engine.new_stream()
                if transcriber.warm_up:
                    self._stream.warm_up()
            if cut:
                self._end_utterance()
                self._end_turn()
            run: list[np.ndarray] = []  # contiguous chunks, resampled in one go
            pending = 0
            for item in items:
                if isinstance(item, _Onset):
                    self._onset = item.hearing_time
                    continue
                if isinstance(item, tuple):
                    chunk, hearing_time = item
                    self._anchor(pending, hearing_time)
                    run.append(chunk)
                    pending += chunk.size
                    continue
                self._feed(run)
                run, pending = [], 0
                if item is _TURN:
                    self._end_utterance()
                    self._end_turn()
                    continue
                self._end_utterance()
                if item is _CLOSE:
                    self._end_turn()
                    self._hand_in_deferred()
                    self._finish()
            self._feed(run)
            self._maybe_partial()
        except Exception:
            log.exception("speech recognition failed for %s", self.participant_id)
            self._resampler = None
            if any(item is _CLOSE for item in items) and not self._finished:
                self._finish()
        finally:
            self._busy += time.perf_counter() - busy0
        with self._lock:
            more = bool(self._backlog) and not self._finished
            self._scheduled = more
        if more:
            transcriber._submit(self)

    def _anchor(self, pending: int, hearing_time: float) -> None:
        """Map the stream position of a chunk (``pending`` samples after what the resampler
        has already seen) to its hearing time."""
        assert self._stream is not None
        if self._resampler is None:
            self._resampler = Resampler(IN_RATE)
            self._utt_start = self._stream.samples
            self._turn_utt_start = self._turn_samples
        fed = self._resampler.in_samples + pending
        position = round(fed * SAMPLE_RATE / IN_RATE)
        self._times.anchor(self._utt_start + position, hearing_time)
        if self._transcriber.record is not None and not self._turn_full:
            self._turn_times.anchor(self._turn_utt_start + position, hearing_time)

    def _feed(self, run: list[np.ndarray]) -> None:
        if not run or self._stream is None or self._resampler is None:
            return
        chunk = np.concatenate(run) if len(run) > 1 else run[0]
        self._audio_samples += chunk.size
        pcm = self._resampler.push(chunk)
        if pcm.size:
            self._keep(pcm)
            self._deliver(self._stream.accept(pcm.tobytes()))

    def _keep(self, pcm: np.ndarray) -> None:
        """The turn's audio, for the record engine (up to ``max_turn_seconds``)."""
        if self._transcriber.record is None or self._turn_full:
            return
        if self._turn_samples + pcm.size > self._transcriber.max_turn_seconds * SAMPLE_RATE:
            self._turn_full = True  # too long to read whole: this turn keeps its live text
            return
        self._turn_pieces.append(pcm)
        self._turn_samples += pcm.size

    def _end_utterance(self) -> None:
        if self._stream is None:
            return
        if self._resampler is not None:
            tail = self._resampler.flush()
            self._resampler = None
            if tail.size:
                self._keep(tail)
                self._deliver(self._stream.accept(tail.tobytes()))
        self._deliver(self._stream.end_utterance())
        self._partial_text = ""
        self._times.prune(self._stream.samples)
        self._maybe_recycle()

    def _maybe_recycle(self) -> None:
        """At a pause: renew a recognizer that has heard ``recycle_seconds`` (flat memory)."""
        limit = self._transcriber.recycle_seconds
        if self._stream is None or not limit or self._stream.samples < limit * SAMPLE_RATE:
            return
        self._stream.close()
        self._stream = self._transcriber.engine.new_stream()
        if self._transcriber.warm_up:
            self._stream.warm_up()
        self._times = TimeMap(SAMPLE_RATE)
        self.recycled += 1

    def _end_turn(self) -> None:
        """Hand the finished turn to the record engine (or keep it aside); start the next."""
        record = self._transcriber.record
        if record is not None and self._turn_finals and self._turn_samples and not self._turn_full:
            audio = (
                np.concatenate(self._turn_pieces)
                if len(self._turn_pieces) > 1
                else self._turn_pieces[0]
            )
            job = TurnJob(
                self.participant_id, self._turn_no, audio, self._turn_times, self.vocabulary,
                self._record_done,
            )
            if not record.submit(job):
                self._defer(job)
        self._turn_no += 1
        self._turn_pieces = []
        self._turn_samples = 0
        self._turn_utt_start = 0
        self._turn_times = TimeMap(SAMPLE_RATE)
        self._turn_finals = 0
        self._turn_full = False

    def _defer(self, job: TurnJob) -> None:
        """The record engine is behind: keep the turn for after the hearing (bounded)."""
        job.deferred = True
        self._deferred.append(job)
        self._deferred_samples += job.audio.size
        limit = self._transcriber.max_deferred_seconds * SAMPLE_RATE
        while self._deferred_samples > limit and len(self._deferred) > 1:
            lost = self._deferred.popleft()
            self._deferred_samples -= lost.audio.size
            log.warning("turn %d of %s will not be re-read: too many turns waiting",
                        lost.turn, self.participant_id)
        self._post(self._on_result, SpeakerResult(
            self.participant_id, "", True, job.times.to_hearing(0.0),
            job.times.to_hearing(job.seconds), [], None, job.turn, "deferred",
        ))

    def _hand_in_deferred(self) -> None:
        record = self._transcriber.record
        while record is not None and self._deferred:
            record.submit(self._deferred.popleft(), force=True)
        self._deferred_samples = 0

    def _record_done(self, job: TurnJob, results: list[RecognitionResult]) -> None:
        """On the record thread: the turn's reading, on the hearing clock, to the loop."""
        to_hearing = job.times.to_hearing
        words = [
            Word(w.word, to_hearing(w.start), to_hearing(w.end), w.conf)
            for r in results for w in r.words
        ]
        texts = [r.text for r in results if r.text]
        language = results[0].language if results else None
        spaced = language not in ("zh", "ja", "th", "lo", "my", "yue")
        if results:
            start, end = to_hearing(results[0].start), to_hearing(results[-1].end)
        else:
            start, end = to_hearing(0.0), to_hearing(job.seconds)
        self._post(self._on_result, SpeakerResult(
            self.participant_id, (" " if spaced else "").join(texts), True, start, end, words,
            language, job.turn, "record",
        ))

    def _maybe_partial(self) -> None:
        stream = self._stream
        if stream is None or not stream.has_partials or self._resampler is None:
            return
        now = time.monotonic()
        # A partial may cost a whole decoding pass (Whisper): at most a third of the time.
        interval = max(
            self._transcriber.partial_interval, stream.partial_interval or 0.0, 2.0 * self._partial_cost
        )
        if now - self._last_partial < interval:
            return
        with self._lock:
            behind = self._backlog_samples > IN_RATE // 2
        if behind or not self._transcriber._queue.empty():
            return  # catching up, or other speakers wait: finals matter, partials would be stale
        t0 = time.perf_counter()
        result = stream.partial()
        self._partial_cost = time.perf_counter() - t0
        self._last_partial = time.monotonic()
        if result is not None and result.text != self._partial_text:
            self._partial_text = result.text
            self._deliver([result])

    def _finish(self) -> None:
        self._finished = True
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self._transcriber._forget(self)
        with self._lock:
            self._backlog.clear()
            self._backlog_samples = 0
        # Posted through the loop so that it completes after the results posted before it.
        self._post(self._complete_close)

    def _complete_close(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def _deliver(self, results: list[RecognitionResult]) -> None:
        for r in results:
            if r.final:
                self._partial_text = ""
            to_hearing = self._times.to_hearing
            words = [Word(w.word, to_hearing(w.start), to_hearing(w.end), w.conf) for w in r.words]
            start = to_hearing(r.start)
            if r.final and self._onset is not None:
                # A recognizer may miss or misplace a quiet first word; the utterance still
                # began where the voice did, which is what captions must line up with.
                if 0.0 <= start - self._onset <= ONSET_SNAP:
                    start = self._onset
                self._onset = None
            if r.final:
                self._turn_finals += 1
            out = SpeakerResult(
                self.participant_id,
                r.text,
                r.final,
                start,
                to_hearing(r.end),
                words,
                r.language,
                self._turn_no,
            )
            self._post(self._on_result, out)

    def _post(self, callback: Callable, *args: object) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            if callback == self._complete_close:
                self._complete_close()


class Transcriber:
    """Live speech recognition for a process: one loaded engine, a few worker threads and a
    :class:`SpeakerStream` per speaker."""

    def __init__(
        self,
        engine: Engine,
        *,
        workers: int | None = None,
        max_backlog: float = 30.0,
        gate_config: GateConfig | None = None,
        on_overload: OverloadCallback | None = None,
        partial_interval: float = 0.3,
        slice_seconds: float = 1.0,
        warm_up: bool = True,
        recover_after: float = 2.0,
        nice: int = RECOGNITION_NICE,
        record: RecordReader | None = None,
        turn_gap: float = 1.0,
        max_turn_seconds: float = 60.0,
        max_deferred_seconds: float = 600.0,
        recycle_seconds: float = 300.0,
    ) -> None:
        self.engine = engine
        self.record = record
        self.turn_gap = turn_gap
        self.max_turn_seconds = max_turn_seconds
        self.max_deferred_seconds = max_deferred_seconds
        self.recycle_seconds = recycle_seconds
        self.workers = workers or default_workers()
        self.max_backlog = max_backlog
        self.gate_config = gate_config or GateConfig()
        self.on_overload = on_overload
        self.partial_interval = partial_interval
        self.slice_seconds = slice_seconds
        self.warm_up = warm_up
        self.recover_after = recover_after
        self.nice = nice
        self._speakers: dict[int, SpeakerStream] = {}
        self._speakers_lock = threading.Lock()
        self._dropped_samples = 0
        self._queue: queue.SimpleQueue[SpeakerStream | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._run, name=f"asr-worker-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    def open_speaker(
        self,
        participant_id: str,
        on_result: ResultCallback,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> SpeakerStream:
        """Start a speaker's stream (its recognizer is created and warmed on a worker)."""
        loop = loop or asyncio.get_running_loop()
        speaker = SpeakerStream(self, participant_id, on_result, loop)
        with self._speakers_lock:
            self._speakers[id(speaker)] = speaker
        with speaker._lock:
            speaker._scheduled = True
        self._submit(speaker)  # create and warm the recognizer before the first words
        return speaker

    def stats(self) -> TranscriberStats:
        with self._speakers_lock:
            speakers = list(self._speakers.values())
        per = {s.participant_id: s.stats() for s in speakers}
        return TranscriberStats(
            per,
            max((s.backlog_seconds for s in per.values()), default=0.0),
            self._dropped_samples / IN_RATE,
            any(s.overloaded for s in per.values()),
        )

    def close(self, wait: float = 0.0) -> None:
        """Stop the workers once the work queued so far is done (close the speakers first to
        flush their last utterances).  ``wait`` > 0 joins them for up to that many seconds,
        which blocks: not on the event loop."""
        for _ in self._threads:
            self._queue.put(None)
        deadline = time.monotonic() + wait
        for thread in self._threads:
            if wait > 0:
                thread.join(max(0.0, deadline - time.monotonic()))
        if self.record is not None:  # after the workers: their last turns are queued by now
            self.record.close(max(0.0, deadline - time.monotonic()) if wait > 0 else 0.0)

    # ---- internals -------------------------------------------------------------------

    def _submit(self, speaker: SpeakerStream) -> None:
        self._queue.put(speaker)

    def _forget(self, speaker: SpeakerStream) -> None:
        with self._speakers_lock:
            self._speakers.pop(id(speaker), None)

    def _report_overload(self, loop: asyncio.AbstractEventLoop, report: OverloadReport) -> None:
        if report.overloaded:
            log.warning(
                "speech recognition overloaded for %s: dropping audio (%.2f s so far)",
                report.participant_id,
                report.dropped_seconds,
            )
        if self.on_overload is not None:
            try:
                loop.call_soon_threadsafe(self.on_overload, report)
            except RuntimeError:
                pass

    def _run(self) -> None:
        set_thread_nice(self.nice)  # recognition yields to the media threads
        while True:
            speaker = self._queue.get()
            if speaker is None:
                return
            speaker._work()
