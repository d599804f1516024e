"""The picture tick follows the cameras: a picture as soon as they all delivered, else at a deadline.

Which of the two made each picture is counted by the cadence itself, and a picture on its
deadline is stamped with the deadline (drift-free), so the test holds on a busy machine where
sleeps wake late: time bounds are lower bounds or loose.
"""

from __future__ import annotations

import asyncio

from signaling.cadence import CameraCadence

FPS = 4  # 250 ms interval: min gap 225 ms, deadline 312.5 ms


async def test_picture_follows_the_cameras() -> None:
    cadence = CameraCadence(FPS, deadline=4.0)  # a far deadline: only the cameras can trigger
    loop = asyncio.get_running_loop()
    fresh = {"a": False, "b": False}
    await cadence.next_picture(lambda: True)  # the first picture: 0.9 interval after the start
    assert cadence.early == 1
    start = loop.time()

    async def deliver(name: str, after: float) -> None:
        await asyncio.sleep(after)
        fresh[name] = True
        cadence.frame_arrived()

    # both cameras deliver after the minimum gap: the picture follows the second one at once
    tasks = [asyncio.create_task(deliver("a", 0.26)), asyncio.create_task(deliver("b", 0.30))]
    await cadence.next_picture(lambda: all(fresh.values()))
    made = loop.time()
    await asyncio.gather(*tasks)
    assert cadence.early == 2 and cadence.on_deadline == 0
    assert made - start >= 0.30 and made - start < 1.5  # after b, long before the deadline


async def test_picture_on_the_deadline_and_the_rate_holds() -> None:
    cadence = CameraCadence(FPS)
    await cadence.next_picture(lambda: True)
    # one camera stalls: the picture comes at the deadline (1.25 intervals after the last)
    before = cadence._last
    await cadence.next_picture(lambda: False)
    assert cadence.on_deadline == 1
    assert before is not None and abs(cadence._last - before - 0.3125) < 1e-6  # drift-free
    # still stalled: after a picture on its deadline the next is due one interval later
    before = cadence._last
    await cadence.next_picture(lambda: False)
    assert cadence.on_deadline == 2 and abs(cadence._last - before - 0.25) < 1e-6
    # cameras faster than the picture: never sooner than 0.9 interval after the last picture
    before = cadence._last
    await cadence.next_picture(lambda: True)
    assert cadence.early == 2 and cadence._last - before >= 0.225 - 1e-6
    # no camera at all: a fixed interval
    before = cadence._last
    await cadence.next_picture(lambda: None)
    assert cadence.on_deadline == 3 and abs(cadence._last - before - 0.25) < 1e-6
