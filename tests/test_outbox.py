"""The outbox (courtroom/outbox.py) with a database that fails on demand: order, backoff,
the bound, on_stored, the store's state told to its listeners; effects retried through it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from courtroom.database import Database
from courtroom.effects import Effects
from courtroom.outbox import Outbox, OutboxFull, Status
from courtroom.postgres import DatabaseUnavailable


class Flaky:
    """A database that is down until `up()`; a write done while down raises DatabaseUnavailable."""

    def __init__(self) -> None:
        self.down = False
        self.stored: list[tuple[str, Any]] = []
        self.attempts = 0

    async def run(self, fn: Callable[..., Any], *args: object) -> Any:
        return fn(*args)

    def write(self, key: str, value: Any) -> Any:
        self.attempts += 1
        if self.down:
            raise DatabaseUnavailable("cannot reach the database postgresql://db/court: connection refused")
        self.stored.append((key, value))
        return value


class Delays:
    """The backoff's waits, counted; each lets the loop run once (no wall-clock time)."""

    def __init__(self) -> None:
        self.seen: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.seen.append(delay)
        await asyncio.sleep(0)


async def _until(check: Callable[[], bool], rounds: int = 10_000) -> None:
    for _ in range(rounds):
        if check():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_writes_wait_out_an_outage_in_order_and_are_shown_once_stored() -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=100, first_delay=0.25, max_delay=2.0, sleep=delays)
    told: list[Status] = []
    outbox.listeners.append(told.append)
    shown: list[int] = []
    db.down = True
    futures = [outbox.submit("h1", f"w{i}", db.write, "h1", i, on_stored=shown.append) for i in range(5)]
    await _until(lambda: len(delays.seen) >= 6)
    assert db.stored == [] and shown == []  # nothing stored, nothing shown
    assert outbox.pending == 5 and not outbox.available
    assert told[0]["state"] == "unavailable" and told[0]["pending"] == 5
    # Backoff doubles from the first delay up to the cap, and the head write is the one retried.
    assert delays.seen[:6] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]

    db.down = False
    results = await asyncio.gather(*futures)
    assert results == [0, 1, 2, 3, 4]
    assert db.stored == [("h1", i) for i in range(5)]  # in order, each once
    assert shown == [0, 1, 2, 3, 4]
    assert outbox.pending == 0 and outbox.available
    assert told[-1] == {**told[-1], "state": "restored", "stored": 5, "lost": 0, "pending": 0}
    assert outbox.stored_total == 5


async def test_the_bound_refuses_loudly_and_memory_stays_bounded(caplog: pytest.LogCaptureFixture) -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=3, sleep=delays, notice_interval=0.0)
    told: list[Status] = []
    outbox.listeners.append(told.append)
    db.down = True
    kept = [outbox.submit("h1", "segment", db.write, "h1", i) for i in range(3)]
    refused = 0
    for i in range(3, 200):
        with pytest.raises(OutboxFull):
            outbox.submit("h1", "segment", db.write, "h1", i)
        refused += 1
    assert outbox.pending == 3  # never more than the bound
    assert sum(len(q) for q in outbox._queues.values()) == 3
    assert outbox.lost_total == refused == 197
    assert "is lost" in caplog.text
    await _until(lambda: any(s["state"] == "unavailable" and s["lost"] == 197 for s in told))
    db.down = False
    assert await asyncio.gather(*kept) == [0, 1, 2]
    restored = told[-1]
    assert restored["state"] == "restored" and restored["stored"] == 3 and restored["lost"] == 197
    assert outbox.status()["lost"] == 0  # the next outage counts afresh; the total stays
    assert outbox.lost_total == 197


async def test_a_wrong_write_fails_alone_and_is_not_retried() -> None:
    db = Flaky()
    outbox = Outbox(db, limit=10)

    def wrong(value: int) -> int:
        raise ValueError(f"no participant {value}")

    bad = outbox.submit("h1", "bad", wrong, 7)
    good = outbox.submit("h1", "good", db.write, "h1", 8)
    with pytest.raises(ValueError, match="no participant 7"):
        await bad
    assert await good == 8
    assert outbox.available and outbox.retries_total == 0


async def test_keys_do_not_wait_for_each_other() -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=10, sleep=delays)
    stuck = asyncio.Event()

    async def blocked() -> None:  # hearing A's write cannot finish yet
        await stuck.wait()

    a = outbox.submit("A", "slow", blocked)
    b = outbox.put("B", "quick", db.write, "B", 1)
    assert await asyncio.wait_for(b, 5) == 1
    assert not a.done()
    stuck.set()
    await a


async def test_plain_functions_run_on_the_database_thread_and_coroutines_on_the_loop(tmp_path: Path) -> None:
    db = Database(tmp_path / "c.sqlite3")
    try:
        outbox = Outbox(db, limit=10)
        name = await outbox.put("h1", "where", lambda: threading.current_thread().name)
        assert name.startswith("db")

        async def on_loop() -> str:
            return threading.current_thread().name

        assert await outbox.put("h1", "where", on_loop) == threading.current_thread().name
    finally:
        db.close()


async def test_a_cancelled_caller_does_not_cancel_its_write() -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=10, sleep=delays)
    db.down = True
    caller = asyncio.create_task(outbox.put("h1", "segment", db.write, "h1", 1))
    await _until(lambda: len(delays.seen) >= 2)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    db.down = False
    await _until(lambda: db.stored == [("h1", 1)])


async def test_shutdown_during_an_outage_tells_the_waiting_callers() -> None:
    db = Flaky()
    outbox = Outbox(db, limit=10, first_delay=30.0)
    db.down = True
    waiting = [outbox.submit("h1", "segment", db.write, "h1", i) for i in range(3)]
    assert await outbox.drain(timeout=0.2) is False
    for future in waiting:
        with pytest.raises(DatabaseUnavailable, match="stopped before"):
            await future
    assert outbox.pending == 0 and outbox.lost_total == 3


async def test_an_effect_that_meets_an_outage_is_retried_not_failed() -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=10, sleep=delays)
    notes: list[str] = []

    async def record(hearing_id: str, kind: str, *args: Any, **data: Any) -> None:
        notes.append(kind)

    effects = Effects(record, outbox)
    order: list[str] = []
    db.down = True

    def first() -> None:
        db.write("h1", "first")
        order.append("first")

    effects.submit("h1", "first", first)
    effects.submit("h1", "second", lambda: order.append("second"))
    await _until(lambda: len(delays.seen) >= 3)
    assert order == []  # the later effect waits: the order of the changes is kept
    db.down = False
    assert await effects.wait("h1", 5)
    assert order == ["first", "second"]
    assert effects.failed == 0 and effects.retried == 1 and "effect.failed" not in notes


async def test_an_effect_refused_by_a_full_outbox_is_recorded_as_failed() -> None:
    db, delays = Flaky(), Delays()
    outbox = Outbox(db, limit=1, sleep=delays)
    db.down = True
    outbox.submit("other", "segment", db.write, "other", 1)  # the one place is taken
    notes: list[dict[str, Any]] = []

    async def record(hearing_id: str, kind: str, *args: Any, **data: Any) -> None:
        notes.append({"kind": kind, **data})

    effects = Effects(record, outbox)
    effects.submit("h1", "push", lambda: db.write("h1", "x"))
    assert await effects.wait("h1", 5)
    assert effects.failed == 1
    assert notes and notes[0]["kind"] == "effect.failed" and "OutboxFull" in notes[0]["error"]
    db.down = False
    await outbox.drain(5)


async def test_a_segment_cut_off_after_its_insert_is_not_stored_twice(court: Any) -> None:
    """The database is lost between a segment's insert and the read after it: the outbox
    retries, and the retry finds the stored segment instead of inserting it again."""
    from courtroom.court import Actor
    from courtroom.transcript import TranscriptService
    from signaling.speech import add_final_once

    clerk = Actor.clerk()
    hearing = await court.create_hearing({"case_number": "(2026)京0491民初1号", "procedure": "small_claims"}, clerk)
    speaker, _ = await court.add_participant(hearing.id, {"role": "plaintiff", "name": "张三"}, clerk)
    transcript = TranscriptService(court)
    refresh = transcript.review.refresh
    cuts = 0

    async def cut_once(*args: Any) -> Any:  # after the insert: the connection is lost once
        nonlocal cuts
        if cuts == 0:
            cuts += 1
            raise DatabaseUnavailable("lost the database in a transaction: server closed the connection")
        return await refresh(*args)

    transcript.review.refresh = cut_once  # type: ignore[method-assign]
    delays = Delays()
    court.outbox._sleep = delays
    store = add_final_once(transcript, hearing.id, speaker.id, "我方请求被告支付货款。", 1.5, 3.25, [], "vosk")
    segment = await court.outbox.put(hearing.id, "transcript.segment", store)
    assert cuts == 1 and delays.seen  # it was retried
    stored = await transcript.segments(hearing.id)
    assert [s.id for s in stored] == [segment.id]  # once
    assert stored[0].text == "我方请求被告支付货款。" and (stored[0].start, stored[0].end) == (1.5, 3.25)
