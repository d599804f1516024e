"""The pod's own writes, kept through a database outage (issue 19, "Bad input and faults").

A person's request that cannot be stored is refused (503: nothing is acknowledged that was
not stored). What the pod writes by itself during a hearing (transcript segments, presence,
effects, health events) has nobody to answer to: it waits here, in order, and is retried
with backoff until the court's database is back. Memory stays bounded: past `limit` waiting
writes a new one is refused, logged and counted, and the officers are told how many were lost.

Per key (a hearing id) one FIFO and one worker, so a hearing's writes are stored in the
order they were made and one hearing's write never waits behind another's. Whoever needs to
show what was stored (a caption) does so once it is stored: `await put(...)` returns the
write's result, or `on_stored` is called with it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from .events import Event
from .postgres import DatabaseUnavailable

if TYPE_CHECKING:
    from .court import Court
    from .hearing import Hearing

log = logging.getLogger("courtroom.outbox")

Status = dict[str, Any]  # {"state": "available" | "unavailable" | "restored", "pending", "stored", "lost"}


class Runner(Protocol):
    async def run(self, fn: Callable[..., Any], *args: object) -> Any: ...


class OutboxFull(RuntimeError):
    """The write was refused: `limit` writes are already waiting for the database."""


def is_outage(exc: BaseException) -> bool:
    """The database cannot be reached (retry later), as opposed to a write that is wrong."""
    return isinstance(exc, DatabaseUnavailable)


@dataclass
class _Write:
    label: str
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    on_stored: Callable[[Any], Any] | None
    future: asyncio.Future[Any] = field(repr=False)


class Outbox:
    def __init__(self, db: Runner, limit: int = 2000, first_delay: float = 0.25, max_delay: float = 5.0,
                 notice_interval: float = 1.0,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        if limit < 1:
            raise ValueError("the outbox holds at least one write")
        self.db = db
        self.limit = limit
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.notice_interval = notice_interval
        self._sleep = sleep  # the backoff's wait (a test counts the delays)
        self.listeners: list[Callable[[Status], None]] = []  # told of each change of the store's state
        self._queues: dict[str, deque[_Write]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.pending = 0
        self.available = True
        self.error = ""
        # Totals since start (for /metrics), and for the outage under way (for the officers).
        self.stored_total = 0
        self.lost_total = 0
        self.retries_total = 0
        self._stored = 0
        self._lost = 0
        self._told: tuple[int, int] = (0, 0)
        self._told_at = 0.0

    # writing
    def submit(self, key: str, label: str, fn: Callable[..., Any], *args: Any,
               on_stored: Callable[[Any], Any] | None = None) -> asyncio.Future[Any]:
        """Queue a write behind the key's earlier ones. `fn` is a coroutine function (a
        service's async method, awaited on the loop) or a plain function (run on the db
        thread). Raises OutboxFull when `limit` writes are waiting."""
        if self.pending >= self.limit:
            self.lost_total += 1
            self._lost += 1
            log.error("the store is behind by %d writes: %s of %s is lost", self.pending, label, key)
            self._tell(force=self._lost == 1)
            raise OutboxFull(f"{self.pending} writes are waiting for the database; {label} was not stored")
        loop = asyncio.get_running_loop()
        write = _Write(label, fn, args, on_stored, loop.create_future())
        queue = self._queues.setdefault(key, deque())
        queue.append(write)
        self.pending += 1
        worker = self._workers.get(key)
        if worker is None or worker.done():
            self._workers[key] = loop.create_task(self._work(key, queue), name=f"outbox-{key}")
        return write.future

    async def put(self, key: str, label: str, fn: Callable[..., Any], *args: Any,
                  on_stored: Callable[[Any], Any] | None = None) -> Any:
        """Queue a write and wait until it is stored; returns what `fn` returned. A caller
        cancelled meanwhile does not cancel the write."""
        return await asyncio.shield(self.submit(key, label, fn, *args, on_stored=on_stored))

    def status(self) -> Status:
        state = "available" if self.available else "unavailable"
        return {"state": state, "pending": self.pending, "stored": self._stored, "lost": self._lost,
                "lost_total": self.lost_total, "limit": self.limit, "error": self.error}

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        """For /metrics (signaling/metrics.py): the store's state and the writes waiting."""
        return [
            ("courtroom_store_available", "0 while the court's database cannot be reached", {}, float(self.available)),
            ("courtroom_store_pending", "the pod's own writes waiting for the database", {}, float(self.pending)),
            ("courtroom_store_stored_total", "the pod's own writes stored through the outbox", {}, float(self.stored_total)),
            ("courtroom_store_lost_total", "the pod's own writes refused because the outbox was full", {},
             float(self.lost_total)),
            ("courtroom_store_retries_total", "writes retried while the database was unreachable", {},
             float(self.retries_total)),
        ]

    # the worker of one key
    async def _work(self, key: str, queue: deque[_Write]) -> None:
        delay = self.first_delay
        try:
            while queue:
                write = queue[0]
                try:
                    result = await self._run(write)
                except asyncio.CancelledError:
                    self._abandon(queue)
                    raise
                except Exception as exc:  # noqa: BLE001 - an outage is retried; any other error is the write's
                    if is_outage(exc):
                        self.retries_total += 1
                        self._unavailable(exc)
                        try:
                            await self._sleep(delay)
                        except asyncio.CancelledError:
                            self._abandon(queue)
                            raise
                        delay = min(self.max_delay, delay * 2)
                        continue
                    queue.popleft()
                    self.pending -= 1
                    log.warning("the write %s of %s failed: %s", write.label, key, exc)
                    _fail(write, exc)
                    self._maybe_restored()
                    continue
                queue.popleft()
                self.pending -= 1
                self.stored_total += 1
                delay = self.first_delay
                if not self.available:
                    self._stored += 1
                await self._stored_hook(write, result)
                if not write.future.done():
                    write.future.set_result(result)
                self._maybe_restored()
        finally:
            if self._workers.get(key) is asyncio.current_task():
                del self._workers[key]
            if not queue and self._queues.get(key) is queue:
                del self._queues[key]

    def _abandon(self, queue: deque[_Write]) -> None:
        """Shutdown cut the wait short: whoever waits is told, the count is right."""
        self.pending -= len(queue)
        self.lost_total += len(queue)
        for write in queue:
            _fail(write, DatabaseUnavailable(f"the pod stopped before {write.label} could be stored"))
        queue.clear()

    async def _run(self, write: _Write) -> Any:
        if inspect.iscoroutinefunction(write.fn):
            return await write.fn(*write.args)
        return await self.db.run(write.fn, *write.args)

    async def _stored_hook(self, write: _Write, result: Any) -> None:
        if write.on_stored is None:
            return
        try:
            shown = write.on_stored(result)
            if inspect.isawaitable(shown):
                await shown
        except Exception:  # noqa: BLE001 - the write is stored; a failing push must not redo it
            log.exception("after storing %s", write.label)

    # the store's state, told to the listeners
    def _unavailable(self, exc: BaseException) -> None:
        self.error = str(exc)[:300]
        if self.available:
            self.available = False
            self._stored = 0
            log.error("the court's database is unreachable; %d writes wait: %s", self.pending, self.error)
            self._tell(force=True)
        else:
            self._tell()

    def _maybe_restored(self) -> None:
        if self.available or self.pending:
            return
        self.available = True
        log.warning("the court's database is back: %d waiting writes stored, %d lost", self._stored, self._lost)
        self._emit({**self.status(), "state": "restored"})
        self._stored = self._lost = 0
        self.error = ""

    def _tell(self, force: bool = False) -> None:
        """While unavailable: the pending and lost counts, at most once per `notice_interval`."""
        if self.available and not force:
            return
        now = time.monotonic()
        seen = (self.pending, self._lost)
        if not force and (seen == self._told or now - self._told_at < self.notice_interval):
            return
        self._told, self._told_at = seen, now
        self._emit(self.status())

    def _emit(self, status: Status) -> None:
        for listener in list(self.listeners):
            try:
                listener(status)
            except Exception:  # noqa: BLE001 - telling must never stop the writes
                log.exception("an outbox listener failed")

    async def drain(self, timeout: float = 10.0) -> bool:
        """Until every waiting write is stored or failed (True), or `timeout` passes (at
        shutdown: what is still waiting then is lost, and logged)."""
        workers = [w for w in self._workers.values() if not w.done()]
        if workers:
            _, late = await asyncio.wait(workers, timeout=timeout)
            for task in late:
                task.cancel()
            if late:
                await asyncio.gather(*late, return_exceptions=True)
                log.error("%d writes were still waiting for the database at shutdown: lost", self.pending)
                return False
        return True


def _fail(write: _Write, exc: BaseException) -> None:
    if not write.future.done():
        write.future.set_exception(exc)
        write.future.exception()  # retrieved: a caller who did not wait is not warned


def record_event(court: Court, hearing: Hearing, kind: str, actor: str | None, subject: str | None = None,
                 **data: Any) -> asyncio.Future[Any]:
    """An event the pod records by itself (a drop, an overload, a recording's health), timed
    now and stored when the database can take it; the event listeners (the officers' event
    log) hear of it once it is stored. Raises OutboxFull like `Outbox.submit`."""
    event = Event(hearing.id, kind, actor, subject, data, court.hearing_time(hearing), time.time())
    return court.outbox.submit(hearing.id, kind, court.store.hearings.append_event, event,
                               on_stored=court.announce_event)
