"""Identity at join in a real Chromium whose fake camera shows a real face (Grace Hopper, from a
Y4M file): the party checks in from the live camera, the console shows the pictures and the
face check, admission waits for the clerk's or judge's verdict, and the judge asks for a
re-check mid-hearing."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tests import face_images as fi
from tests.browser_helpers import chromium, enter_check, open_page, screenshot, wait_screen

pytestmark = pytest.mark.timeout(300)

DESK = {"width": 1440, "height": 900}


def write_y4m(path: Path, rgb: np.ndarray, width: int = 640, height: int = 480, frames: int = 2) -> None:
    """A still picture as a Y4M clip (4:2:0, BT.601 full range): Chromium's fake camera plays it in a loop."""
    canvas = Image.new("RGB", (width, height), (200, 205, 210))
    face = Image.fromarray(rgb)
    face.thumbnail((width, height))
    canvas.paste(face, ((width - face.width) // 2, (height - face.height) // 2))
    px = np.asarray(canvas).astype(np.float32)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    u = -0.168736 * r - 0.331264 * g + 0.5 * b + 128
    v = 0.5 * r - 0.418688 * g - 0.081312 * b + 128

    def half(c: np.ndarray) -> np.ndarray:
        return c.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

    planes = b"".join(np.clip(p, 0, 255).astype(np.uint8).tobytes() for p in (y, half(u), half(v)))
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(b"FRAME\n" + planes)


async def test_check_in_from_the_camera_and_the_officers_decide(server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    server = await server_factory("--ice-address", "127.0.0.1", "--video-size", "640x360")
    api = api_factory(server)
    camera = tmp_path / "grace.y4m"
    await asyncio.to_thread(write_y4m, camera, fi.grace_hopper())
    hearing = await api.create_hearing()
    hid = hearing["id"]
    judge = await api.add(hid, "judge", "王法官")
    r = await api.request("POST", f"/api/hearings/{hid}/participants", api.admin_key, json={
        "role": "plaintiff", "name": "Grace Hopper", "identity": {"id_type": "passport", "id_last4": "1906"}})
    plaintiff = r.json

    async with chromium(extra=(f"--use-file-for-fake-video-capture={camera}",)) as browser:
        _, console, console_watch = await open_page(browser, judge["join_url"], "judge", viewport=DESK)
        await console.wait_for_url(re.compile(rf"/console/{hid}$"))
        await enter_check(console)
        await wait_screen(console, "screen-console")
        await console.locator(".proc[data-action=open]").click()
        await console.wait_for_selector("#hearing-state[data-state=open]", timeout=15000)

        # The party: device check, then the check-in from the live camera, then the waiting room.
        _, party, party_watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        await enter_check(party)
        await wait_screen(party, "screen-identity")
        assert await party.locator("#screen-identity input[type=file]").count() == 1  # for the ID page only
        await party.locator("#identity-take").click()
        await party.wait_for_function("() => document.querySelector('#identity-snapshot').naturalWidth > 0", timeout=10000)
        await party.locator("#identity-take-document").click()  # the ID held up to the camera
        await party.wait_for_function("() => document.querySelector('#identity-document').naturalWidth > 0", timeout=10000)
        await party.locator("#identity-send").click()
        await party.wait_for_selector("#identity-message[data-result=sent]", timeout=30000)
        await party.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)

        # The console: the pictures, the registered identity and the face check beside the person.
        box = console.locator(f"#console-people li[data-id='{plaintiff['id']}'] .identity-box")
        await box.locator(".identity-state").wait_for(timeout=15000)
        await console.wait_for_function(
            "id => { const i = document.querySelector(`#console-people li[data-id='${id}'] .identity-snapshot`);"
            " return i && i.naturalWidth === 640; }", arg=plaintiff["id"], timeout=15000)
        assert await box.get_attribute("data-state") == "checked_in"
        assert "1906" in await box.locator(".identity-registered").inner_text()
        face = await box.locator(".identity-face").inner_text()
        assert "1" in face and ("一致" in face or "same person" in face), face
        await screenshot(console, "console-identity")

        # Admission waits for the verdict (the server offers no admit, and refuses one sent
        # anyway); then the clerk's or judge's "verified" lets them in.
        person = console.locator(f"#console-people li[data-id='{plaintiff['id']}']")
        assert await person.locator("button[data-action=admit]").count() == 0
        status, body = await api.act(hid, "admit", judge["token"], plaintiff)
        assert status == 409 and body["error"] == "identity_not_verified"
        assert await person.get_attribute("data-state") == "waiting"
        await box.locator("button[data-action=verify_identity]").click()
        await console.wait_for_selector(f"#console-people li[data-id='{plaintiff['id']}'] .identity-box[data-state=verified]", timeout=10000)
        await person.locator("button[data-action=admit]").wait_for(timeout=10000)
        assert await person.locator("button[data-action=admit]").is_enabled()
        await person.locator("button[data-action=admit]").click()
        await console.wait_for_selector(f"#console-people li[data-id='{plaintiff['id']}'][data-state=admitted]", timeout=10000)
        await wait_screen(party, "screen-hearing", timeout=20)

        # The judge asks for a new check-in mid-hearing: the party's page asks again.
        await console.locator(f"#console-people li[data-id='{plaintiff['id']}'] button[data-action=recheck_identity]").click()
        await wait_screen(party, "screen-identity", timeout=15)
        await party.wait_for_selector("#screen-hearing video#stage-video", state="attached")
        await asyncio.sleep(1.0)  # media events of the hearing keep coming: the check-in stays on screen
        assert await party.evaluate("document.body.dataset.screen") == "screen-identity"
        assert await party.locator("#identity-recheck").count() == 1
        await party.locator("#identity-take").click()
        await party.wait_for_function("() => document.querySelector('#identity-snapshot').naturalWidth > 0", timeout=10000)
        await party.locator("#identity-send").click()
        await wait_screen(party, "screen-hearing", timeout=30)
        await console.wait_for_selector(f"#console-people li[data-id='{plaintiff['id']}'] .identity-box[data-state=checked_in]", timeout=10000)

        events = [e["kind"] for e in await api.events(hid)]
        assert events.count("identity.check_in") == 2 and "participant.verify_identity" in events
        assert "identity.device" in events
        party_watch.assert_clean()
        console_watch.assert_clean()


async def test_the_clerk_registers_an_identity_at_the_desk(server_factory: Any, api_factory: Any) -> None:
    server = await server_factory()
    api = api_factory(server)
    hearing = await api.create_hearing()
    hid = hearing["id"]
    async with chromium(fake_ui=False, fake_devices=False) as browser:
        _, page, watch = await open_page(browser, server.url + "/clerk", "clerk", viewport={"width": 1280, "height": 900})
        await page.fill("#api-key", api.admin_key)
        await page.click("#key-form button[type=submit]")
        await page.wait_for_selector(f"#docket tr[data-id='{hid}']")
        await page.click(f"#docket tr[data-id='{hid}']")
        await page.wait_for_selector(f"#hearing-panel[data-id='{hid}']:not([hidden])")
        await page.fill("#participant-form [name=name]", "王五")
        await page.select_option("#participant-form [name=id_type]", "resident_id")
        await page.fill("#participant-form [name=id_last4]", "123x")
        await page.click("#participant-form button[type=submit]")
        await page.wait_for_selector("#participants .join-link")
        assert await page.input_value("#participant-form [name=id_last4]") == ""
        watch.assert_clean()
    listed = (await api.request("GET", f"/api/hearings/{hid}/identity", api.admin_key)).json["participants"]
    assert [s["registered"] for s in listed] == [{"name": "王五", "id_type": "resident_id", "id_type_zh": "居民身份证", "id_last4": "123X"}]
    assert listed[0]["required"] is True
