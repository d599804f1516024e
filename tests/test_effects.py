"""Side effects run after the change, in order, each on its own: a failure skips nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from courtroom.effects import Effects


async def test_effects_run_in_order_and_a_failure_skips_nothing() -> None:
    notes: list[tuple[str, str, dict[str, Any]]] = []
    ran: list[str] = []

    async def record(hearing_id: str, kind: str, actor: str, subject: Any = None, **data: Any) -> None:
        notes.append((hearing_id, kind, data))

    effects = Effects(record)

    async def slow() -> None:
        await asyncio.sleep(0.05)
        ran.append("slow")

    def boom() -> None:
        ran.append("boom")
        raise RuntimeError("the replay could not be built")

    effects.submit("h1", "recording.stop", slow, report=True)
    effects.submit("h1", "replay.build", boom, report=True)
    effects.submit("h1", "ledger.deposit", lambda: ran.append("deposit"), report=True)
    effects.submit("h1", "notify", lambda: ran.append("notify"))  # not reported when done
    effects.submit("h2", "other", lambda: ran.append("other"))
    assert ran == []  # nothing runs inside the submitting call: the request answers first
    assert await effects.wait("h1", 5.0)
    await effects.drain(5.0)
    assert ran.index("slow") < ran.index("boom") < ran.index("deposit") < ran.index("notify")
    assert "other" in ran
    kinds = [(k, d.get("effect")) for _, k, d in notes]
    assert kinds == [("effect.done", "recording.stop"), ("effect.failed", "replay.build"), ("effect.done", "ledger.deposit")]
    failed = notes[1][2]
    assert "RuntimeError: the replay could not be built" in failed["error"]
    assert effects.failed == 1 and effects.done == 4
    assert effects.pending("h1") == 0


async def test_a_failing_recorder_does_not_stop_the_queue() -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("the store is closing")

    ran: list[int] = []
    effects = Effects(broken)
    for n in range(3):
        effects.submit("h", f"e{n}", lambda n=n: ran.append(n), report=True)
    assert await effects.wait("h", 5.0)
    assert ran == [0, 1, 2]
