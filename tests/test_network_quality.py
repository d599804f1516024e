"""Network quality from RTCP under induced loss: a real aiortc participant joins a real pod
on loopback, and its own sockets drop a share of the RTP and RTCP packets each way (this
machine's kernel has no `netem`, so the loss is induced in the participant's process, below
aiortc, where the network would drop them). The link is marked good, then bad under loss (on
the officers' sockets, in /api/hearings/{id}/stats, in /metrics), the participant is told on
its own socket, and the mark recovers when the loss stops."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any

import pytest

from courtroom.network_quality import BAD, WEAK, LinkFigures, Mark, classify
from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.browser_helpers import chromium, enter_check, open_page, screenshot, wait_screen
from tests.media_helpers import LOOPBACK_MEDIA

pytestmark = pytest.mark.timeout(150)


def test_the_marks_follow_the_table() -> None:
    def f(rtt: float | None = 40.0, jitter: float | None = 5.0, up: float | None = 0.0, down: float | None = 0.0) -> Mark:
        return classify(LinkFigures(rtt, jitter, up, down, 500.0, 500.0))

    assert f() is Mark.GOOD
    assert f(None, None, None, None) is Mark.UNKNOWN
    assert f(rtt=WEAK.rtt_ms) is Mark.WEAK and f(rtt=BAD.rtt_ms) is Mark.BAD
    assert f(jitter=WEAK.jitter_ms) is Mark.WEAK and f(jitter=BAD.jitter_ms) is Mark.BAD
    assert f(down=WEAK.loss) is Mark.WEAK and f(up=BAD.loss) is Mark.BAD  # the worse direction counts
    assert f(rtt=None, up=None) is Mark.GOOD  # what is known decides


class Lossy:
    """Drops this share of a peer's RTP/RTCP datagrams, both ways, at its ICE sockets (STUN and
    DTLS pass: the connection stays up, the media suffers, as on a lossy radio link)."""

    def __init__(self, pc: Any, seed: int = 17) -> None:
        self.share = 0.0
        self.random = random.Random(seed)
        self.dropped = 0
        transport = pc.getTransceivers()[0].sender.transport.transport
        for protocol in transport.iceGatherer._connection._protocols:
            self._wrap(protocol)

    def _drop(self, data: bytes) -> bool:
        if self.share and data and 128 <= data[0] <= 191 and self.random.random() < self.share:
            self.dropped += 1
            return True
        return False

    def _wrap(self, protocol: Any) -> None:
        send, receive = protocol.send_data, protocol.datagram_received

        async def send_data(data: bytes, addr: Any) -> None:
            if not self._drop(data):
                await send(data, addr)

        def datagram_received(data: bytes, addr: Any) -> None:
            if not self._drop(data):
                receive(data, addr)

        protocol.send_data, protocol.datagram_received = send_data, datagram_received


async def figures_of(api: Any, hearing_id: str, pid: str) -> dict[str, Any] | None:
    stats = (await api.request("GET", f"/api/hearings/{hearing_id}/stats", api.admin_key)).json
    return stats.get("network", {}).get(pid)


async def test_loss_marks_the_link_bad_and_tells_the_participant(server_factory: Any, api_factory: Any) -> None:
    server = await server_factory(*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10")
    api = api_factory(server)
    hearing, (judge_p, party_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid, pid = hearing["id"], party_p["id"]
    party = Participant(server.url, party_p["token"], ToneTrack(440), PatternTrack(320, 180, 10))
    async with chromium() as browser:
        # The judge's console in Chromium (it marks each person); the party is a real aiortc peer.
        _, console, watch = await open_page(browser, judge_p["join_url"], "judge", viewport={"width": 1440, "height": 900})
        await enter_check(console)
        await wait_screen(console, "screen-console")
        try:
            await lossy_hearing(api, console, watch, party, hid, pid, judge_p["token"])
        finally:
            await party.close()


async def lossy_hearing(api: Any, console: Any, watch: Any, party: Participant, hid: str, pid: str, judge: str) -> None:
    assert (await api.act(hid, "open", token=judge)).status == 200
    await party.connect()
    assert (await api.act(hid, "admit", token=judge, participant=pid)).status == 200
    assert (await api.act(hid, "start", token=judge)).status == 200
    await party.start_media()
    lossy = Lossy(party.pc)

    async def figures_when(check: Any, what: str, within: float) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while True:
            figures = await figures_of(api, hid, pid)
            if figures and check(figures):
                return figures
            assert time.monotonic() < deadline, f"never {what}: {figures}"
            await asyncio.sleep(0.5)

    # A clean link loses nothing. (Its mark also depends on RTT and jitter, which a machine as
    # loaded as a shared test box can push to weak or even bad on loopback: not asserted.)
    clean = await figures_when(lambda f: f["loss"] == 0.0, "a clean link", 20)
    assert clean["receive_kbps"] > 10 and clean["send_kbps"] > 10, clean

    lossy.share = 0.25
    started = time.monotonic()
    bad = await figures_when(lambda f: f["mark"] == "bad" and f["loss"] >= BAD.loss, "bad under loss", 25)
    took = time.monotonic() - started
    # The console marks the person, the figures in its tooltip; the participant is told on its own socket.
    row_mark = console.locator(f"#console-people li[data-id='{pid}'] .net-mark[data-mark=bad]")
    await row_mark.wait_for(timeout=10000)
    tooltip = await row_mark.get_attribute("title")
    assert "ms" in tooltip and "%" in tooltip, tooltip
    await screenshot(console, "console-network-bad")
    told = await party.wait_for(lambda m: m["type"] == "network" and m.get("you", {}).get("mark") == "bad", 10)
    metrics = (await api.request("GET", "/metrics", api.admin_key)).text
    assert f'courtroom_peer_link_quality{{hearing="{hid}",participant="{pid}"}} 2' in metrics
    assert "courtroom_peer_uplink_loss_ratio" in metrics and "courtroom_peer_downlink_loss_ratio" in metrics

    lossy.share = 0.0
    # Loss gone; the round trip known by now (from the participant's RTCP receiver reports).
    recovered = await figures_when(lambda f: f["loss"] == 0.0 and f["rtt_ms"] is not None, "the loss gone", 25)
    assert "courtroom_peer_rtt_seconds" in (await api.request("GET", "/metrics", api.admin_key)).text
    print(f"clean link {clean}; with 25% loss each way ({lossy.dropped} packets dropped) marked bad in {took:.1f} s: {bad}; "
          f"console shows {tooltip!r}, participant told {told['you']['mark']}; after: {recovered}")
    watch.assert_clean()
