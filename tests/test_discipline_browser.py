"""In Debian's Chromium: the court discipline gates entry (a witness also signs the undertaking),
and a party states its view (质证) on the other side's exhibit from its page; all of it reaches
the record."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.browser_helpers import chromium, enter_check, open_page, wait_screen

pytestmark = pytest.mark.timeout(240)


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (250, 248, 240)).save(out, format="PNG")
    return out.getvalue()


async def test_discipline_gates_entry_and_views_reach_the_record(server_factory: Any, api_factory: Any) -> None:
    server = await server_factory("--ice-address", "127.0.0.1", "--video-size", "320x180", "--fps", "5")
    api = api_factory(server)
    hearing, (judge, plaintiff, defendant, witness) = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五"))
    hid = hearing["id"]
    for action in ("open", "start"):
        assert (await api.act(hid, action, token=judge["token"])).status == 200

    async with chromium() as browser:
        _, party, watch = await open_page(browser, defendant["join_url"], "defendant")
        await party.wait_for_selector("#discipline[data-ready]", state="attached", timeout=15000)
        assert "庭审纪律" in await party.locator("#discipline pre[data-kind=discipline]").inner_text()
        # Not acknowledged: the page does not enter, and the server has seen no join.
        assert await party.locator("#enter-button").is_disabled()
        await party.wait_for_timeout(500)
        people = {p["id"]: p for p in (await api.get_hearing(hid)).json["participants"]}
        assert people[defendant["id"]]["state"] == "invited"
        await party.locator("#discipline-ack").check()
        assert await party.locator("#enter-button").is_enabled()
        await party.locator("#enter-button").click()
        await party.wait_for_selector("#screen-lobby:not([hidden])", timeout=15000)
        kinds: list[tuple[str, str]] = []
        for _ in range(150):
            kinds = [(e["kind"], e["subject"]) for e in await api.events(hid)]
            if ("participant.join", defendant["id"]) in kinds:
                break
            await asyncio.sleep(0.1)
        assert kinds.index(("participant.discipline", defendant["id"])) < kinds.index(("participant.join", defendant["id"]))

        _, wpage, wwatch = await open_page(browser, witness["join_url"], "witness")
        await wpage.wait_for_selector("#discipline[data-ready]", state="attached", timeout=15000)
        assert "保证书" in await wpage.locator("#discipline pre[data-kind=undertaking]").inner_text()
        await wpage.locator("#discipline-ack").check()
        assert await wpage.locator("#enter-button").is_disabled()  # the undertaking is signed too
        await enter_check(wpage)
        await wpage.wait_for_selector("#screen-lobby:not([hidden])", timeout=15000)

        # The judge rules on the plaintiff's absence from the console: an action, a line of the record.
        _, console, cwatch = await open_page(browser, judge["join_url"], "console")
        await enter_check(console)
        ruling = console.locator(f"select.ruling[data-participant='{plaintiff['id']}']")
        await ruling.wait_for(timeout=20000)
        await ruling.select_option("deemed_absent")
        for _ in range(100):
            rulings = [e for e in await api.events(hid) if e["kind"] == "participant.rule"]
            if rulings:
                break
            await asyncio.sleep(0.1)
        assert [(e["subject"], e["data"]["ruling"]) for e in rulings] == [(plaintiff["id"], "deemed_absent")]
        cwatch.assert_clean()

        # 质证: the plaintiff's exhibit is shown; the defendant states its view from its page.
        assert (await api.act(hid, "admit", token=judge["token"], participant=defendant)).status == 200
        await wait_screen(party, "screen-hearing")
        form = aiohttp.FormData()
        form.add_field("file", _png(), filename="合同.png", content_type="image/png")
        form.add_field("label", "买卖合同")
        r = await api.request("POST", f"/api/hearings/{hid}/evidence", plaintiff["token"], data=form)
        assert r.status == 201, r.text
        exhibit = r.json
        r = await api.request("POST", f"/api/hearings/{hid}/evidence/{exhibit['id']}/present", judge["token"], json={"page": 1})
        assert r.status == 200, r.text
        await party.locator(".tab[data-tab=tab-evidence]").click()
        form = party.locator(f"#views-form[data-exhibit='{exhibit['id']}']")
        await form.wait_for(timeout=15000)
        await form.locator("fieldset[data-field=authenticity] input[value=admit]").check()
        await form.locator("fieldset[data-field=relevance] input[value=dispute]").check()
        await form.locator("textarea").fill("合同与本案争议的货物无关")
        await form.locator("#views-submit").click()
        await party.wait_for_selector("#views-form [data-stated]", timeout=10000)

        # Closed: the defendant signs by hand on the page and confirms.
        assert (await api.act(hid, "close", token=judge["token"])).status == 200
        await wait_screen(party, "screen-record", timeout=20)
        box = await party.locator("#signature-box canvas").bounding_box()
        assert box is not None
        await party.mouse.move(box["x"] + 20, box["y"] + 60)
        await party.mouse.down()
        for i in range(1, 12):
            await party.mouse.move(box["x"] + 20 + i * 25, box["y"] + 60 + (15 if i % 2 else -15))
        await party.mouse.up()
        await party.locator("#confirm-button").click()
        await party.wait_for_selector("#record-decided[data-decision=confirm]", timeout=15000)
        watch.assert_clean()
        wwatch.assert_clean()

    status = (await api.request("GET", f"/api/hearings/{hid}/record", api.admin_key)).json
    [mine] = [s for s in status["statements"] if s["participant"] == defendant["id"]]
    assert mine["kind"] == "confirm" and mine["image_sha256"] and mine["version_sha256"] == status["version"]
    image = await api.request("GET", f"/api/hearings/{hid}/record/images/{mine['image_sha256']}", api.admin_key)
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    txt = (await api.request("GET", f"/api/hearings/{hid}/transcript?format=txt", api.admin_key)).text
    body = txt.split("（以下无正文）")[0]
    assert "（被告李四已阅读庭审纪律并承诺遵守）" in body
    assert "（审判长决定：原告张三视为缺席）" in body
    assert "（证人陈五签署保证书）" in body
    assert "被告李四对" in body and "发表质证意见：真实性认可" in body and "合同与本案争议的货物无关" in body, body
