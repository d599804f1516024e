"""The browser client in a real headless Chromium against a real server: the judge's console and
the parties' pages in a hearing (evidence, the record's confirmation), live captions from a
party's microphone with the clerk's correction, the public live stream and replay, the clerk's
desk, the verification page, the web routes.

Chromium is heavy on two cores: each test opens at most three pages at once, and the picture is
640x360. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from tests.asr_audio import Corpus, timeline, write_wav
from tests.browser_helpers import (
    ROOT,
    chromium,
    enter_check,
    media_report,
    open_page,
    screenshot,
    wait_playing,
    wait_screen,
)

pytestmark = pytest.mark.timeout(300)

SERVER_ARGS = ("--ice-address", "127.0.0.1", "--video-size", "640x360")
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1440, "height": 900}


@pytest.fixture
async def web_server(server_factory: Any) -> Any:
    return await server_factory(*SERVER_ARGS)


async def wait_state(page: Any, state: str, timeout: float = 15.0) -> None:
    await page.wait_for_selector(f"#hearing-state[data-state={state}]", timeout=timeout * 1000)


def person(page: Any, participant_id: str) -> Any:
    return page.locator(f"#console-people li[data-id='{participant_id}']")


def png(text: str) -> bytes:
    """A small PNG document (an exhibit)."""
    image = Image.new("RGB", (480, 320), (250, 248, 240))
    draw = ImageDraw.Draw(image)
    draw.rectangle((10, 10, 470, 310), outline=(40, 40, 40), width=3)
    draw.text((30, 40), text, fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def close_from_console(console: Any) -> None:
    """Shift+C asks first; the dialog's confirm button closes."""
    await console.keyboard.press("Shift+C")
    await console.locator("dialog.confirm .btn-danger").click()
    await wait_state(console, "closed")


# --- a hearing in three browsers ---------------------------------------------------------------


async def test_hearing_in_three_browsers(web_server: Any, api_factory: Any) -> None:
    """A judge and two parties open their links; the console opens, admits and starts the
    hearing; every page plays the courtroom picture; hands, mutes and an exhibit go both ways;
    recess and close from the console; the parties confirm or object to the record, and the
    console shows it."""
    api = api_factory(web_server)
    hearing, (judge, plaintiff, defendant) = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"),
        title="张三诉李四买卖合同纠纷", public=True,
    )
    hid = hearing["id"]
    async with chromium() as browser:
        # The judge's link is the same /join/ link: the page sends a judge on to the console.
        _, console, console_watch = await open_page(browser, judge["join_url"], "judge", viewport=DESK)
        await console.wait_for_url(re.compile(rf"/console/{hid}$"))
        assert "#token=" not in console.url, "the token stays in the address bar"
        await enter_check(console)
        await wait_screen(console, "screen-console")
        await console.locator(".proc[data-action=open]").click()
        await wait_state(console, "open")

        # The parties: one on a laptop, one on a phone-sized screen.
        _, p1, p1_watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        _, p2, p2_watch = await open_page(browser, defendant["join_url"], "defendant", viewport=PHONE, is_mobile=True, has_touch=True)
        for page, who in ((p1, "原告 张三"), (p2, "被告 李四")):
            await enter_check(page)
            await page.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
            assert await page.locator("#lobby-you").inner_text() == who
        await screenshot(p1, "party-waiting-room")

        # The console sees both waiting and admits them; then starts with the keyboard (S).
        for p in (plaintiff, defendant):
            row = person(console, p["id"])
            await row.locator("[data-k=state].pstate-waiting").wait_for(timeout=10000)
            await row.locator("button[data-action=admit]").click()
            await console.locator(f"#console-people li[data-id='{p['id']}'][data-state=admitted]").wait_for(timeout=10000)
        await console.keyboard.press("s")

        # Every page plays the courtroom picture.
        for page in (console, p1, p2):
            await wait_state(page, "in_session")
            played = await wait_playing(page, "#stage-video")
            assert played["second"]["width"] == 640 and played["second"]["height"] == 360, played
        await p1.wait_for_selector("#stage-overlay", state="hidden", timeout=10000)

        # Media stays on loopback: the server offers only 127.0.0.1, and the pair in use goes
        # there (Chromium's own host candidates are this machine's addresses; nothing leaves it).
        report = await media_report(p1)
        assert report["answer_candidates"], report
        assert {c["address"] for c in report["answer_candidates"]} == {"127.0.0.1"}, report["answer_candidates"]
        assert report["pair"] and report["pair"]["remote"].startswith("127.0.0.1:"), report["pair"]
        assert re.findall(r"^m=(audio|video)", report["offer"], re.M) == ["audio", "video"]
        print("chromium offered", report["offer_candidates"], "and used", report["pair"])

        # The phone layout fits the screen.
        overflow = await p2.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"the phone page scrolls sideways by {overflow}px"

        # A raised hand and a self-mute reach the console; the judge's mute reaches the party.
        await p1.locator("#hand-button").click()
        await person(console, plaintiff["id"]).locator("[data-k=hand]").wait_for(timeout=10000)
        await p1.locator("#mic-button").click()
        await person(console, plaintiff["id"]).locator("[data-k=self_muted]").wait_for(timeout=10000)
        assert await p1.eval_on_selector("#mic-button", "b => b.getAttribute('aria-pressed')") == "true"
        await person(console, defendant["id"]).locator("button[data-action=mute]").click()
        await p2.wait_for_selector("#court-muted:not([hidden])", timeout=10000)

        # The plaintiff files an exhibit; the console sees it and shows it to everyone.
        await p1.locator(".tab[data-tab=tab-evidence]").click()
        await p1.set_input_files("#evidence-file", files=[{"name": "合同.png", "mimeType": "image/png", "buffer": png("Contract No. 1")}])
        await p1.fill("#evidence input[name=label]", "买卖合同")
        await p1.locator("#evidence button[type=submit]").click()
        await p1.wait_for_selector("#evidence .exhibit strong:has-text('原告证据1')", timeout=15000)
        await console.keyboard.press("2")
        exhibit = console.locator("#evidence .exhibit").filter(has_text="原告证据1")
        await exhibit.wait_for(timeout=10000)
        await exhibit.locator("button[data-present]").click()
        await p1.wait_for_selector("#evidence .presenting-now", timeout=10000)
        await p2.locator(".tab[data-tab=tab-evidence]").click()
        await p2.wait_for_selector("#evidence .presenting-now", timeout=10000)

        # The events tab lists every event the server stored, the upload included, as sentences.
        await console.keyboard.press("3")
        stored = await api.events(hid)
        await console.wait_for_function(
            "seqs => seqs.every(s => document.querySelector(`#event-list li[data-seq='${s}']`))",
            arg=[e["seq"] for e in stored], timeout=10000,
        )
        lines = await console.locator("#event-list li").all_inner_texts()
        assert any(re.fullmatch(r"\d\d:\d\d 原告 张三 提交证据：原告证据1：买卖合同", line) for line in lines), lines
        assert any("审判长 王法官 准许 被告 李四 入庭" in line for line in lines), lines
        assert not [line for line in lines if re.search(r"[A-Za-z]{2,}|[0-9a-f]{12}", line)], lines  # no codes, no ids
        await console.keyboard.press("1")
        await screenshot(console, "console-in-session")
        await screenshot(p1, "party-in-session")
        await screenshot(p2, "party-phone-in-session")

        # Recess (keyboard R): every page says so, and the picture keeps coming (the slate).
        await console.keyboard.press("r")
        for page in (console, p1, p2):
            await wait_state(page, "recess")
        await p1.wait_for_selector("#stage-overlay:not([hidden])", timeout=10000)
        await wait_playing(p1, "#stage-video")
        await screenshot(p1, "party-recess")

        # Close from the console; each party is asked to confirm the record.
        await close_from_console(console)
        for page in (p1, p2):
            await wait_screen(page, "screen-record", timeout=20)
            assert "张三诉李四买卖合同纠纷" in await page.inner_text("#record-text")
        await p1.locator("#confirm-button").click()
        await p1.wait_for_selector("#record-decided[data-decision=confirm]")
        await p2.fill("#confirm-form textarea", "笔录漏记了被告关于交货时间的陈述。")
        await p2.locator("#object-button").click()
        await p2.wait_for_selector("#record-decided[data-decision=object]")
        await screenshot(p2, "party-phone-record")

        # The console's record tab shows who confirmed and who objected.
        await console.wait_for_selector("#tab-record:not([hidden])", timeout=10000)
        await console.locator("#record-refresh").click()
        await console.wait_for_selector(f"#record-status li[data-participant='{plaintiff['id']}'][data-decision=confirm]", timeout=10000)
        await console.wait_for_selector(f"#record-status li[data-participant='{defendant['id']}'][data-decision=object]", timeout=10000)
        assert await console.eval_on_selector("#record-status", "n => n.dataset.status") == "complete_objections"
        await screenshot(console, "console-closed")

        for watch in (console_watch, p1_watch, p2_watch):
            watch.assert_clean()

    kinds = [e["kind"] for e in await api.events(hid)]
    for kind in ("hearing.open", "hearing.start", "hearing.recess", "hearing.close", "participant.raise_hand",
                 "participant.self_mute", "participant.mute", "evidence.upload", "evidence.present",
                 "record.confirm", "record.object"):
        assert kind in kinds, (kind, kinds)
    assert kinds.count("participant.admit") == 2


# --- the witness -------------------------------------------------------------------------------------


async def test_witness_waits_isolated_until_called(web_server: Any, api_factory: Any) -> None:
    """A witness admitted to the hearing still waits on its own screen, with no picture, until
    the judge calls it; once excused it is told so and the picture stops."""
    api = api_factory(web_server)
    hearing, (judge, witness) = await api.hearing_with(("judge", "王法官"), ("witness", "陈五"))
    hid = hearing["id"]
    for action in ("open", "start"):
        assert (await api.act(hid, action, token=judge["token"])).status == 200
    async with chromium() as browser:
        _, page, watch = await open_page(browser, witness["join_url"], "witness", viewport=PHONE, is_mobile=True, has_touch=True)
        await enter_check(page)
        await page.wait_for_selector("#lobby[data-kind=witness_isolated]", timeout=15000)
        assert (await api.act(hid, "admit", token=judge["token"], participant=witness)).status == 200
        await page.wait_for_timeout(1500)
        assert await page.evaluate("document.body.dataset.screen") == "screen-lobby", "admitted is not called"
        assert await page.evaluate("!window.courtroomPage.session.pc"), "no media before being called"
        await screenshot(page, "witness-isolated")

        assert (await api.act(hid, "call_witness", token=judge["token"], participant=witness)).status == 200
        await wait_screen(page, "screen-hearing")
        await wait_playing(page)
        assert (await api.act(hid, "excuse_witness", token=judge["token"], participant=witness)).status == 200
        await page.wait_for_selector("#lobby[data-kind=witness_excused]", timeout=15000)
        await screenshot(page, "witness-excused")
        watch.assert_clean()


# --- speech to captions, the correction, the public stream and replay ----------------------------


async def test_captions_correction_and_public_broadcast(server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    """The party's microphone plays a WAV of speech: its lines appear, labelled, on the judge's
    console and on the party's page; the judge corrects one and both pages show the correction.
    The judge puts the hearing on air: a viewer finds it in the gallery and the player plays the
    delayed HLS stream. After closing, the replay plays with the transcript beside it: a click
    on a line seeks the video, the search box finds the corrected words."""
    server = await server_factory(*SERVER_ARGS, "--broadcast-delay", "2", "--asr-language", "ko",
                                  "--record-engine", "off", asr_engine="vosk")
    api = api_factory(server)
    hearing, (judge, plaintiff) = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), title="公开审理的借款纠纷", public=True,
    )
    hid = hearing["id"]
    corpus = Corpus(tmp_path / "speech")
    samples, _ = timeline([1.0, corpus.samples("The plaintiff asks the court for damages."), 1.5,
                           corpus.samples("The defendant denies the claim."), 2.5])
    wav = write_wav(tmp_path / "speech.wav", samples)  # Chromium loops it as every page's microphone
    corrected = "原告请求法院判令被告赔偿损失。"

    async with chromium(wav=wav) as browser:
        _, console, console_watch = await open_page(browser, judge["join_url"], "judge", viewport=DESK)
        await enter_check(console)
        await wait_screen(console, "screen-console")
        # The shortcut fires what the server offers: wait for its first state (the Open button).
        await console.locator(".proc[data-action=open]").wait_for(state="visible", timeout=15000)
        await console.keyboard.press("o")
        await wait_state(console, "open")
        await console.keyboard.press("m")  # the judge listens: only the plaintiff speaks
        await console.wait_for_selector("#mic-button[aria-pressed=true]")

        _, party, party_watch = await open_page(browser, plaintiff["join_url"], "plaintiff")
        await party.wait_for_selector("#screen-check:not([hidden])")
        await party.wait_for_function(
            "() => Number(document.querySelector('#mic-meter').dataset.level || 0) > 0.2", timeout=15000, polling=100
        )
        await screenshot(party, "party-device-check")
        await enter_check(party)
        await party.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
        await console.keyboard.press("a")  # admit the next one waiting
        await console.keyboard.press("s")
        await wait_state(console, "in_session")
        await console.keyboard.press("b")  # on air: an action, asked first
        await console.locator("dialog.confirm .btn-danger").click()
        await console.wait_for_selector("#on-air:not([hidden])")
        assert "2" in await console.inner_text("#on-air")
        assert await console.inner_text("#broadcast-button") == "停止公开直播"
        await wait_playing(party)

        # Captions: the plaintiff's words, labelled, on the console and on the party's page.
        # (The second line: the first may have begun before the broadcast did, and the public
        # record holds only what was on air.)
        line = console.locator("#transcript-list .seg.final").filter(has_text="原告 张三").nth(1)
        await line.wait_for(timeout=60000)
        segment_id = await line.get_attribute("data-id")
        await party.wait_for_selector(f"#transcript-list .seg.final[data-id='{segment_id}']", timeout=10000)
        await screenshot(console, "console-captions")

        # The judge corrects the line; both pages show the corrected text.
        await line.locator(".seg-text").click()
        await line.locator("input.seg-edit").fill(corrected)
        await line.locator("input.seg-edit").press("Enter")
        fixed = f"#transcript-list .seg.corrected[data-id='{segment_id}'] .seg-text"
        await console.wait_for_selector(f"{fixed}:has-text('{corrected}')", timeout=10000)
        await party.wait_for_selector(f"{fixed}:has-text('{corrected}')", timeout=10000)
        await screenshot(party, "party-captions")

        # The public: the gallery lists it live, the player plays the delayed stream.
        _, viewer, viewer_watch = await open_page(browser, server.url + "/gallery", "viewer",
                                                  viewport=PHONE, is_mobile=True, has_touch=True)
        card = viewer.locator(f"#live-list li[data-id='{hid}'] a")
        deadline = time.monotonic() + 30
        while not await card.count():  # the list refreshes itself every 30 s; a reload is quicker
            assert time.monotonic() < deadline, "the gallery never listed the hearing as live"
            await viewer.reload()
            await viewer.wait_for_timeout(1000)
        await card.click()
        await viewer.wait_for_url(re.compile(rf"/gallery/{hid}$"))
        await viewer.wait_for_selector("#replay-kind[data-kind=live]", timeout=30000)
        await wait_playing(viewer, "#player", timeout=40)
        await screenshot(viewer, "public-live")

        await close_from_console(console)
        await wait_screen(party, "screen-record", timeout=20)
        for watch in (console_watch, party_watch):
            watch.assert_clean()

        # The replay: the transcript beside it; a click on a line seeks; search finds the correction.
        deadline = time.monotonic() + 60
        while not (public := (await api.request("GET", f"/public/hearings/{hid}", None)).json)["replayable"]:
            assert time.monotonic() < deadline, f"no replay a minute after closing: {public}"
            await viewer.wait_for_timeout(500)
        assert public["replay_mp4"] and public["transcript"], public
        await viewer.set_viewport_size(DESK)
        await viewer.goto(server.url + f"/gallery/{hid}")
        await viewer.wait_for_selector("#replay-kind[data-kind=replay]")
        await viewer.wait_for_selector("#transcript-list .seg")
        await viewer.fill("#transcript-search", "赔偿")
        hit = viewer.locator("#transcript-list .seg:not([hidden])")
        assert await hit.count() >= 1 and corrected in await hit.first.inner_text()
        start = float(await hit.first.get_attribute("data-start"))
        await hit.first.click()
        await wait_playing(viewer, "#player")
        now = await viewer.eval_on_selector("#player", "v => v.currentTime")
        assert start - 0.5 <= now <= start + 15, (start, now)
        await screenshot(viewer, "public-replay")
        viewer_watch.assert_clean()


# --- the clerk's desk ---------------------------------------------------------------------------------


async def test_clerk_schedules_and_invites(web_server: Any, api_factory: Any) -> None:
    api = api_factory(web_server)
    async with chromium(fake_ui=False, fake_devices=False) as browser:
        _, page, watch = await open_page(browser, web_server.url + "/clerk", "clerk", viewport={"width": 1280, "height": 900})
        await page.fill("#api-key", "wrong key")
        await page.click("#key-form button[type=submit]")
        await page.wait_for_selector("#key-error:not([hidden])")
        await page.fill("#api-key", api.admin_key)
        await page.click("#key-form button[type=submit]")
        await page.wait_for_selector("#desk:not([hidden])")

        case_number = "(2026)京0491民初4321号"
        await page.fill("#schedule-form [name=case_number]", case_number)
        await page.fill("#schedule-form [name=title]", "王五诉赵六民间借贷纠纷")
        await page.select_option("#schedule-form [name=procedure]", "small_claims")
        await page.check("#schedule-form [name=public]")
        await page.click("#schedule-form button[type=submit]")
        await page.wait_for_selector(f"#hearing-panel:not([hidden]) #hearing-heading:has-text('{case_number}')")
        hid = await page.eval_on_selector("#hearing-panel", "n => n.dataset.id")
        # The docket lists it (created today).
        await page.wait_for_selector(f"#docket tr[data-id='{hid}']")

        await page.fill("#participant-form [name=name]", "王五")
        await page.select_option("#participant-form [name=role]", "plaintiff")
        await page.click("#participant-form button[type=submit]")
        link = page.locator("#participants .join-link")
        await link.first.wait_for()
        url = await link.first.input_value()
        assert re.fullmatch(rf"{re.escape(web_server.url)}/join/{hid}#token=[\w.-]+", url), url

        # An agent needs a side: the form offers it.
        await page.fill("#participant-form [name=name]", "钱律师")
        await page.select_option("#participant-form [name=role]", "agent")
        await page.select_option("#participant-form [name=side]", "defendant")
        await page.click("#participant-form button[type=submit]")
        await page.wait_for_function("() => document.querySelectorAll('#participants .join-link').length === 2")
        await screenshot(page, "clerk-desk")
        watch.assert_clean()

    # What the page made is what the server holds, and the link's token works.
    reply = await api.get_hearing(hid)
    assert reply.json["case_number"] == case_number and reply.json["procedure"] == "small_claims" and reply.json["public"] is True
    assert sorted((p["role"], p["side"]) for p in reply.json["participants"]) == [("agent", "defendant"), ("plaintiff", "plaintiff")]
    token = url.split("#token=", 1)[1]
    assert (await api.get_hearing(hid, token=token)).status == 200


# --- the public pages: gallery and verification -------------------------------------------------


async def test_gallery_and_verification(web_server: Any, api_factory: Any) -> None:
    """The gallery lists a public hearing on air and never a closed-door one; Chinese first,
    English as a switch; a file deposited as an exhibit is verified by its SHA-256, computed in
    the browser (only the digest is sent)."""
    import aiohttp

    api = api_factory(web_server)
    public, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), title="公开审理的案件", public=True)
    closed_door, _ = await api.hearing_with(("judge", "李法官"), title="不公开审理的案件", public=False)
    for action in ("open", "start", "broadcast_on"):
        assert (await api.act(public["id"], action, token=judge["token"])).status == 200
    exhibit = png("Receipt 2026-01-05")
    form = aiohttp.FormData()
    form.add_field("file", exhibit, filename="收据.png", content_type="image/png")
    filed = await api.request("POST", f"/api/hearings/{public['id']}/evidence", plaintiff["token"], data=form)
    assert filed.status == 201, filed.text

    async with chromium(fake_ui=False, fake_devices=False) as browser:
        _, page, watch = await open_page(browser, web_server.url + "/", "gallery")
        card = page.locator(f"#live-list li[data-id='{public['id']}']")
        await card.wait_for()
        assert await page.locator(f"li[data-id='{closed_door['id']}']").count() == 0
        assert await page.inner_text("h1") == "公开庭审"
        await screenshot(page, "gallery")
        # The court's language decides: no switch on the page (English is a court's setting).
        assert await page.locator(".lang-switch").count() == 0
        await page.evaluate("courtroomSetLanguage('en')")
        assert await page.inner_text("h1") == "Public hearings"
        assert await page.evaluate("document.documentElement.lang") == "en"
        await card.locator("a").click()
        await page.wait_for_selector(f"#case-number:has-text('{public['case_number']}')")
        assert await page.inner_text("#replay-kind") in ("● 直播", "即将直播")  # the court's language again
        await page.goto(web_server.url + f"/gallery/{closed_door['id']}")
        await page.wait_for_selector("#replay-status[data-status=not_found]:not([hidden])")

        await page.goto(web_server.url + "/verify")
        asked: list[str] = []
        page.on("request", lambda r: asked.append(r.url) if "/public/verify" in r.url else None)
        await page.set_input_files("#verify-file", files=[{"name": "收据.png", "mimeType": "image/png", "buffer": exhibit}])
        digest = hashlib.sha256(exhibit).hexdigest()
        await page.wait_for_function("h => document.querySelector('#verify-hash').value === h", arg=digest, timeout=10000)
        await page.click("#verify-form button[type=submit]")
        await page.wait_for_selector("#verify-result[data-verdict=found]")
        assert public["case_number"] in await page.inner_text("#verify-result")
        assert asked == [f"{web_server.url}/public/verify?sha256={digest}"], asked  # the digest, not the file
        await screenshot(page, "verify-found")

        other = b"never deposited " * 100
        await page.set_input_files("#verify-file", files=[{"name": "other.txt", "mimeType": "text/plain", "buffer": other}])
        await page.wait_for_function("h => document.querySelector('#verify-hash').value === h",
                                     arg=hashlib.sha256(other).hexdigest(), timeout=10000)
        await page.click("#verify-form button[type=submit]")
        await page.wait_for_selector("#verify-result[data-verdict=not_found]")
        await page.fill("#verify-hash", "not a digest")
        await page.set_input_files("#verify-file", files=[])
        await page.click("#verify-form button[type=submit]")
        await page.wait_for_selector("#verify-result[data-verdict=invalid]")
        watch.assert_clean()


# --- routes and UI text (no browser) ---------------------------------------------------------------------


async def test_web_routes(api: Any) -> None:
    hearing = await api.create_hearing()
    for path in ("/", "/gallery", "/verify", "/clerk", f"/join/{hearing['id']}", f"/console/{hearing['id']}", f"/gallery/{hearing['id']}"):
        reply = await api.request("GET", path, None)
        assert reply.status == 200, path
        assert reply.headers["Content-Type"].startswith("text/html"), path
        assert "script-src 'self'" in reply.headers["Content-Security-Policy"]
        assert reply.headers["Referrer-Policy"] == "no-referrer"
        assert "<script type=\"module\"" in reply.text
    for path, kind in (
        ("/static/js/party.js", "text/javascript"),
        ("/static/i18n/zh.js", "text/javascript"),
        ("/static/css/app.css", "text/css"),
        ("/static/favicon.svg", "image/svg+xml"),
    ):
        reply = await api.request("GET", path, None)
        assert reply.status == 200 and reply.headers["Content-Type"].startswith(kind), (path, reply.headers.get("Content-Type"))
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
    # Nothing outside web/, nothing hidden, no odd names; errors are JSON like every error.
    for path in (
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/static/js/..%2f..%2fpyproject.toml",
        "/static/.hidden",
        "/static/js/",
        "/static/nope.js",
        "/static//etc/passwd",
        "/static/js/party.js%00.css",
        "/join/..%2f..",
        "/join/a.b",
    ):
        reply = await api.request("GET", path, None)
        assert reply.status == 404, (path, reply.status)
        assert "Traceback" not in reply.text and "[project]" not in reply.text


def _keys(path: Path) -> set[str]:
    return set(re.findall(r"^\s*'([^']+)':", path.read_text(encoding="utf-8"), re.M))


def test_ui_text_in_both_languages() -> None:
    """Every UI text exists in Chinese and English, and every key a page names exists."""
    zh = _keys(ROOT / "web/i18n/zh.js")
    en = _keys(ROOT / "web/i18n/en.js")
    assert zh and zh == en, (sorted(zh - en), sorted(en - zh))
    used: set[str] = set()
    for page in (ROOT / "web").glob("*.html"):
        used |= set(re.findall(r'data-i18n(?:-placeholder|-aria|-title)?="([^"]+)"', page.read_text(encoding="utf-8")))
    for script in (ROOT / "web/js").glob("*.js"):
        used |= {k for k in re.findall(r"\bt(?:Maybe)?\('([a-z_]+\.[a-z_.]+)'", script.read_text(encoding="utf-8"))}
    assert used <= zh, sorted(used - zh)
