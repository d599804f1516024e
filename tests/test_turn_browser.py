"""TURN for browsers: the pod hands each participant's socket short-lived coturn credentials
(the REST-API scheme), and Debian's Chromium, allowed only relayed candidates, joins a
hearing through a real coturn on loopback, sees the picture and hears the judge. A second
coturn whose UDP listener is closed still relays the browser, over TCP."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.browser_helpers import chromium, enter_check, media_report, open_page, wait_playing
from tests.coturn import Coturn, coturn
from tests.media_helpers import LOOPBACK_MEDIA

pytestmark = pytest.mark.timeout(240)

SECRET = "turn-rest-secret-for-tests"


@pytest.fixture(scope="session")
def turn_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Coturn]]:
    """Two coturns, started once: one as deployed, one with its UDP listener closed."""
    folder = tmp_path_factory.mktemp("coturn")
    with coturn(folder, SECRET, relay_ports=(49310, 49360)) as full, \
            coturn(folder, SECRET, no_udp=True, relay_ports=(49361, 49400)) as tcp_only:
        yield {"udp": full, "tcp": tcp_only}


def turn_args(turn: Coturn, secret: str = SECRET) -> tuple[str, ...]:
    args: list[str] = [*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--turn-secret", secret]
    for url in turn.urls():
        args += ["--turn-url", url]
    return tuple(args)


def expected_credential(username: str, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


async def test_each_socket_gets_fresh_rest_credentials(turn_servers: dict[str, Coturn], server_factory: Any, api_factory: Any) -> None:
    turn = turn_servers["udp"]
    server = await server_factory(*turn_args(turn))
    api = api_factory(server)
    _, (judge_p,) = await api.hearing_with(("judge", "王法官"))
    seen = []
    for _ in range(2):
        judge = Participant(server.url, judge_p["token"])
        await judge.connect()
        try:
            first = judge.messages[0]
            assert first["type"] == "ice_servers", judge.messages[:2]
            (relay,) = first["ice_servers"]
            assert relay["urls"] == list(turn.urls())
            expiry, _, who = relay["username"].partition(":")
            assert who == judge_p["id"]
            assert 23 * 3600 < int(expiry) - time.time() <= 24 * 3600
            assert relay["credential"] == expected_credential(relay["username"])
            seen.append(int(expiry))
        finally:
            await judge.close()
        await asyncio.sleep(1.1)
    assert seen[1] > seen[0], "a reconnect must get fresh credentials"


async def test_turn_url_without_secret_refuses_to_start(tmp_path: Any) -> None:
    import os
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "courtroom", "serve", "--data", str(tmp_path), "--turn-url", "turn:127.0.0.1:3478",
        stderr=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "COURTROOM_TURN_SECRET"},
    )
    _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 2 and b"--turn-secret" in err, err


async def relay_join(turn: Coturn, server_factory: Any, api_factory: Any) -> dict[str, Any]:
    """A browser party, relay only, joins a hearing the judge (an aiortc peer) is speaking in."""
    server = await server_factory(*turn_args(turn))
    api = api_factory(server)
    _, (judge_p, party_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    judge = Participant(server.url, judge_p["token"], ToneTrack(440), PatternTrack(320, 180, 10))
    url = party_p["join_url"].replace("#", "?ice=relay#", 1)  # the page's test-only switch
    try:
        await judge.connect()
        await judge.act("open")
        async with chromium() as browser:
            _, page, watch = await open_page(browser, url, "party")
            await enter_check(page)
            await page.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
            await judge.act("admit", party_p["id"])
            await judge.act("start")
            await judge.start_media()
            await wait_playing(page, "#stage-video", timeout=40)  # sees the hearing
            heard = await page.wait_for_function(
                """async () => {
                    const pc = window.courtroomPage.session.pc;
                    if (!pc) return 0;
                    let energy = 0;
                    (await pc.getStats()).forEach((r) => {
                        if (r.type === 'inbound-rtp' && r.kind === 'audio') energy = r.totalAudioEnergy || 0;
                    });
                    return energy > 0.01 ? energy : 0;
                }""", timeout=20000, polling=500)
            report = await media_report(page)
            relay = await page.evaluate(
                """async () => {
                    const pc = window.courtroomPage.session.pc;
                    const stats = await pc.getStats();
                    let pair = null;
                    stats.forEach((r) => { if (r.type === 'transport' && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId); });
                    const local = pair && stats.get(pair.localCandidateId);
                    return local ? { type: local.candidateType, relayProtocol: local.relayProtocol, url: local.url } : null;
                }""")
            watch.assert_clean()
            return {"report": report, "relay": relay, "energy": await heard.json_value(), "party": party_p}
    finally:
        await judge.close()


@pytest.mark.parametrize("listener", ["udp", "tcp"])
async def test_browser_joins_through_coturn_relay_only(listener: str, turn_servers: dict[str, Coturn],
                                                       server_factory: Any, api_factory: Any) -> None:
    turn = turn_servers[listener]
    result = await relay_join(turn, server_factory, api_factory)
    report, relay = result["report"], result["relay"]
    assert report["offer_candidates"], report
    assert {c["type"] for c in report["offer_candidates"]} == {"relay"}, report["offer_candidates"]
    assert relay and relay["type"] == "relay", relay
    # Through the UDP listener when it is open; with it closed, the TCP URL carries the browser.
    assert relay["relayProtocol"] == listener, relay
    assert result["energy"] > 0.01
    assert f":{result['party']['id']}" in turn.text(), "coturn never saw the pod-issued username"
    print(f"relay over {listener}: pair {report['pair']}, audio energy {result['energy']:.3f}")


async def test_turn_unreachable_host_candidates_still_work_and_no_path_is_said(server_factory: Any, api_factory: Any) -> None:
    """The TURN server is down: a party on the same network still joins over host candidates;
    a party that may only use the relay is told plainly that no path works."""
    from tests.conftest import free_port

    dead = free_port()  # nothing listens here
    # TCP only: a refused connection ends the browser's gathering at once (over UDP it would
    # retry for half a minute before the page's own 30 s limit says the same thing).
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--turn-secret", SECRET,
                                  "--turn-url", f"turn:127.0.0.1:{dead}?transport=tcp")
    api = api_factory(server)
    _, (judge_p, direct_p, relay_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"))
    judge = Participant(server.url, judge_p["token"], ToneTrack(440), PatternTrack(320, 180, 10))
    try:
        await judge.connect()
        await judge.act("open")
        async with chromium() as browser:
            _, direct, _ = await open_page(browser, direct_p["join_url"], "direct")
            _, relayed, _ = await open_page(browser, relay_p["join_url"].replace("#", "?ice=relay#", 1), "relay-only")
            for page, p in ((direct, direct_p), (relayed, relay_p)):
                await enter_check(page)
                await page.wait_for_selector("#lobby[data-kind=waiting]", timeout=15000)
                await judge.act("admit", p["id"])
            await judge.act("start")
            await judge.start_media()
            await wait_playing(direct, "#stage-video", timeout=40)
            pair = (await media_report(direct))["pair"]
            assert pair["localType"] == "host" and pair["remote"].startswith("127.0.0.1:"), pair
            started = time.monotonic()
            await relayed.wait_for_selector("#conn-banner[data-status=error]", timeout=60000)
            text = await relayed.inner_text("#conn-banner")
            assert "无法与法院建立网络连接" in text, text  # the page speaks Chinese by default
            print(f"relay-only party told 'no path' {time.monotonic() - started:.1f} s after the start: {text!r}")
    finally:
        await judge.close()
