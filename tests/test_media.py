"""The hearing's media with real aiortc peers on loopback: picture, mix-minus, mute, isolation."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from tests.media_helpers import LOOPBACK_MEDIA, tone_power, wait_frames

TONES = {"judge": 440.0, "plaintiff": 660.0, "defendant": 990.0}
COLOURS = {"judge": (40, 40, 200), "plaintiff": (200, 40, 40), "defendant": (40, 200, 40)}


@pytest.fixture
async def hearing_room(server_factory, api_factory):
    server = await server_factory("--video-size", "640x360", "--fps", "15", *LOOPBACK_MEDIA)
    api = api_factory(server)
    hearing, people = await api.hearing_with(
        ("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"), ("witness", "陈五"), ("agent", "赵律师", "plaintiff"),
    )
    tokens = {p["role"]: p for p in people}
    peers: dict[str, Participant] = {}
    for role in ("judge", "plaintiff", "defendant"):
        peers[role] = Participant(server.url, tokens[role]["token"], ToneTrack(TONES[role]), PatternTrack(colour=COLOURS[role]))
    for role in ("witness", "agent"):
        peers[role] = Participant(server.url, tokens[role]["token"], ToneTrack(1500.0), PatternTrack())
    judge = peers["judge"]
    await judge.connect()
    await judge.act("open")
    await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "open")
    for role in ("plaintiff", "defendant", "witness", "agent"):
        await peers[role].connect()
    for role in ("plaintiff", "defendant", "witness"):  # the agent stays in the waiting room
        await judge.act("admit", tokens[role]["id"])
    await judge.act("start")
    await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
    await asyncio.gather(*(p.start_media() for p in peers.values()))
    try:
        yield server, api, hearing, tokens, peers
    finally:
        await asyncio.gather(*(p.close() for p in peers.values()), return_exceptions=True)


async def test_picture_mix_minus_mute_and_isolation(hearing_room):
    server, api, hearing, tokens, peers = hearing_room
    parties = [peers[r] for r in ("judge", "plaintiff", "defendant")]
    for peer in parties:
        assert await wait_frames(peer, 20, timeout=15), "no courtroom picture arrived"
    await asyncio.sleep(3.0)
    for peer in parties:
        assert peer.last_frame is not None and peer.last_frame.width == 640 and peer.last_frame.height == 360
        assert peer.fps(2.0) >= 15 * 0.8, f"picture rate {peer.fps(2.0)} below 80% of 15 fps"

    # Mix-minus: everyone hears the others' tones and not their own.
    for role, peer in zip(("judge", "plaintiff", "defendant"), parties, strict=True):
        audio = peer.recent_audio(2.0)
        others = [tone_power(audio, f) for other, f in TONES.items() if other != role]
        own = tone_power(audio, TONES[role])
        assert min(others) > 1000, f"{role} does not hear the others ({others})"
        # Its own tone is at most codec residue, 40 dB under the others.
        assert own < min(others) / 100, f"{role} hears itself ({own:.0f} vs {others})"

    # The waiting agent and the uncalled witness get no hearing media at all.
    assert peers["agent"].video_frames == 0 and peers["agent"].audio_frames == 0
    assert peers["witness"].video_frames == 0 and peers["witness"].audio_frames == 0
    # ... and the witness's microphone is in nobody's mix.
    for peer in parties:
        audio = peer.recent_audio(2.0)
        assert tone_power(audio, 1500.0) < tone_power(audio, TONES["defendant" if peer is not parties[2] else "judge"]) / 100

    # The judge mutes the plaintiff: its tone is gone from everyone's audio.
    await peers["judge"].act("mute", tokens["plaintiff"]["id"])
    await peers["judge"].wait_for(lambda m: m["type"] == "state" and any(p["muted"] for p in m["hearing"]["participants"]))
    await asyncio.sleep(0.5)
    for peer in (peers["judge"], peers["defendant"]):
        peer.clear_audio()
    await asyncio.sleep(2.0)
    for role, other in (("judge", "defendant"), ("defendant", "judge")):
        audio = peers[role].recent_audio(1.5)
        heard = tone_power(audio, TONES[other])
        assert heard > 1000, f"{role} no longer hears {other}"
        assert tone_power(audio, TONES["plaintiff"]) < heard / 100, f"muted plaintiff still heard by {role}"

    # Calling the witness brings it in without renegotiation.
    await peers["judge"].act("call_witness", tokens["witness"]["id"])
    assert await wait_frames(peers["witness"], 10, timeout=10), "the called witness got no picture"


async def test_recess_slate_and_stats(hearing_room):
    server, api, hearing, tokens, peers = hearing_room
    judge = peers["judge"]
    assert await wait_frames(judge, 15, timeout=15)
    await asyncio.sleep(1.0)
    before = judge.last_frame.to_ndarray(format="gray").astype(np.int16)
    await judge.act("recess")
    await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "recess")
    await asyncio.sleep(1.5)
    after = judge.last_frame.to_ndarray(format="gray").astype(np.int16)
    assert np.abs(after - before).mean() > 20, "the picture did not change to the recess slate"
    # The slate is still a live picture: frames keep arriving during the recess.
    assert await wait_frames(judge, 10, timeout=5)
    # Per-hearing statistics.
    reply = await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)
    assert reply.status == 200
    assert reply.json["frames_encoded"] > 0
    assert set(reply.json["downlinks"]) >= {tokens[r]["id"] for r in ("judge", "plaintiff", "defendant")}
    judge_id = tokens["judge"]["id"]
    assert reply.json["downlinks"][judge_id]["fps_out"] > 5
    assert reply.json["uplinks"][judge_id]["fps_in"] > 5
    assert reply.json["peers"][judge_id]["bytes_sent"] > 0 and reply.json["peers"][judge_id]["packets_received"] > 0
    await asyncio.sleep(1.0)
    again = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
    assert again["peers"][judge_id]["kbps_sent"] > 10, again["peers"][judge_id]


async def test_reconnect_keeps_place_and_others_keep_receiving(hearing_room):
    server, api, hearing, tokens, peers = hearing_room
    plaintiff, defendant = peers["plaintiff"], peers["defendant"]
    assert await wait_frames(plaintiff, 15, timeout=15)
    assert await wait_frames(defendant, 15, timeout=15)
    await plaintiff.close()  # the connection drops
    counts = []
    for _ in range(10):
        counts.append(defendant.video_frames)
        await asyncio.sleep(0.2)
    assert counts[-1] > counts[0] + 10, "the others stopped receiving while one dropped"
    again = Participant(server.url, tokens["plaintiff"]["token"], ToneTrack(TONES["plaintiff"]), PatternTrack())
    peers["plaintiff"] = again
    await again.connect()
    assert again.state["you"]["state"] == "admitted", "the rejoin lost the participant's place"
    await again.start_media()
    assert await wait_frames(again, 10, timeout=8), "no picture after reconnecting"
    events = await api.events(hearing["id"])
    kinds = [e["kind"] for e in events if e["subject"] == tokens["plaintiff"]["id"]]
    assert "participant.drop" in kinds and "participant.return" in kinds


def _tile_contrast(frame, rect) -> float:
    """Luma spread in the upper part of a tile: the test pattern's white bar on a flat colour."""
    gray = frame.to_ndarray(format="gray").astype(np.int16)
    part = gray[rect.y + rect.h // 8 : rect.y + rect.h // 2, rect.x + 4 : rect.x + rect.w - 4]
    return float(np.percentile(part, 99) - np.percentile(part, 1))


async def test_protected_party_is_screened_only_for_the_named_participants(hearing_room):
    from signaling.layout import Seat, courtroom_layout

    server, api, hearing, tokens, peers = hearing_room
    judge, defendant = peers["judge"], peers["defendant"]
    seats = [Seat(tokens[r]["id"], r, tokens[r]["name"], r if r != "judge" else None) for r in ("judge", "plaintiff", "defendant")]
    tile = courtroom_layout(640, 360, seats, exhibit=False).tiles[tokens["plaintiff"]["id"]]
    assert await wait_frames(defendant, 15, timeout=15)
    await asyncio.sleep(1.0)
    sharp = _tile_contrast(defendant.last_frame, tile)
    assert sharp > 100, "the plaintiff's test pattern should be sharp before protection"
    await judge.act("protect", tokens["plaintiff"]["id"], screened_from=[tokens["defendant"]["id"]])
    await judge.wait_for(lambda m: m["type"] == "state" and any(p["protected"] for p in m["hearing"]["participants"]))
    await asyncio.sleep(2.0)
    assert await wait_frames(defendant, 10, timeout=5), "the screened participant lost the picture"
    screened = _tile_contrast(defendant.last_frame, tile)
    unscreened = _tile_contrast(judge.last_frame, tile)
    assert screened < sharp / 2, f"the defendant still sees the protected plaintiff ({screened} vs {sharp})"
    assert unscreened > 100, "the judge should still see the plaintiff"
    stats = (await api.request("GET", f"/api/hearings/{hearing['id']}/stats", api.admin_key)).json
    assert stats["downlinks"][tokens["defendant"]["id"]]["view"] == "screened"
    assert stats["downlinks"][tokens["judge"]["id"]]["view"] == "main"
