"""The judge's console when the court's PostgreSQL goes away (issue 19): a real Chromium, a
real PostgreSQL stopped and started. A party's connection drops during the outage: the pod's
own write of that drop waits, the console says the database is unreachable, then that it is
back, and the drop is in the hearing's events afterwards."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from loadtest.participant import Participant
from tests.browser_helpers import chromium, enter_check, open_page, screenshot, wait_screen

pytestmark = pytest.mark.timeout(300)

_names = itertools.count()


async def test_the_console_shows_a_database_outage_and_its_end(postgres: Any, server_factory: Any,
                                                                 api_factory: Any) -> None:
    url = postgres.database_url(f"consoleoutage{next(_names)}")
    server = await server_factory("--database", url, "--ice-address", "127.0.0.1", "--video-size", "320x180")
    api = api_factory(server)
    hearing, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    assert (await api.act(hid, "open", token=judge["token"])).status == 200
    async with chromium() as browser:
        _, console, watch = await open_page(browser, judge["join_url"], "judge")
        await enter_check(console)
        await wait_screen(console, "screen-console")
        party = Participant(server.url, plaintiff["token"])
        await party.connect()
        assert (await api.act(hid, "admit", token=judge["token"], participant=plaintiff)).status == 200
        assert (await api.act(hid, "start", token=judge["token"])).status == 200
        await party.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        assert await console.is_hidden("#store-banner")

        await asyncio.to_thread(postgres.stop)
        try:
            await party.close()  # the party's connection drops while nothing can be stored
            await console.wait_for_selector("#store-banner[data-state=unavailable]:not([hidden])", timeout=30000)
            text = await console.inner_text("#store-banner")
            assert "数据库" in text and "排队" in text, text
            await screenshot(console, "outage-console-unavailable")
            health = (await api.request("GET", "/healthz", None)).json["store"]
            assert health["state"] == "unavailable" and health["pending"] >= 1, health
        finally:
            await asyncio.to_thread(postgres.start)
        await console.wait_for_selector("#store-banner[data-state=restored]:not([hidden])", timeout=60000)
        text = await console.inner_text("#store-banner")
        assert "已恢复" in text, text
        await screenshot(console, "outage-console-restored")
        watch.assert_clean()

    events = await api.events(hid)
    drops = [e for e in events if e["kind"] == "participant.drop" and e["subject"] == plaintiff["id"]]
    assert len(drops) == 1, drops  # the drop made during the outage was stored once it returned
