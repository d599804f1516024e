"""The picture tick follows the cameras: a picture as soon as they all delivered, else at a deadline.

Which of the two made each picture is counted by the cadence itself, so the test holds on a busy
machine where sleeps wake late; the time bounds are only lower bounds and loose upper ones.
"""

from __future__ import annotations

import asyncio

from signaling.cadence import CameraCadence


async def test_picture_follows_the_cameras_then_the_deadline() -> None:
    fps = 5  # 200 ms interval: min gap 180 ms, deadline 250 ms
    cadence = CameraCadence(fps)
    loop = asyncio.get_running_loop()
    fresh = {"a": False, "b": False}
    await cadence.next_picture(lambda: None)  # no camera: the fixed interval
    assert cadence.on_deadline == 1 and cadence.early == 0
    start = loop.time()

    async def deliver(name: str, after: float) -> None:
        await asyncio.sleep(after)
        fresh[name] = True
        cadence.frame_arrived()

    # both cameras deliver after the minimum gap: the picture follows the second, not a tick
    tasks = [asyncio.create_task(deliver("a", 0.19)), asyncio.create_task(deliver("b", 0.20))]
    await cadence.next_picture(lambda: all(fresh.values()))
    made = loop.time() - start
    await asyncio.gather(*tasks)
    assert cadence.early == 1 and cadence.on_deadline == 1, (cadence.early, cadence.on_deadline)
    assert made >= 0.2

    # one camera stalls: the picture comes at the deadline (1.25 intervals), not later
    fresh = {"a": True, "b": False}
    start = loop.time()
    await cadence.next_picture(lambda: fresh["a"] and fresh["b"])
    waited = loop.time() - start
    assert cadence.on_deadline == 2 and cadence.early == 1
    assert 0.2 <= waited < 0.6, waited

    # cameras faster than the picture: never sooner than 0.9 interval after the last picture
    start = loop.time()
    await cadence.next_picture(lambda: True)
    assert loop.time() - start >= 0.17
    assert cadence.early == 2
