"""Screenshots of every page, on a desktop and on a phone, into docs/screens/.

    .venv/bin/python -m tests.screens            # Chinese (the court's default language)
    .venv/bin/python -m tests.screens --language en

Starts a real server (loopback, a temporary data folder), schedules a plausible hearing, and
drives it in Debian's Chromium the way the README's tour does: the clerk's desk, the judge's
docket, the console, a party's page with the picture, an exhibit and captions, the events, the
public gallery, the live player and the verification page.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image, ImageDraw

from tests.browser_helpers import ROOT, chromium, enter_check, open_page, wait_playing, wait_screen
from tests.conftest import make_server

OUT = ROOT / "docs" / "screens"
DESK = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
CAPTIONS = (
    ("张三", "plaintiff", "我于二〇二六年一月五日在被告的网店购买了一台冰箱，货款四千二百元。"),
    ("李四", "defendant", "冰箱是按约定的型号发货的，原告收货时没有提出异议。"),
)


def receipt() -> bytes:
    image = Image.new("RGB", (600, 800), (252, 250, 244))
    draw = ImageDraw.Draw(image)
    draw.rectangle((24, 24, 576, 776), outline=(60, 60, 60), width=4)
    for y in range(120, 700, 48):
        draw.line((70, y, 530, y), fill=(170, 170, 170), width=3)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def shoot(page: Any, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(OUT / f"{name}.png"))
    print("wrote", (OUT / f"{name}.png").relative_to(ROOT))


async def captions(page: Any) -> None:
    await page.evaluate(
        """lines => { const v = window.courtroomPage.transcript; let t = 60;
          for (const [name, role, text] of lines) { t += 6; v.apply({ id: 800000 + t, speaker: role, name, role, text, final: true, start: t, end: t + 5 }); } }""",
        [list(c) for c in CAPTIONS],
    )


async def main(language: str) -> None:
    base = Path(tempfile.mkdtemp(prefix="courtroom-screens-"))
    server = make_server(base, "--ice-address", "127.0.0.1", "--video-size", "640x360", "--language", language, "--broadcast-delay", "4")
    await server.start()
    key = server.admin_key
    try:
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as http:
            async def post(path: str, body: Any, token: str | None = None) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.post(server.url + path, json=body, headers=headers) as r:
                    assert r.status in (200, 201), await r.text()
                    return await r.json()

            hearing = await post("/api/hearings", {
                "case_number": "(2026)京0491民初1234号", "title": "张三诉李四网络购物合同纠纷", "procedure": "simple",
                "public": True, "court": "北京互联网法院", "scheduled_at": time.time() + 600,
            })
            hid = hearing["id"]
            people = {role: await post(f"/api/hearings/{hid}/participants", {"role": role, "name": name})
                      for role, name in (("judge", "王建国"), ("clerk", "赵敏"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五"))}
            await post(f"/api/hearings/{(await post('/api/hearings', {'case_number': '(2026)京0491民初1301号', 'title': '王五诉赵六借款合同纠纷', 'scheduled_at': time.time() + 2 * 86400}))['id']}/participants",
                       {"role": "judge", "name": "王建国"})
            docket = (await post("/api/docket-links", {"name": "王建国"}))["url"]

            async with chromium() as browser:
                # The clerk's desk: first the key (and where it is), then the desk.
                for kind, viewport in (("desktop", DESK), ("phone", PHONE)):
                    _, clerk, _ = await open_page(browser, server.url + "/clerk", "clerk", viewport=viewport)
                    await shoot(clerk, f"clerk-key-{kind}")
                    await clerk.fill("#api-key", key)
                    await clerk.locator("#key-form button[type=submit]").click()
                    await clerk.wait_for_selector("#desk:not([hidden])")
                    await clerk.locator("#show-all").check()
                    await clerk.locator(f"#docket tr[data-id='{hid}']").click()
                    await clerk.wait_for_selector("#hearing-panel:not([hidden])")
                    await shoot(clerk, f"clerk-desk-{kind}")
                    _, judge_docket, _ = await open_page(browser, docket, "docket", viewport=viewport)
                    await judge_docket.wait_for_selector("#docket-days li.hearing-card")
                    await shoot(judge_docket, f"docket-{kind}")
                    await clerk.context.close()
                    await judge_docket.context.close()

                # The hearing: the judge on a desktop, the plaintiff on a phone, the defendant on a laptop.
                _, console, _ = await open_page(browser, people["judge"]["join_url"], "judge", viewport=DESK)
                await enter_check(console, timeout=40)
                await wait_screen(console, "screen-console")
                await console.locator(".proc[data-action=open]").click()
                await console.wait_for_selector("#hearing-state[data-state=open]")
                _, phone, _ = await open_page(browser, people["plaintiff"]["join_url"], "plaintiff", viewport=PHONE, is_mobile=True, has_touch=True)
                await phone.wait_for_selector("#screen-check:not([hidden])")
                await shoot(phone, "party-check-phone")
                await enter_check(phone, timeout=40)
                await phone.wait_for_selector("#lobby[data-kind=waiting]")
                await shoot(phone, "party-waiting-phone")
                _, laptop, _ = await open_page(browser, people["defendant"]["join_url"], "defendant", viewport=DESK)
                await enter_check(laptop, timeout=40)
                await laptop.wait_for_selector("#lobby[data-kind=waiting]")
                await console.wait_for_selector("#admit-all[data-count='2']")
                await shoot(console, "console-waiting-desktop")
                await console.locator("#admit-all").click()
                await console.wait_for_selector("#admit-all", state="hidden")
                await console.keyboard.press("s")
                form = aiohttp.FormData()
                form.add_field("file", receipt(), filename="借条.png", content_type="image/png")
                form.add_field("label", "借条")
                async with http.post(f"{server.url}/api/hearings/{hid}/evidence", data=form,
                                     headers={"Authorization": f"Bearer {people['plaintiff']['token']}"}) as r:
                    exhibit = await r.json()
                await post(f"/api/hearings/{hid}/evidence/{exhibit['id']}/present", {}, people["judge"]["token"])
                await post(f"/api/hearings/{hid}/actions", {"action": "broadcast_on"}, people["judge"]["token"])
                for page in (console, phone, laptop):
                    await wait_playing(page)
                    await page.wait_for_function("() => { const l = window.courtroomPage.state.layout; return l && l.exhibit; }")
                    await captions(page)
                await asyncio.sleep(1.0)
                await shoot(console, "console-in-session-desktop")
                await shoot(laptop, "party-in-session-desktop")
                await shoot(phone, "party-in-session-phone")
                box = await phone.evaluate("(() => { const s = window.courtroomPage.state.layout.seats.find(q => q.role === 'judge'); const c = window.courtroomPage.stage.content(); const r = document.querySelector('#stage').getBoundingClientRect(); return [r.left + c.x + (s.x + s.w / 2) * c.k, r.top + c.y + (s.y + s.h / 2) * c.k]; })()")
                await phone.touchscreen.tap(box[0], box[1])
                await asyncio.sleep(0.6)
                await shoot(phone, "party-zoomed-phone")
                await console.keyboard.press("3")
                await asyncio.sleep(0.3)
                await shoot(console, "console-events-desktop")
                await console.keyboard.press("1")
                _, console_phone, _ = await open_page(browser, people["clerk"]["join_url"], "clerk-console", viewport=PHONE, is_mobile=True, has_touch=True)
                await enter_check(console_phone, timeout=40)
                await wait_screen(console_phone, "screen-console")
                await wait_playing(console_phone)
                await shoot(console_phone, "console-phone")
                await console_phone.context.close()

                # The public: the gallery, the delayed live stream, the verification page.
                for kind, viewport in (("desktop", DESK), ("phone", PHONE)):
                    _, gallery, _ = await open_page(browser, server.url + "/gallery", "gallery", viewport=viewport)
                    await gallery.wait_for_selector(f"#live-list li[data-id='{hid}']", timeout=30000)
                    await shoot(gallery, f"gallery-{kind}")
                    await gallery.locator(f"#live-list li[data-id='{hid}'] a").click()
                    await gallery.wait_for_selector("#replay-kind[data-kind=live]", timeout=30000)
                    await asyncio.sleep(2)
                    await shoot(gallery, f"public-live-{kind}")
                    await gallery.goto(server.url + "/verify")
                    await gallery.set_input_files("#verify-file", files=[{"name": "借条.png", "mimeType": "image/png", "buffer": receipt()}])
                    await gallery.click("#verify-form button[type=submit]")
                    await gallery.wait_for_selector("#verify-result[data-verdict=found]")
                    await shoot(gallery, f"verify-{kind}")
                    await gallery.context.close()
    finally:
        await server.stop()
    (OUT / "README.md").write_text(
        "# Screenshots\n\nEvery page on a desktop (1440x900) and a phone (390x844), in the court's language.\n"
        "Refresh them with `.venv/bin/python -m tests.screens` (see tests/screens.py).\n\n"
        + "".join(f"- `{p.name}`\n" for p in sorted(OUT.glob("*.png"))),
        encoding="utf-8",
    )
    print(json.dumps({"screens": len(list(OUT.glob('*.png')))}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--language", choices=["zh", "en"], default="zh")
    asyncio.run(main(parser.parse_args().language))
