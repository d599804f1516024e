"""Recording with real peers: the archive, the delayed public stream, the replay, the ledger."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.media_helpers import LOOPBACK_MEDIA, eventually, wait_frames

SERVER_ARGS = (*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--broadcast-delay", "2")


def parse_playlist(text: str) -> list[tuple[float, str]]:
    assert text.startswith("#EXTM3U"), text[:50]
    out, duration = [], None
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line and not line.startswith("#"):
            assert duration is not None
            out.append((duration, line))
            duration = None
    return out


def streams_of(path: Path) -> tuple[list[str], float]:
    with av.open(str(path)) as c:
        kinds = [f"{s.type}:{s.codec_context.name}" for s in c.streams]
        return kinds, (c.duration or 0) / 1_000_000


def decode_all(path: Path) -> int:
    frames = 0
    with av.open(str(path)) as c:
        for frame in c.decode(video=0):
            frames += 1
            assert frame.width > 0
    return frames


async def start_hearing(server, api, public: bool, procedure: str = "simple"):
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), public=public, procedure=procedure)
    judge_p, plaintiff_p = people
    judge = Participant(server.url, judge_p["token"], ToneTrack(440), PatternTrack(160, 90, 10))
    plaintiff = Participant(server.url, plaintiff_p["token"], ToneTrack(660), PatternTrack(160, 90, 10))
    await judge.connect()
    await judge.act("open")
    await plaintiff.connect()
    await judge.act("admit", plaintiff_p["id"])
    await judge.act("start")
    await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
    await judge.start_media()
    await plaintiff.start_media()
    assert await wait_frames(judge, 5, timeout=10)
    return hearing, judge, plaintiff, judge_p["token"]


async def state_is(peer: Participant, key: str, value) -> None:
    await peer.wait_for(lambda m: m["type"] == "state" and m["hearing"][key] == value, timeout=10)


async def test_archive_live_stream_and_replay(server_factory, api_factory):
    server = await server_factory(*SERVER_ARGS)
    api = api_factory(server)
    hearing, judge, plaintiff, judge_token = await start_hearing(server, api, public=True)
    hid = hearing["id"]
    try:
        await judge.act("broadcast_on")
        await state_is(judge, "broadcast", True)
        await asyncio.sleep(5)
        await judge.act("broadcast_off")          # 3 s off air
        await state_is(judge, "broadcast", False)
        await asyncio.sleep(3)
        await judge.act("broadcast_on")
        await state_is(judge, "broadcast", True)
        await asyncio.sleep(4)
        await judge.act("recess")                  # 2 s recess: off air, no record mix
        await state_is(judge, "state", "recess")
        await asyncio.sleep(2)
        await judge.act("resume")
        await state_is(judge, "state", "in_session")
        await asyncio.sleep(4)

        # The live stream, behind its delay, while the hearing is on.
        listing = (await api.request("GET", "/public/hearings", None)).json
        assert any(h["id"] == hid and h["live"] for h in listing["hearings"])
        info = (await api.request("GET", f"/public/hearings/{hid}", None)).json
        assert info["live_playlist"], info
        master = await api.request("GET", info["live_playlist"], None)
        assert master.status == 200 and "TYPE=SUBTITLES" in master.text, master.text  # captions in the stream
        live = await api.request("GET", info["live_playlist"].replace("index.m3u8", "live.m3u8"), None)
        assert live.status == 200
        segments = parse_playlist(live.text)
        assert segments, live.text
        live_dir = server.data_dir / "recordings" / hid / "live"
        for duration, name in segments:
            assert 0 < duration < 4.5  # cut at keyframes; shorter at an on-air switch
            assert decode_all(live_dir / name) > 0
        stats = (await api.request("GET", f"/api/hearings/{hid}/stats", api.admin_key)).json
        assert 0 <= stats["recording"]["archive_lag_s"] < 5, stats["recording"]
        assert stats["recording"]["hls_segment_lag_s"] is not None
        await judge.act("close")
        await state_is(judge, "state", "closed")
    finally:
        await judge.close()
        await plaintiff.close()

    # The replay is available within seconds of closing.
    t0 = time.monotonic()

    async def replayable() -> bool:
        return (await api.request("GET", f"/public/hearings/{hid}", None)).json.get("replayable", False)

    for _ in range(150):
        if await replayable():
            break
        await asyncio.sleep(0.1)
    assert await replayable(), "no replay 15 s after closing"
    print(f"replay ready {time.monotonic() - t0:.1f} s after close")

    detail = (await api.get_hearing(hid)).json
    files = {f["kind"]: f for f in detail["extra"]["record_files"]}
    kinds, archive_duration = streams_of(Path(files["archive"]["path"]))
    assert sorted(kinds) == ["audio:aac", "video:h264"]
    session = detail["closed_at"] - detail["started_at"]
    assert abs(archive_duration - session) < 1.5, (archive_duration, session)

    events = await api.events(hid)
    from signaling.recording import on_air_intervals

    class E:  # events as the function reads them
        def __init__(self, d):
            self.kind, self.hearing_time, self.data = d["kind"], d["hearing_time"], d["data"]

    on_air = on_air_intervals([E(e) for e in events], detail["closed_at"])
    on_air_total = sum(b - a for a, b in on_air)
    info = (await api.request("GET", f"/public/hearings/{hid}", None)).json
    replay = server.data_dir / "recordings" / hid / "replay" / "replay.mp4"
    kinds, replay_duration = streams_of(replay)
    assert sorted(kinds) == ["audio:aac", "video:h264"]
    assert replay_duration < archive_duration - 3.0, "the off-air parts are still in the replay"
    assert abs(replay_duration - on_air_total) < 2.5, (replay_duration, on_air_total, on_air)
    vod = await api.request("GET", info["replay_playlist"], None)
    assert vod.status == 200 and "#EXT-X-ENDLIST" in vod.text
    for _, name in parse_playlist(vod.text):
        r = await api.request("GET", f"/public/hearings/{hid}/replay/{name}", None)
        assert r.status == 200
    captions = await api.request("GET", info["captions_vtt"], None)
    assert captions.status == 200 and captions.text.startswith("WEBVTT")
    # Traversal and unknown files are 404.
    for bad in ("..%2F..%2Fcourtroom.sqlite3", ".hidden", "nope.ts"):
        assert (await api.request("GET", f"/public/hearings/{hid}/replay/{bad}", None)).status == 404


async def test_closed_door_hearing_and_mediation_have_no_public_path(server_factory, api_factory):
    server = await server_factory(*SERVER_ARGS)
    api = api_factory(server)
    for public, procedure in ((False, "simple"), (False, "mediation")):
        hearing, judge, plaintiff, judge_token = await start_hearing(server, api, public=public, procedure=procedure)
        hid = hearing["id"]
        try:
            n = len(judge.messages)
            await judge.act("broadcast_on")
            assert await eventually(lambda j=judge, n=n: any(m["type"] == "error" for m in j.messages[n:]), 5)
            await asyncio.sleep(2)
            for path in (f"/public/hearings/{hid}", f"/public/hearings/{hid}/live/live.m3u8", f"/public/hearings/{hid}/replay/replay.mp4"):
                assert (await api.request("GET", path, None)).status == 404
            listing = (await api.request("GET", "/public/hearings", None)).json
            assert all(h["id"] != hid for h in listing["hearings"])
            await judge.act("close")
            await state_is(judge, "state", "closed")
        finally:
            await judge.close()
            await plaintiff.close()

        async def archived(hid: str = hid) -> bool:
            return bool((await api.get_hearing(hid)).json["extra"].get("record_files"))

        # Past the recorder's own 30 s bound for closing a part: a close that never ends fails here.
        assert await _poll(archived, 40)
        files = (await api.get_hearing(hid)).json["extra"]["record_files"]
        assert [f["kind"] for f in files] == ["archive"], files  # the court keeps it; no replay
        assert streams_of(Path(files[0]["path"]))[0]
        assert (await api.request("GET", f"/public/hearings/{hid}/replay/replay.mp4", None)).status == 404


async def test_sigkill_mid_recording_then_next_part(server_factory, api_factory):
    server = await server_factory(*SERVER_ARGS)
    api = api_factory(server)
    hearing, judge, plaintiff, judge_token = await start_hearing(server, api, public=False)
    hid = hearing["id"]
    await asyncio.sleep(5)
    await judge.close()
    await plaintiff.close()
    server.kill()
    part1 = server.data_dir / "recordings" / hid / "archive.mp4"
    kinds, duration = streams_of(part1)
    assert "video:h264" in kinds
    assert decode_all(part1) >= 10 * 2, "less than 2 s of the killed archive decodes"

    await server.restart()
    detail = (await api.get_hearing(hid)).json
    assert detail["state"] == "in_session"
    assert len(detail["extra"]["archive_parts"]) == 1
    # The judge comes back with the same link: the hearing continues into a second part.
    judge = Participant(server.url, judge_token, ToneTrack(440), PatternTrack(160, 90, 10))
    await judge.connect()
    try:
        await judge.start_media()
        assert await wait_frames(judge, 10, timeout=10)
        await asyncio.sleep(3)
        parts = (await api.get_hearing(hid)).json["extra"]["archive_parts"]
        assert [Path(p["path"]).name for p in parts] == ["archive.mp4", "archive-part2.mp4"]
        await judge.act("close")
        await state_is(judge, "state", "closed")
    finally:
        await judge.close()

    async def finished() -> bool:
        return bool((await api.get_hearing(hid)).json["extra"].get("record_files"))

    assert await _poll(finished, 15)
    files = (await api.get_hearing(hid)).json["extra"]["record_files"]
    archives = [f for f in files if f["kind"] == "archive"]
    assert len(archives) == 2
    assert archives[1]["start_hearing_time"] > archives[0]["start_hearing_time"]
    for f in archives:
        assert streams_of(Path(f["path"]))[0]


async def _poll(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


async def test_no_recording_below_the_disk_floor_and_the_clerk_is_told(server_factory, api_factory, tmp_path):
    config = tmp_path / "floor.toml"
    config.write_text("disk_floor_bytes = 1000000000000000000\n")  # no disk is this large
    server = await server_factory("--config", str(config), *SERVER_ARGS)
    api = api_factory(server)
    hearing, (judge,) = await api.hearing_with(("judge", "王法官"))
    await api.act(hearing["id"], "open")
    await api.act(hearing["id"], "start", token=judge["token"])

    async def refused() -> bool:
        return any(e["kind"] == "recording.refused" for e in await api.events(hearing["id"]))

    assert await _poll(refused, 10), "no event tells the clerk the recording did not start"
    event = next(e for e in await api.events(hearing["id"]) if e["kind"] == "recording.refused")
    assert "free" in event["data"]["reason"].lower()
    assert not (server.data_dir / "recordings" / hearing["id"] / "archive.mp4").exists()
    stats = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
    assert stats["recording"]["refused"]
