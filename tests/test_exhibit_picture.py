"""A presented exhibit in the courtroom picture, as real aiortc participants receive it: a party
shows a PDF page, turns to the next page, and withdraws it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import numpy as np
from media_helpers import LOOPBACK_MEDIA, eventually, wait_frames
from test_evidence import make_pdf, upload

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from signaling.layout import Seat, courtroom_layout

WIDTH, HEIGHT = 640, 360


def gray(peer: Participant) -> np.ndarray:
    assert peer.last_frame is not None
    return peer.last_frame.to_ndarray(format="gray").astype(np.int16)


async def test_presented_page_changes_the_exhibit_area(server_factory, api_factory) -> None:
    server = await server_factory("--video-size", f"{WIDTH}x{HEIGHT}", "--fps", "15", *LOOPBACK_MEDIA)
    api = api_factory(server)
    hearing, (judge_p, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    # Page 1 is a white page, page 2 is mostly a big black box.
    pdf = make_pdf(2, size=(640, 360), marks={2: "black"})
    exhibit = (await upload(api, hid, plaintiff_p["token"], pdf, "合同.pdf")).json
    assert exhibit["pages"] == 2

    judge = Participant(server.url, judge_p["token"], ToneTrack(440.0), PatternTrack(colour=(40, 40, 200)))
    plaintiff = Participant(server.url, plaintiff_p["token"], ToneTrack(660.0), PatternTrack(colour=(200, 40, 40)))
    peers = (judge, plaintiff)
    try:
        await judge.connect()
        await judge.act("open")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "open")
        await plaintiff.connect()
        await judge.act("admit", plaintiff_p["id"])
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await asyncio.gather(*(p.start_media() for p in peers))
        for peer in peers:
            assert await wait_frames(peer, 15, timeout=20), "no courtroom picture arrived"
        await asyncio.sleep(1.0)
        before = gray(plaintiff)
        seats = [Seat(judge_p["id"], "judge", "王法官"), Seat(plaintiff_p["id"], "plaintiff", "张三", "plaintiff")]
        rect = courtroom_layout(WIDTH, HEIGHT, seats, exhibit=True).exhibit
        assert rect is not None
        y0, y1, x0, x1 = rect.y + 4, rect.bottom - 4, rect.x + 4, rect.right - 4

        def area(peer: Participant) -> np.ndarray:
            return gray(peer)[y0:y1, x0:x1]

        def bright(peer: Participant) -> Callable[[], bool]:
            return lambda: bool(area(peer).mean() > 170)

        def dark(peer: Participant) -> Callable[[], bool]:
            return lambda: bool(area(peer).mean() < 90)

        present = f"/api/hearings/{hid}/evidence/{exhibit['id']}/present"
        r = await api.request("POST", present, plaintiff_p["token"], json={"page": 1})
        assert r.status == 200, r.text
        await judge.wait_for(lambda m: m["type"] == "exhibit" and m["presenting"] and m["presenting"]["page"] == 1)
        # The white page fills the exhibit area in everyone's picture.
        for peer in peers:
            assert await eventually(bright(peer), timeout=8), f"no white page: {area(peer).mean():.0f}"
        page_one = gray(plaintiff)
        assert np.abs(page_one - before).mean() > 10, "the picture did not change when the exhibit came up"

        # Turning to page 2: the black box.
        r = await api.request("POST", present, plaintiff_p["token"], json={"page": 2})
        assert r.status == 200, r.text
        for peer in peers:
            assert await eventually(dark(peer), timeout=8), f"page 2 not shown: {area(peer).mean():.0f}"
        page_two = gray(judge)
        assert np.abs(page_two[y0:y1, x0:x1] - page_one[y0:y1, x0:x1]).mean() > 60

        # Past the last page: refused, the picture stays.
        assert (await api.request("POST", present, plaintiff_p["token"], json={"page": 3})).status == 400

        # Withdrawn: the exhibit area is gone again.
        r = await api.request("POST", f"/api/hearings/{hid}/evidence/withdraw", plaintiff_p["token"])
        assert r.status == 200
        assert await eventually(lambda: np.abs(gray(plaintiff) - before).mean() < np.abs(page_two - before).mean() / 2,
                                timeout=8), "the exhibit stayed in the picture"
    finally:
        await asyncio.gather(*(p.close() for p in peers), return_exceptions=True)


async def test_the_presented_exhibit_comes_back_after_a_server_crash(server_factory, api_factory) -> None:
    server = await server_factory("--video-size", f"{WIDTH}x{HEIGHT}", "--fps", "15", *LOOPBACK_MEDIA)
    api = api_factory(server)
    hearing, (judge_p, plaintiff_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    exhibit = (await upload(api, hid, plaintiff_p["token"], make_pdf(1, size=(640, 360)), "收据.pdf")).json
    await api.act(hid, "open")
    await api.act(hid, "admit", participant=plaintiff_p["id"])
    await api.act(hid, "start", token=judge_p["token"])
    r = await api.request("POST", f"/api/hearings/{hid}/evidence/{exhibit['id']}/present", plaintiff_p["token"], json={"page": 1})
    assert r.status == 200, r.text
    server.kill()
    await server.restart()

    judge = Participant(server.url, judge_p["token"], ToneTrack(440.0), PatternTrack())
    try:
        await judge.connect()
        await judge.start_media()
        assert await wait_frames(judge, 10, timeout=20)
        # The plaintiff is admitted but not connected: its seat is there, with no camera.
        seats = [Seat(judge_p["id"], "judge", "王法官"), Seat(plaintiff_p["id"], "plaintiff", "张三", "plaintiff")]
        rect = courtroom_layout(WIDTH, HEIGHT, seats, exhibit=True).exhibit
        assert rect is not None

        def white() -> bool:
            return bool(gray(judge)[rect.y + 4:rect.bottom - 4, rect.x + 4:rect.right - 4].mean() > 170)

        assert await eventually(white, timeout=10), "the exhibit area is empty after the restart"
        listing = (await api.request("GET", f"/api/hearings/{hid}/evidence", judge_p["token"])).json
        assert listing["presenting"]["exhibit"] == exhibit["id"]
    finally:
        await judge.close()
