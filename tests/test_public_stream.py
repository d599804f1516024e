"""The public live stream in a browser without native HLS: hls.js (served by the pod) plays
it, the stream's own WebVTT subtitles rendition shows the delayed captions on the video,
roles only, a visible control unmutes it, and the delay from the hearing to the public is
measured: the configured delay plus at most two segments."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, WavTrack
from tests.asr_audio import Corpus, timeline, write_wav
from tests.browser_helpers import chromium, open_page, screenshot, wait_playing

pytestmark = pytest.mark.timeout(240)

DELAY = 10.0  # long enough for speech recognition on a loaded machine to finish a line
SEGMENT = 2.0
# The page's player believes the browser has no native HLS: hls.js must do it all.
NO_NATIVE_HLS = """
const canPlayType = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? '' : canPlayType.call(this, type);
};
"""


def segment_starts(live_dir: Path) -> dict[int, float]:
    starts = {}
    for line in (live_dir / "segments.jsonl").read_text().splitlines():
        entry = json.loads(line)
        starts[int(entry["sequence"])] = float(entry["start"])
    return starts


async def test_live_stream_through_hlsjs_with_captions(server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    server = await server_factory("--ice-address", "127.0.0.1", "--video-size", "320x180", "--fps", "10",
                                  "--broadcast-delay", str(DELAY), "--asr-language", "ko",
                                  "--record-engine", "off", asr_engine="vosk")
    api = api_factory(server)
    hearing, (judge_p, party_p) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), public=True)
    hid = hearing["id"]
    corpus = Corpus(tmp_path / "speech")
    samples, _ = timeline([0.5, corpus.samples("The plaintiff asks the court for damages."), 4.0])
    wav = write_wav(tmp_path / "speech.wav", samples)
    judge = Participant(server.url, judge_p["token"], None, PatternTrack(320, 180, 10))
    party = Participant(server.url, party_p["token"], WavTrack(wav, loop=True), PatternTrack(320, 180, 10))
    try:
        await judge.connect()
        await judge.act("open")
        await party.connect()
        await judge.act("admit", party_p["id"])
        await judge.act("start")
        await judge.start_media()
        await party.start_media()
        await judge.act("broadcast_on")
        on_air_at = time.monotonic()
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"].get("broadcast") is True, timeout=10)

        # The live playlist is a master playlist with a subtitles rendition.
        deadline = time.monotonic() + 40
        while not (info := (await api.request("GET", f"/public/hearings/{hid}", None)).json).get("live_playlist"):
            assert time.monotonic() < deadline, info
            await api.request("GET", "/healthz", None)
            time.sleep(0.2)  # noqa: ASYNC251 - a short poll; the server runs in its own process
        master = (await api.request("GET", info["live_playlist"], None)).text
        assert '#EXT-X-MEDIA:TYPE=SUBTITLES' in master and 'SUBTITLES="subs"' in master, master
        subs = (await api.request("GET", f"/public/hearings/{hid}/live/subs.m3u8", None)).text
        assert "sub" in subs and ".vtt" in subs, subs

        async with chromium() as browser:
            context, viewer, watch = await open_page(browser, "about:blank", "viewer")
            await context.add_init_script(NO_NATIVE_HLS)
            await viewer.goto(f"{server.url}/gallery/{hid}")
            await viewer.wait_for_selector("#player[data-engine='hls.js']", timeout=30000)
            assert await viewer.evaluate("document.querySelector('#player').canPlayType('application/vnd.apple.mpegurl')") == ""
            await wait_playing(viewer, "#player", timeout=40)
            first_picture = time.monotonic() - on_air_at
            # A visible unmute control on the picture; it unmutes.
            button = viewer.locator("#unmute-button")
            assert await button.is_visible()
            await button.click()
            assert await viewer.evaluate("document.querySelector('#player').muted") is False
            assert not await button.is_visible()

            # Captions with the video: a cue of the stream's subtitles rendition, the plaintiff's role.
            text = None
            deadline = time.monotonic() + 90
            while text is None:
                # The page draws the stream's cues itself, under the picture (the browser's own
                # rendering is off so that captions never cover an exhibit).
                text = await viewer.evaluate("""() => {
                    const box = document.querySelector('#captions');
                    return box && !box.hidden && box.textContent.includes('原告') ? box.textContent : null;
                }""")
                if text is None and time.monotonic() > deadline:
                    tracks = await viewer.evaluate("() => ({ t: document.querySelector('#player').currentTime, frag: (() => { const f = window.courtroomReplay.hls.hls.streamController.fragPlaying; return f && [f.sn, f.start]; })(), tracks: Array.from(document.querySelector('#player').textTracks).map((t) => ({kind: t.kind, mode: t.mode, cues: t.cues ? Array.from(t.cues).map((c) => [c.startTime, c.endTime, c.text]) : null})) })")
                    tracks["starts"] = segment_starts(server.data_dir / "recordings" / hid / "live")
                    vtts = sorted(p.name for p in (server.data_dir / "recordings" / hid / "live").glob("*.vtt"))
                    lines = (await api.request("GET", f"/public/hearings/{hid}/live/captions.json", None)).json
                    pytest.fail(f"no caption on the video: tracks {tracks}, files {vtts}, public lines {lines}")
                await viewer.wait_for_timeout(200)
            assert "张三" not in text, f"a name reached the public: {text}"
            await screenshot(viewer, "public-live-hlsjs-captions")

            # The delay: what the player shows (its fragment's hearing time plus the offset in
            # it) against the hearing's time now.
            await viewer.evaluate("""() => {
                const hls = window.courtroomReplay.hls.hls;
                const grab = (_, d) => { window.__frag = { sn: d.frag.sn, start: d.frag.start }; };
                hls.on('hlsFragChanged', grab);
                if (hls.streamController && hls.streamController.fragPlaying) grab(null, { frag: hls.streamController.fragPlaying });
            }""")
            delays = []
            live_dir = server.data_dir / "recordings" / hid / "live"
            for _ in range(6):
                await viewer.wait_for_timeout(1000)
                shown = await viewer.evaluate("() => window.__frag ? { ...window.__frag, t: document.querySelector('#player').currentTime } : null")
                now = (await api.request("GET", f"/public/hearings/{hid}/live/captions.json", None)).json["hearing_time"]
                if shown is None:
                    continue
                starts = segment_starts(live_dir)
                delays.append(now - (starts[int(shown["sn"])] + shown["t"] - shown["start"]))
            assert delays, "the player never reported its fragment"
            worst = max(delays)
            # Segments are cut at keyframes: 2 s, longer when a loaded machine delays a keyframe;
            # one long segment raises the playlist's target duration, which is also how often
            # the player reloads the playlist.
            durations = [json.loads(x)["end"] - json.loads(x)["start"] for x in (live_dir / "segments.jsonl").read_text().splitlines()]
            segment = max(SEGMENT, sum(durations[-6:]) / len(durations[-6:]))
            playlist = (live_dir / "live.m3u8").read_text()
            target = int(playlist.split("#EXT-X-TARGETDURATION:")[1].split()[0])
            print(f"public delay: first picture {first_picture:.1f} s after broadcast_on; hearing -> public "
                  f"{min(delays):.2f}..{worst:.2f} s (configured {DELAY} s, segments {segment:.2f} s on average, "
                  f"target duration {target} s); caption {text!r}")
            assert DELAY <= min(delays), delays
            assert worst <= DELAY + 2 * segment + (target - SEGMENT) + 1.0, (delays, segment, target)
            watch.assert_clean()
    finally:
        await judge.close()
        await party.close()
