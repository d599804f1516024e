"""Side effects of a change, out of the request that made it.

A state change commits, answers, and then its effects run: the socket fan-out, the media
room, the recording, the replay, the ledger deposit. Each hearing has one FIFO of effects,
run one after another by its own task (their order is the order of the changes); each
effect is awaited on its own, so one that fails is recorded (`effect.failed`) and the next
one still runs. Effects that matter to the record (`report=True`) also record
`effect.done` with how long they took.

An effect that fails because the court's database is unreachable did nothing wrong: it is
handed to the outbox (`courtroom.outbox`), which retries it until the database is back, and
the hearing's later effects wait for it (their order is kept). Only if the outbox is full
is it recorded as failed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .outbox import is_outage

if TYPE_CHECKING:
    from .outbox import Outbox

log = logging.getLogger("courtroom.effects")

MAX_PENDING = 10_000  # per hearing: changes come at human pace; this only bounds a runaway

Recorder = Callable[..., Awaitable[object]]  # Court.record_event


@dataclass
class _Effect:
    name: str
    run: Callable[[], Awaitable[object] | object]
    report: bool


class Effects:
    def __init__(self, record_event: Recorder | None = None, outbox: Outbox | None = None) -> None:
        self._record = record_event
        self._outbox = outbox
        self.retried = 0
        self._queues: dict[str, asyncio.Queue[_Effect]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self.failed = 0
        self.done = 0

    def submit(self, hearing_id: str, name: str, run: Callable[[], Awaitable[object] | object], report: bool = False) -> None:
        """Queue `run` (a function, sync or async) behind the hearing's earlier effects."""
        queue = self._queues.get(hearing_id)
        if queue is None:
            queue = self._queues[hearing_id] = asyncio.Queue(MAX_PENDING)
        try:
            queue.put_nowait(_Effect(name, run, report))
        except asyncio.QueueFull:
            log.error("hearing %s has %d effects waiting; dropping %s", hearing_id, MAX_PENDING, name)
            self.failed += 1
            return
        worker = self._workers.get(hearing_id)
        if worker is None or worker.done():
            self._workers[hearing_id] = asyncio.get_running_loop().create_task(
                self._work(hearing_id, queue), name=f"effects-{hearing_id}"
            )

    def pending(self, hearing_id: str) -> int:
        queue = self._queues.get(hearing_id)
        return queue.qsize() if queue is not None else 0

    def busy(self) -> int:
        """How many hearings have effects running or waiting now (0: every change has settled)."""
        return sum(1 for worker in self._workers.values() if not worker.done())

    async def _work(self, hearing_id: str, queue: asyncio.Queue[_Effect]) -> None:
        while not queue.empty():
            effect = queue.get_nowait()
            t0 = time.monotonic()
            try:
                try:
                    await _run(effect)
                except Exception as exc:
                    if self._outbox is None or not is_outage(exc):
                        raise
                    self.retried += 1
                    log.warning("effect %s of hearing %s waits for the database: %s", effect.name, hearing_id, exc)
                    # its own key: an effect that itself writes through the outbox never waits behind itself
                    await self._outbox.put(f"effects:{hearing_id}", effect.name, _runner(effect))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - one failing effect never skips the others
                self.failed += 1
                log.exception("effect %s of hearing %s failed", effect.name, hearing_id)
                await self._note(hearing_id, "effect.failed", effect.name, error=f"{type(exc).__name__}: {exc}"[:500])
            else:
                self.done += 1
                if effect.report:
                    await self._note(hearing_id, "effect.done", effect.name, seconds=round(time.monotonic() - t0, 3))
            finally:
                queue.task_done()
        if self._workers.get(hearing_id) is asyncio.current_task():
            del self._workers[hearing_id]

    async def _note(self, hearing_id: str, kind: str, name: str, **data: object) -> None:
        if self._record is None:
            return
        try:
            await self._record(hearing_id, kind, "system", None, effect=name, **data)
        except Exception:  # noqa: BLE001 - the store may be closing; the log has it
            log.exception("recording %s of %s failed", kind, name)

    async def wait(self, hearing_id: str, timeout: float = 60.0) -> bool:
        """Until the hearing's effects queued so far have run (True), or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            worker = self._workers.get(hearing_id)
            if worker is None or worker.done():
                return True
            await asyncio.wait({worker}, timeout=max(0.0, deadline - time.monotonic()))
        return False

    async def drain(self, timeout: float = 60.0) -> None:
        """Run out every hearing's effects (at shutdown); cancel what is still running after `timeout`."""
        workers = [w for w in self._workers.values() if not w.done()]
        if not workers:
            return
        _, late = await asyncio.wait(workers, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)


async def _run(effect: _Effect) -> None:
    result = effect.run()
    if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
        await result


def _runner(effect: _Effect) -> Callable[[], Awaitable[None]]:
    async def again() -> None:  # a coroutine function: the outbox awaits it on the loop
        await _run(effect)

    return again
