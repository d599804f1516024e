"""The court's pages as a court uses them, in Debian's Chromium: honest controls on the console,
captions that never cover a seat or the exhibit (measured against the layout the server sent),
readable seat labels and a tap that zooms into a seat on a phone, and no Latin-script word in
the Chinese pages.

One hearing, two browser pages (the judge's console on a desktop, the plaintiff on a 390x844
phone); the defendant and the witness come in on plain WebSockets (no media), which is all the
console needs to see them waiting.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import time
from typing import Any

import aiohttp
import pytest
from PIL import Image, ImageDraw

from tests.browser_helpers import (
    chromium,
    enter_check,
    open_page,
    screenshot,
    wait_playing,
    wait_screen,
)

pytestmark = pytest.mark.timeout(240)

SERVER_ARGS = ("--ice-address", "127.0.0.1", "--video-size", "640x360", "--asr-engine", "off")
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}
# A word of two or more Latin letters (a hash or an id mixes in digits and is not one).
LATIN_WORD = re.compile(r"\b[A-Za-z]{2,}\b")
LONG_LINE = "原告认为被告未按合同约定的时间交付货物，且交付的货物与样品不符，请求法院判令被告退还货款并赔偿损失。" * 2


def document_png() -> bytes:
    image = Image.new("RGB", (480, 640), (250, 248, 240))
    ImageDraw.Draw(image).rectangle((20, 20, 460, 620), outline=(40, 40, 40), width=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def latin_words(page: Any) -> list[str]:
    """Latin-script words in what the page shows (visible text, placeholders, the title), outside
    <code> (a file or variable name the clerk types: names, like the parties' and case numbers)."""
    text = await page.evaluate(
        "() => { let text = [document.body.innerText, document.title,"
        " ...Array.from(document.querySelectorAll('input,textarea')).filter(n => n.offsetParent).map(n => n.placeholder || '')].join('\\n');"
        " for (const c of document.querySelectorAll('code')) text = text.split(c.textContent).join(' ');"
        " return text; }"
    )
    return LATIN_WORD.findall(text)


# The boxes a page shows, in page pixels: the caption box, the self-view, and every seat, seat
# label and the exhibit of the layout the server sent, mapped through the picture's own
# placement (object-fit: contain) and the zoom transform, clipped to the stage.
BOXES = """() => {
  const page = window.courtroomPage;
  const layout = page.state.layout;
  const stage = document.querySelector('#stage');
  const s = stage.getBoundingClientRect();
  const c = page.stage.content();
  const z = new DOMMatrix(getComputedStyle(document.querySelector('#zoom')).transform);
  const map = (r) => {
    const a = z.transformPoint(new DOMPoint(c.x + r.x * c.k, c.y + r.y * c.k));
    const b = z.transformPoint(new DOMPoint(c.x + (r.x + r.w) * c.k, c.y + (r.y + r.h) * c.k));
    // what shows of it: the stage clips a zoomed picture
    const x0 = Math.max(s.left, s.left + a.x), y0 = Math.max(s.top, s.top + a.y);
    const x1 = Math.min(s.right, s.left + b.x), y1 = Math.min(s.bottom, s.top + b.y);
    return { x: x0, y: y0, w: Math.max(0, x1 - x0), h: Math.max(0, y1 - y0) };
  };
  const box = (sel) => { const n = document.querySelector(sel); if (!n) return null;
    const r = n.getBoundingClientRect(); return { x: r.left, y: r.top, w: r.width, h: r.height, visible: !!n.offsetParent && getComputedStyle(n).visibility !== 'hidden' }; };
  return {
    layout,
    stage: { x: s.left, y: s.top, w: s.width, h: s.height },
    seats: layout.seats.map((q) => ({ id: q.participant, ...map(q), label: map(q.label) })),
    exhibit: layout.exhibit ? map(layout.exhibit) : null,
    captions: box('#captions'),
    lines: document.querySelector('#captions').getClientRects().length,
    selfView: box('.self-box'),
    labels: Array.from(document.querySelectorAll('.seat-label')).map((n) => { const r = n.getBoundingClientRect();
      return { id: n.dataset.participant, x: r.left, y: r.top, w: r.width, h: r.height, font: parseFloat(getComputedStyle(n).fontSize), text: n.textContent }; }),
  };
}"""


def overlaps(a: dict[str, float], b: dict[str, float]) -> bool:
    if min(a["w"], a["h"], b["w"], b["h"]) <= 0:
        return False
    return a["x"] < b["x"] + b["w"] - 0.5 and b["x"] < a["x"] + a["w"] - 0.5 and a["y"] < b["y"] + b["h"] - 0.5 and b["y"] < a["y"] + a["h"] - 0.5


def assert_captions_clear(boxes: dict[str, Any], where: str) -> None:
    cap = boxes["captions"]
    assert cap and cap["visible"] and cap["h"] > 0, (where, cap)
    covered = [s["id"] for s in boxes["seats"] if overlaps(cap, s)]
    assert not covered, f"{where}: the captions cover seats {covered}: {cap} vs {boxes['seats']}"
    if boxes["exhibit"]:
        assert not overlaps(cap, boxes["exhibit"]), f"{where}: the captions cover the exhibit"
    me = boxes["selfView"]
    if me and me["visible"]:
        assert not overlaps(me, cap), f"{where}: the self-view covers the captions"
        hidden = [s["id"] for s in boxes["seats"] if overlaps(me, s["label"])]
        assert not hidden, f"{where}: the self-view covers the labels of {hidden}"


async def show_caption(page: Any) -> None:
    """Two long final lines through the page's own caption path (what a transcript message does)."""
    await page.evaluate(
        """text => { const v = window.courtroomPage.transcript;
          v.apply({ id: 900001, speaker: 'x', name: '张三', role: 'plaintiff', text, final: true, start: 1, end: 5 });
          v.apply({ id: 900002, speaker: 'y', name: '李四', role: 'defendant', text, final: true, start: 6, end: 9 }); }""",
        LONG_LINE,
    )


async def socket_of(session: aiohttp.ClientSession, url: str, token: str) -> aiohttp.ClientWebSocketResponse:
    ws = await session.ws_connect(f"{url.replace('http', 'ws', 1)}/ws?token={token}")
    while True:  # its first state says it is here
        message = json.loads((await ws.receive(timeout=10)).data)
        if message["type"] == "state":
            return ws


async def test_court_pages_on_a_desktop_and_a_phone(server_factory: Any, api_factory: Any) -> None:
    server = await server_factory(*SERVER_ARGS)
    api = api_factory(server)
    hearing, (judge, clerk, plaintiff, defendant, witness, absent) = await api.hearing_with(
        ("judge", "王建国"), ("clerk", "赵敏"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五"),
        ("agent", "刘律师", "defendant"), title="张三诉李四网络购物合同纠纷", public=True,
    )
    hid = hearing["id"]
    async with chromium() as browser, aiohttp.ClientSession() as session:
        _, console, console_watch = await open_page(browser, judge["join_url"], "judge", viewport=DESK)
        await enter_check(console)
        await wait_screen(console, "screen-console")
        await console.locator(".proc[data-action=open]").click()
        await console.wait_for_selector("#hearing-state[data-state=open]")

        _, phone, phone_watch = await open_page(browser, plaintiff["join_url"], "plaintiff", viewport=PHONE, is_mobile=True, has_touch=True)
        await enter_check(phone)
        await phone.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
        sockets = [await socket_of(session, server.url, p["token"]) for p in (defendant, witness)]

        # Honest controls: "admit all" counts exactly those it admits (not the waiting witness);
        # nobody who never came has an admit button; the witness is called, not admitted.
        row = lambda p: console.locator(f"#console-people li[data-id='{p['id']}']")  # noqa: E731
        await row(witness).locator("[data-k=state].pstate-waiting").wait_for(timeout=20000)
        await console.wait_for_selector("#admit-all[data-count='2']", timeout=20000)
        assert await console.inner_text("#admit-all") == "全部准许入庭（2）"
        assert await row(witness).locator("button[data-action=admit]").count() == 0
        assert await row(absent).locator("button[data-action=admit]").count() == 0
        assert await row(absent).locator("button[data-action=mute]").count() == 0
        assert await console.locator(".proc:not([hidden])").evaluate_all("b => b.map(x => x.dataset.action)") == ["start", "close"]
        await console.locator("#admit-all").click()
        for p in (plaintiff, defendant):
            await console.wait_for_selector(f"#console-people li[data-id='{p['id']}'][data-state=admitted]", timeout=20000)
        await console.wait_for_selector("#admit-all", state="hidden")
        assert await row(witness).get_attribute("data-state") == "waiting"
        await console.keyboard.press("s")
        await console.wait_for_selector("#hearing-state[data-state=in_session]")

        # An exhibit in the picture: its area is in the layout every page receives.
        form = aiohttp.FormData()
        form.add_field("file", document_png(), filename="借条.png", content_type="image/png")
        form.add_field("label", "借条")
        filed = await api.request("POST", f"/api/hearings/{hid}/evidence", plaintiff["token"], data=form)
        assert filed.status == 201, filed.text
        shown = await api.request("POST", f"/api/hearings/{hid}/evidence/{filed.json['id']}/present", judge["token"], json={})
        assert shown.status == 200, shown.text
        for page in (console, phone):
            await wait_playing(page, "#stage-video")
            await page.wait_for_function("() => { const l = window.courtroomPage.state.layout; return l && l.exhibit && l.seats.length === 3; }", timeout=20000)
        layout = await phone.evaluate("window.courtroomPage.state.layout")
        assert {s["participant"] for s in layout["seats"]} == {judge["id"], plaintiff["id"], defendant["id"]}
        assert (layout["width"], layout["height"]) == (640, 360)

        # Captions: below the picture on the desktop; on the phone over the free band at the
        # picture's foot or below it, at most two lines; never over a seat, a label or the exhibit.
        for page, where in ((console, "console"), (phone, "phone")):
            await show_caption(page)
            await asyncio.sleep(0.4)
            boxes = await page.evaluate(BOXES)
            assert_captions_clear(boxes, where)
            line_height = await page.eval_on_selector("#captions", "n => parseFloat(getComputedStyle(n).lineHeight)")
            assert boxes["captions"]["h"] <= 2 * line_height + 14, f"{where}: more than two lines of captions"
        desk = await console.evaluate(BOXES)
        assert desk["captions"]["y"] >= desk["stage"]["y"] + desk["stage"]["h"] - 1, "desktop captions go below the picture"
        assert desk["stage"]["w"] >= DESK["width"] * 0.5, f"the console's picture is under half the screen: {desk['stage']}"
        await screenshot(console, "court-console-captions")

        # Seat labels readable on the phone: 12 px text in each seat, role and name.
        phone_boxes = await phone.evaluate(BOXES)
        labels = {lab["id"]: lab for lab in phone_boxes["labels"]}
        assert set(labels) == {s["id"] for s in phone_boxes["seats"]}, phone_boxes["labels"]
        for seat in phone_boxes["seats"]:
            lab = labels[seat["id"]]
            assert lab["font"] >= 12, lab
            assert seat["x"] - 1 <= lab["x"] and lab["x"] + lab["w"] <= seat["x"] + seat["w"] + 1, (lab, seat)
        assert labels[plaintiff["id"]]["text"] == "原告 · 张三"
        await screenshot(phone, "court-phone-captions")

        # A tap on the judge's seat zooms the same video into it; a second tap zooms out.
        judge_seat = next(s for s in phone_boxes["seats"] if s["id"] == judge["id"])
        await phone.touchscreen.tap(judge_seat["x"] + judge_seat["w"] / 2, judge_seat["y"] + judge_seat["h"] / 2)
        await phone.wait_for_selector(f"#stage[data-zoom='{judge['id']}']", timeout=5000)
        await asyncio.sleep(0.5)  # the transition
        zoomed = await phone.evaluate(BOXES)
        seat = next(s for s in zoomed["seats"] if s["id"] == judge["id"])
        assert seat["w"] >= zoomed["stage"]["w"] * 0.9 or seat["h"] >= zoomed["stage"]["h"] * 0.9, (seat, zoomed["stage"])
        assert await phone.evaluate("document.querySelectorAll('#stage video').length") == 1, "no second video"
        assert_captions_clear(zoomed, "phone zoomed")
        await screenshot(phone, "court-phone-zoomed")
        await phone.locator("#zoom-out").click()
        await phone.wait_for_selector("#stage[data-zoom='']", timeout=5000)

        # The console's own toggles: the exhibit, and following the active speaker (the fake
        # microphones beep; the server says who has the floor).
        await console.locator("#zoom-exhibit").click()
        await console.wait_for_selector("#stage[data-zoom=exhibit]")
        await console.locator("#zoom-out").click()
        await console.locator("#zoom-speaker").click()
        seats = [judge["id"], plaintiff["id"]]
        await console.wait_for_function("ids => ids.includes(document.querySelector('#stage').dataset.zoom)", arg=seats, timeout=15000)
        await console.locator("#zoom-speaker").click()
        await console.wait_for_selector("#stage[data-zoom='']", timeout=5000)

        # The Chinese pages: no Latin-script word in what they show.
        for page, where in ((console, "console"), (phone, "phone")):
            assert not await latin_words(page), (where, await latin_words(page))
        await console.keyboard.press("3")
        assert not await latin_words(console), await latin_words(console)

        for ws in sockets:
            await ws.close()
        console_watch.assert_clean()
        phone_watch.assert_clean()


async def test_clerk_key_judge_docket_and_public_pages(server_factory: Any, api_factory: Any) -> None:
    """The clerk's desk says where its key is and issues a judge's standing link; the judge's
    docket lists the hearings and opens the console; no Chinese page shows a Latin word."""
    server = await server_factory(*SERVER_ARGS)
    api = api_factory(server)
    soon = time.time() + 2 * 3600
    today, (judge,) = await api.hearing_with(("judge", "王建国"), title="张三诉李四网络购物合同纠纷", scheduled_at=soon, public=True)
    later, _ = await api.hearing_with(("judge", "王建国"), title="王五诉赵六借款合同纠纷", scheduled_at=soon + 2 * 86400)
    async with chromium(fake_ui=False, fake_devices=False) as browser:
        _, clerk, clerk_watch = await open_page(browser, server.url + "/clerk", "clerk", viewport=DESK)
        where = await clerk.inner_text("#key-where")
        assert "admin.key" in where and "COURTROOM_ADMIN_KEY" in where, where
        assert not await latin_words(clerk), await latin_words(clerk)
        await screenshot(clerk, "court-clerk-key")
        await clerk.fill("#api-key", api.admin_key)
        await clerk.locator("#key-form button[type=submit]").click()
        await clerk.wait_for_selector("#desk:not([hidden])")
        await clerk.fill("#docket-link-form input[name=name]", "王建国")
        await clerk.locator("#docket-link-form button[type=submit]").click()
        await clerk.wait_for_selector("#docket-link-result:not([hidden])")
        link = await clerk.input_value("#docket-link")
        assert link.startswith(server.url + "/docket#token="), link
        assert not await latin_words(clerk), await latin_words(clerk)
        clerk_watch.assert_clean()

        _, docket, docket_watch = await open_page(browser, link, "docket", viewport=PHONE, is_mobile=True, has_touch=True)
        cards = docket.locator("#docket-days li.hearing-card")
        await cards.first.wait_for(timeout=20000)
        assert await cards.evaluate_all("n => n.map(x => x.dataset.id)") == [today["id"], later["id"]]
        assert "#token=" not in docket.url, "the standing link's token leaves the address bar"
        assert not await latin_words(docket), await latin_words(docket)
        await screenshot(docket, "court-docket-phone")
        await docket.locator(f"a[data-console='{today['id']}']").click()
        await docket.wait_for_url(re.compile(rf"/console/{today['id']}$"))
        await docket.wait_for_selector("#screen-check:not([hidden]), #screen-console:not([hidden])", timeout=15000)
        docket_watch.assert_clean()

        # The clerk revokes the link: the desk lists it as revoked and takes it off the screen,
        # and the judge's docket page says the link no longer works.
        row = clerk.locator("#docket-links tr[data-name='王建国']")
        await row.wait_for()
        assert await row.get_attribute("data-active") == "true"
        await clerk.locator("#docket-link-revoke").click()
        await clerk.locator("dialog.confirm .btn-danger").click()
        await clerk.wait_for_selector("#docket-links tr[data-name='王建国'][data-active='false']")
        assert await clerk.locator("#docket-link-result").is_hidden() and await clerk.input_value("#docket-link") == ""
        assert await row.locator("button[data-revoke]").count() == 0, "a revoked link has no revoke control"
        assert not await latin_words(clerk), await latin_words(clerk)
        await screenshot(clerk, "court-clerk-docket-revoked")
        clerk_watch.assert_clean()
        _, gone, gone_watch = await open_page(browser, link, "docket-revoked", viewport=PHONE, is_mobile=True, has_touch=True)
        status = gone.locator("#docket-status.notice-error")
        await status.wait_for(timeout=20000)
        assert "收回" in await status.inner_text(), await status.inner_text()
        assert await gone.locator("#docket-days li.hearing-card").count() == 0
        assert not await latin_words(gone), await latin_words(gone)
        gone_watch.assert_clean()
        await gone.context.close()

        for path in ("/gallery", "/verify", f"/gallery/{today['id']}"):
            _, page, watch = await open_page(browser, server.url + path, path, viewport=PHONE)
            await page.wait_for_load_state("load")
            await asyncio.sleep(1.0)  # the page's first answers from the server (some pages poll: no network idle)
            assert not await latin_words(page), (path, await latin_words(page))
            watch.assert_clean()
            await page.context.close()
