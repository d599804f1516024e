"""What a participant's page says when things go wrong, in a real Chromium against a real server:
a camera the browser may not use, an expired, forged or foreign link, a removed participant, a
dropped network, the same link opened twice, a server restart. Each time the page says so in
plain words and, where it can, comes back by itself and plays the picture again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.browser_helpers import (
    chromium,
    enter_check,
    open_page,
    screenshot,
    session_peers,
    wait_playing,
    wait_screen,
)

pytestmark = pytest.mark.timeout(300)

SERVER_ARGS = ("--ice-address", "127.0.0.1", "--video-size", "640x360")


@pytest.fixture
async def web_server(server_factory: Any) -> Any:
    return await server_factory(*SERVER_ARGS)


async def notice_reason(page: Any, reason: str, timeout: float = 15.0) -> str:
    await page.wait_for_selector(f"#screen-notice[data-reason={reason}]:not([hidden])", timeout=timeout * 1000)
    return await page.inner_text("#screen-notice")


async def in_session(api: Any, hearing_id: str, judge: dict[str, Any], *admitted: dict[str, Any]) -> None:
    """Open, admit and start through the API (the judge's console is tested elsewhere)."""
    assert (await api.act(hearing_id, "open", token=judge["token"])).status == 200
    for p in admitted:
        assert (await api.act(hearing_id, "admit", token=judge["token"], participant=p)).status == 200
    assert (await api.act(hearing_id, "start", token=judge["token"])).status == 200


async def test_camera_denied(web_server: Any, api_factory: Any) -> None:
    """No fake permission prompt: headless Chromium refuses the camera and microphone. The page
    says how to allow them, and the party may still go in to wait (without publishing)."""
    api = api_factory(web_server)
    hearing, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    assert (await api.act(hearing["id"], "open", token=judge["token"])).status == 200
    async with chromium(fake_ui=False) as browser:
        _, page, watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        message = page.locator("#device-message[data-error=denied]")
        await message.wait_for(timeout=15000)
        text = await message.inner_text()
        assert "拒绝" in text and "允许" in text, text
        assert await page.locator("#retry-devices").is_visible()
        assert await page.locator("#check-preview-off").is_visible()
        await screenshot(page, "failure-camera-denied")
        # English says the same.
        await page.evaluate("courtroomSetLanguage('en')")
        assert "denied" in (await message.inner_text()).lower()
        await page.evaluate("courtroomSetLanguage('zh')")
        await enter_check(page)
        await page.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
        watch.assert_clean()


async def test_expired_forged_and_foreign_links(web_server: Any, api_factory: Any) -> None:
    api = api_factory(web_server)
    hearing, (plaintiff,) = await api.hearing_with(("plaintiff", "张三"))
    other, (stranger,) = await api.hearing_with(("defendant", "王五"))
    hid = hearing["id"]
    expired = web_server.signer(ttl=-10).issue(hid, plaintiff["id"], "plaintiff", "any-nonce")
    base = f"{web_server.url}/join/{hid}"
    async with chromium(fake_ui=False, fake_devices=False) as browser:
        _, page, watch = await open_page(browser, f"{base}#token={expired}", "expired")
        text = await notice_reason(page, "token_expired")
        assert "过期" in text, text
        assert "#token=" not in page.url, "the token stays in the address bar"
        await screenshot(page, "failure-link-expired")

        forged = plaintiff["token"][:-4] + ("AAAA" if not plaintiff["token"].endswith("AAAA") else "BBBB")
        await page.goto(f"{base}#token={forged}")
        await page.reload()  # a fragment change alone does not load the page again
        assert "无效" in await notice_reason(page, "bad_token")

        await page.goto(f"{base}#token={stranger['token']}")
        await page.reload()
        assert "另一场庭审" in await notice_reason(page, "forbidden")

        await page.goto(base)  # no token at all (a fresh tab: nothing kept)
        await page.evaluate("sessionStorage.clear()")
        await page.reload()
        assert "完整链接" in await notice_reason(page, "no_token")
        watch.assert_clean()
    assert other["id"] != hid


async def test_removed_participant(web_server: Any, api_factory: Any) -> None:
    """Removed while waiting: the open page says so at once; the link then says so for good."""
    api = api_factory(web_server)
    hearing, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    assert (await api.act(hid, "open", token=judge["token"])).status == 200
    async with chromium() as browser:
        _, page, watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        await enter_check(page)
        await page.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
        assert (await api.act(hid, "remove", token=judge["token"], participant=plaintiff)).status == 200
        text = await notice_reason(page, "removed")
        assert "移出" in text, text
        await screenshot(page, "failure-removed")
        watch.assert_clean()

        # The same link, opened again later.
        _, again, again_watch = await open_page(browser, plaintiff["join_url"], "plaintiff-again")
        assert "移出" in await notice_reason(again, "removed")
        again_watch.assert_clean()


async def test_network_drop_second_window_and_server_restart(web_server: Any, api_factory: Any) -> None:
    """The party's network drops and comes back; the same link is opened in a second window and
    taken back; the server restarts. Each time the page says what is happening and the
    picture plays again, on a new peer connection."""
    api = api_factory(web_server)
    hearing, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    await in_session(api, hid, judge, plaintiff)
    async with chromium() as browser:
        context, page, watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        await enter_check(page)
        await wait_screen(page, "screen-hearing")
        await wait_playing(page)
        assert await session_peers(page) == 1

        # 1. The network goes away: the page says so; it comes back: the page says so and plays.
        await context.set_offline(True)
        await page.wait_for_selector("#conn-banner[data-status=offline]:not([hidden])", timeout=15000)
        assert "网络" in await page.inner_text("#conn-banner")
        await screenshot(page, "failure-offline")
        await asyncio.sleep(1.0)
        await context.set_offline(False)
        await page.wait_for_selector("#conn-banner[data-status=connected]:not([hidden])", timeout=20000)
        assert "恢复" in await page.inner_text("#conn-banner")
        await wait_playing(page)
        assert await session_peers(page) == 2, "a new RTCPeerConnection after the drop"

        # 2. The same link in a second window: the first is told and pauses; it takes the
        #    hearing back and plays again, and the second is told in turn.
        _, second, second_watch = await open_page(browser, plaintiff["join_url"], "plaintiff-second")
        await enter_check(second)
        await wait_playing(second)
        text = await page.wait_for_selector("#screen-notice[data-reason=replaced]:not([hidden])", timeout=15000)
        assert "其他窗口" in await text.inner_text()
        await screenshot(page, "failure-replaced")
        await page.click("#notice-action")
        await wait_screen(page, "screen-hearing")
        await wait_playing(page)
        await second.wait_for_selector("#screen-notice[data-reason=replaced]:not([hidden])", timeout=15000)
        await second.close()

        # 3. The server restarts: the page reconnects by itself and the picture returns.
        peers = await session_peers(page)
        await web_server.restart()
        await page.wait_for_function(
            "n => window.courtroomPage.session.peers > n && window.courtroomPage.session.status === 'connected'",
            arg=peers, timeout=30000, polling=200,
        )
        await wait_playing(page, timeout=30)
        assert await page.eval_on_selector("#hearing-state", "n => n.dataset.state") == "in_session"
        await screenshot(page, "failure-after-restart")
        watch.assert_clean()
        second_watch.assert_clean()

    kinds = [e["kind"] for e in await api.events(hid) if e["subject"] == plaintiff["id"]]
    assert "participant.drop" in kinds and "participant.return" in kinds, kinds
