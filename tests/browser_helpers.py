"""Helpers for the browser tests: a real headless Chromium (Debian's, never a downloaded one)
driven by Playwright against a real courtroom server.

- `chromium(...)`: an async context manager that launches /usr/bin/chromium with fake camera and
  microphone (or a WAV file as the microphone, or no fake permission prompt at all).
- `open_page(browser, url)`: a new context (its own storage, like a separate person) and page,
  with a `PageWatch` that records uncaught errors and console errors.
- `wait_playing(page, selector)`: a <video> shows a picture (videoWidth > 0) and its time advances.
- `screenshot(page, name)`: artifacts/screenshots/NAME.png.
- `enter_check(page)`: pass the device check (the "enter" button).
- `media_report(page)`: the offer's and the answer's candidates and the candidate pair in use.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
BASE_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
FAKE_UI = "--use-fake-ui-for-media-stream"  # grant camera/microphone without a prompt
FAKE_DEVICES = "--use-fake-device-for-media-stream"  # a synthetic camera and microphone

# Console noise that is expected, not a bug: a 404 of a route another change has not landed
# yet (the page handles it), and a WebSocket refused while the network is down.
EXPECTED_CONSOLE = (
    re.compile(r"Failed to load resource"),
    re.compile(r"WebSocket connection to .* failed"),
    re.compile(r"net::ERR_INTERNET_DISCONNECTED"),
)


@contextlib.asynccontextmanager
async def chromium(
    *, fake_ui: bool = True, fake_devices: bool = True, wav: Path | None = None, extra: Sequence[str] = ()
) -> AsyncIterator[Browser]:
    args = list(BASE_ARGS)
    if fake_ui:
        args.append(FAKE_UI)
    if fake_devices:
        args.append(FAKE_DEVICES)
    if wav is not None:
        args.append(f"--use-file-for-fake-audio-capture={wav}")
    args.extend(extra)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class PageWatch:
    """Uncaught page errors and console errors of one page."""

    name: str
    errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", self._on_console)

    def _on_console(self, message: Any) -> None:
        text = message.text
        self.console.append(f"{message.type}: {text}")
        if message.type == "error" and not any(p.search(text) for p in EXPECTED_CONSOLE):
            self.errors.append(text)

    def assert_clean(self) -> None:
        assert not self.errors, f"{self.name}: errors in the page: {self.errors}"


async def open_page(
    browser: Browser,
    url: str,
    name: str,
    *,
    viewport: dict[str, int] | None = None,
    permissions: Sequence[str] | None = None,
    **context_args: Any,
) -> tuple[BrowserContext, Page, PageWatch]:
    context = await browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, **context_args)
    if permissions is not None:
        await context.grant_permissions(list(permissions))
    page = await context.new_page()
    watch = PageWatch(name)
    watch.attach(page)
    await page.goto(url)
    return context, page, watch


async def wait_until(page: Page, expression: str, timeout: float = 15.0, arg: Any = None) -> Any:
    """Wait until a JavaScript expression (a function body returning a value) is truthy."""
    handle = await page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=200)
    return await handle.json_value()


async def video_sample(page: Page, selector: str) -> dict[str, Any]:
    return await page.eval_on_selector(
        selector,
        "v => ({width: v.videoWidth, height: v.videoHeight, time: v.currentTime, paused: v.paused, ready: v.readyState,"
        " network: v.networkState, error: v.error && v.error.message, src: v.currentSrc,"
        " frames: v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality().totalVideoFrames : null})",
    )


async def wait_playing(page: Page, selector: str = "#stage-video", timeout: float = 25.0, advance: float = 1.0) -> dict[str, Any]:
    """The <video> shows a picture and plays: videoWidth > 0, then both its currentTime and the
    count of frames it has decoded advance (a frozen stream keeps the clock running, not the frames)."""
    try:
        await page.wait_for_function(
            "sel => { const v = document.querySelector(sel); return v && v.videoWidth > 0 && v.readyState >= 2 && !v.paused; }",
            arg=selector,
            timeout=timeout * 1000,
            polling=200,
        )
    except PlaywrightTimeout:
        raise AssertionError(f"{selector} shows no picture after {timeout} s: {await video_sample(page, selector)}") from None
    first = await video_sample(page, selector)
    deadline = time.monotonic() + 10.0
    while True:
        await asyncio.sleep(advance)
        second = await video_sample(page, selector)
        frames_moved = first["frames"] is None or second["frames"] >= first["frames"] + 3
        if second["time"] >= first["time"] + advance * 0.5 and frames_moved:
            return {"first": first, "second": second}
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} does not play: {first} then {second}")


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def enter_check(page: Page, timeout: float = 15.0) -> None:
    """Pass the device check: wait until it has settled (a camera picture, or a message saying
    why there is none) and press enter."""
    await page.wait_for_selector("#screen-check:not([hidden])", timeout=timeout * 1000)
    await page.wait_for_function(
        "() => document.querySelector('#check-preview').videoWidth > 0"
        " || !document.querySelector('#device-message').hidden"
        " || document.querySelector('#device-controls').hidden",
        timeout=timeout * 1000,
        polling=100,
    )
    if await page.locator("#discipline").count():  # a party's page: the court discipline is acknowledged first
        await page.wait_for_selector("#discipline[data-ready]", state="attached", timeout=timeout * 1000)
    for box in await page.locator("#discipline input[type=checkbox]").all():  # the court discipline first
        await box.check()
    await page.locator("#enter-button").click()


async def screen(page: Page) -> str:
    return await page.evaluate("document.body.dataset.screen")


async def wait_screen(page: Page, name: str, timeout: float = 15.0) -> None:
    await page.wait_for_function(
        "name => document.body.dataset.screen === name", arg=name, timeout=timeout * 1000, polling=100
    )


def candidates(sdp: str) -> list[dict[str, str]]:
    """The candidates written in an SDP: address, port, protocol, type."""
    found = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            found.append({"protocol": parts[2].lower(), "address": parts[4], "port": parts[5], "type": parts[7]})
    return found


async def media_report(page: Page) -> dict[str, Any]:
    """What the page's peer negotiated: offered/answered candidates and the pair in use."""
    data = await page.evaluate(
        """async () => {
            const s = window.courtroomPage && window.courtroomPage.session;
            if (!s || !s.pc) return null;
            return {
                offer: s.pc.localDescription ? s.pc.localDescription.sdp : '',
                answer: s.pc.remoteDescription ? s.pc.remoteDescription.sdp : '',
                pair: await s.selectedPair(),
                peers: s.peers,
                state: s.pc.connectionState,
            };
        }"""
    )
    if data is None:
        return {}
    data["offer_candidates"] = candidates(data["offer"])
    data["answer_candidates"] = candidates(data["answer"])
    return data


async def session_peers(page: Page) -> int:
    return int(await page.evaluate("window.courtroomPage && window.courtroomPage.session ? window.courtroomPage.session.peers : 0"))
