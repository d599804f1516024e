"""The court's PostgreSQL lost mid-hearing (issue 19, "Bad input and faults"), with real peers,
real speech recognition (Vosk) and a real PostgreSQL stopped and started under the pod.

What the pod writes by itself (the speech it recognises) waits in the outbox and reaches the
record once the database is back, in order and once; nothing is shown before it is stored;
the officers are told, the others are not; a person's request is refused and stores nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.participant import Participant
from loadtest.synthetic import CHUNK, WavTrack, _audio_frame
from tests.asr_audio import KOREAN_SENTENCES, RATE, Corpus, timeline, write_wav
from tests.media_helpers import LOOPBACK_MEDIA, speaking_hearing, wait_frames

_names = itertools.count()


class CuedMicrophone(WavTrack):
    """A microphone that is silent until cued, then plays its WAV once: the speech starts
    exactly when the test says (here: once the database is gone)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._cue: int | None = None
        self.cued = False

    def cue(self) -> None:
        self.cued = True

    async def recv(self) -> Any:
        n = await self._pace.wait()
        if self.started_at is None:
            self.started_at = time.monotonic()
        if self.cued and self._cue is None:
            self._cue = n
        start = (n - self._cue) * CHUNK if self._cue is not None else len(self.samples)
        chunk = self.samples[start : start + CHUNK]
        if len(chunk) < CHUNK:
            chunk = np.concatenate([chunk, np.zeros(CHUNK - len(chunk), dtype=np.int16)])
        return _audio_frame(chunk, n * CHUNK)


def finals(peer: Participant) -> list[dict[str, Any]]:
    return [m["segment"] for m in peer.messages if m["type"] == "transcript" and m["segment"]["final"]]


def store_messages(peer: Participant) -> list[dict[str, Any]]:
    return [m for m in peer.messages if m["type"] == "store"]


async def test_speech_during_a_database_outage_reaches_the_record_when_it_returns(
        postgres: Any, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    corpus = Corpus(tmp_path / "speech")
    parts: list[Any] = [1.0]
    for text in KOREAN_SENTENCES:
        parts += [corpus.samples(text, "ko"), 1.5]
    samples, _ = timeline(parts)
    wav = write_wav(tmp_path / "outage.wav", samples)

    url = postgres.database_url(f"speechoutage{next(_names)}")
    server = await server_factory("--database", url, *LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10",
                                  "--asr-language", "ko", "--record-engine", "off", asr_engine="vosk")
    api = api_factory(server)
    mic = CuedMicrophone(wav)
    async with speaking_hearing(server, api, wav, mic=mic, plaintiff="김민수") as h:
        hearing, judge_p, plaintiff_p, judge, plaintiff = h.hearing, h.judge_p, h.plaintiff_p, h.judge, h.plaintiff
        assert await wait_frames(judge, 5, timeout=10)
        assert (await api.request("GET", "/healthz", None)).json["store"]["state"] == "available"

        await asyncio.to_thread(postgres.stop)
        try:
            mic.cue()  # the plaintiff speaks while the database is gone
            await judge.wait_for(lambda m: m["type"] == "store" and m["state"] == "unavailable", timeout=40)
            # The sentences are recognised meanwhile; they wait, and nothing is shown before it is stored.
            await asyncio.sleep(samples.size / RATE + 4)
            health = (await api.request("GET", "/healthz", None)).json["store"]
            assert health["state"] == "unavailable" and health["pending"] >= len(KOREAN_SENTENCES), health
            assert finals(judge) == [] and finals(plaintiff) == []
            assert await wait_frames(judge, 10, timeout=10)  # the media goes on
            # A person's request is refused, not acknowledged.
            refused = await api.act(hearing["id"], "recess", token=judge_p["token"])
            assert refused.status == 503 and refused.json["error"] == "store_unavailable", refused.text
        finally:
            await asyncio.to_thread(postgres.start)

        restored = await judge.wait_for(lambda m: m["type"] == "store" and m["state"] == "restored", timeout=60)
        assert restored["lost"] == 0 and restored["stored"] >= len(KOREAN_SENTENCES), restored
        warned = store_messages(judge)
        assert warned[0]["state"] == "unavailable" and warned[-1] is restored
        assert store_messages(plaintiff) == []  # only the court's officers are told

        shown = finals(judge)
        assert len(shown) >= len(KOREAN_SENTENCES), shown
        assert all(s["text"] for s in shown)
        reply = await api.request("GET", f"/api/hearings/{hearing['id']}/transcript", judge_p["token"])
        assert reply.status == 200, reply.text
        stored = reply.json["segments"]
        # The record holds what was recognised during the outage: in order, each once.
        assert [s["id"] for s in stored] == [s["id"] for s in shown]
        assert [s["text"] for s in stored] == [s["text"] for s in shown]
        assert len({s["id"] for s in stored}) == len(stored)
        starts = [s["start"] for s in stored]
        assert starts == sorted(starts)
        assert all(s["speaker"] == plaintiff_p["id"] for s in stored)

        health = (await api.request("GET", "/healthz", None)).json["store"]
        assert health == {"state": "available", "pending": 0, "lost": 0}
        events = await api.events(hearing["id"])
        assert not any(e["kind"] == "hearing.recess" for e in events)  # the refused request stored nothing
        assert (await api.get_hearing(hearing["id"])).json["state"] == "in_session"
        assert "Traceback" not in server.log()


async def test_a_full_queue_refuses_loudly_and_the_officers_hear_how_many_were_lost(
        postgres: Any, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    """With room for one waiting write, three drops during an outage: one waits and is stored
    when the database is back, two are refused, counted and reported to the officers only."""
    config = tmp_path / "tiny.toml"
    config.write_text("store_queue_limit = 1\n")
    url = postgres.database_url(f"fullqueue{next(_names)}")
    server = await server_factory("--database", url, "--config", str(config))
    api = api_factory(server)
    people = [("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"), ("agent", "刘律师", "plaintiff"),
              ("agent", "陈律师", "defendant")]
    hearing, (judge_p, *parties) = await api.hearing_with(*people)
    hid = hearing["id"]
    judge = Participant(server.url, judge_p["token"])
    peers = [Participant(server.url, p["token"]) for p in parties]
    try:
        await judge.connect()
        await judge.act("open")
        for peer, p in zip(peers, parties, strict=True):
            await peer.connect()
            await judge.act("admit", p["id"])
        await judge.act("start")
        await peers[-1].wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")

        for _ in range(150):  # the start's effects (room, lease) have stored what they write
            if (await api.request("GET", "/healthz", None)).json["effects"]["busy"] == 0:
                break
            await asyncio.sleep(0.1)
        await asyncio.to_thread(postgres.stop)
        try:
            dropped_at = time.time()
            await peers[0].close()
            await judge.wait_for(lambda m: m["type"] == "store" and m["state"] == "unavailable", timeout=30)
            assert (await api.request("GET", "/healthz", None)).json["store"]["pending"] == 1
            for peer in peers[1:3]:
                await peer.close()
            told = await judge.wait_for(lambda m: m["type"] == "store" and m["lost"] == 2, timeout=30)
            assert told["state"] == "unavailable" and told["pending"] == 1, told
            assert "2 lost" in told["message"]
            health = (await api.request("GET", "/healthz", None)).json["store"]
            assert health == {"state": "unavailable", "pending": 1, "lost": 2}, health
            await asyncio.sleep(max(0.0, dropped_at + 4.0 - time.time()))  # an outage longer than the slack below
        finally:
            back_at = time.time()
            await asyncio.to_thread(postgres.start)
        restored = await judge.wait_for(lambda m: m["type"] == "store" and m["state"] == "restored", timeout=60)
        assert restored["stored"] == 1 and restored["lost"] == 2 and restored["pending"] == 0, restored
        assert store_messages(peers[-1]) == []  # a party is not told

        events = await api.events(hid)
        dropped = [e["subject"] for e in events if e["kind"] == "participant.drop"]
        assert dropped == [parties[0]["id"]]  # the waiting drop was stored; the refused ones were not
        # ... and timed when the socket went, not when the database came back.
        drop = next(e for e in events if e["kind"] == "participant.drop")
        assert dropped_at - 1 < drop["wall_time"] < dropped_at + 3 < back_at, (drop, dropped_at, back_at)
        assert (await api.request("GET", "/healthz", None)).json["store"] == {"state": "available", "pending": 0,
                                                                            "lost": 2}
        metrics = (await api.request("GET", "/metrics", None, headers={"Authorization": f"Bearer {server.admin_key}"})).text
        assert "courtroom_store_lost_total 2" in metrics and "courtroom_store_available 1" in metrics
        assert "Traceback" not in server.log()
    finally:
        await judge.close()
        for peer in peers:
            await peer.close()
