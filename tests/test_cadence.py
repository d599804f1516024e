"""The picture tick follows the cameras: a picture as soon as they all delivered, else at a deadline."""

from __future__ import annotations

import asyncio

from signaling.cadence import CameraCadence


async def test_picture_follows_the_cameras_then_the_deadline() -> None:
    fps = 10  # 100 ms interval: loose enough for a busy machine
    cadence = CameraCadence(fps)
    loop = asyncio.get_running_loop()
    fresh = {"a": False, "b": False}
    await cadence.next_picture(lambda: None)  # the first picture starts the clock
    start = loop.time()

    async def deliver(name: str, after: float) -> None:
        await asyncio.sleep(after)
        fresh[name] = True
        cadence.frame_arrived()

    # both cameras deliver 95 ms and 97 ms after the last picture: the picture follows at 97 ms,
    # not at a tick of its own
    tasks = [asyncio.create_task(deliver("a", 0.095)), asyncio.create_task(deliver("b", 0.097))]
    await cadence.next_picture(lambda: all(fresh.values()))
    made = loop.time() - start
    await asyncio.gather(*tasks)
    assert 0.095 <= made < 0.115, made
    assert cadence.early == 1

    # one camera stalls: the picture comes at the deadline (1.25 intervals), not later
    fresh = {"a": True, "b": False}
    start = loop.time()
    await cadence.next_picture(lambda: fresh["a"] and fresh["b"])
    waited = loop.time() - start
    assert 0.11 <= waited < 0.16, waited
    assert cadence.on_deadline == 2

    # cameras faster than the picture: never sooner than 0.9 interval after the last picture
    start = loop.time()
    await cadence.next_picture(lambda: True)
    assert loop.time() - start >= 0.085
