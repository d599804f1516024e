"""A whole court on loopback: PostgreSQL, SeaweedFS, two pods and nginx in front.

One hearing runs through nginx with real aiortc peers; the pod holding it is SIGKILLed
mid-hearing and the hearing carries on in the other pod; it closes, its files land in the
bucket, `courtroom ledger check` is green across the court (chain and bucket) and names a
file changed in the bucket; the replay plays through nginx, from its cache the second time.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import av
import pytest
from conftest import courtroom_command

from courtroom.postgres import PostgresDatabase
from courtroom.storage import Store
from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from localcourt.services import LocalCourt
from tests.media_helpers import LOOPBACK_MEDIA, wait_frames

POD_ARGS = [*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--broadcast-delay", "2", "--asr-engine", "off"]


@pytest.fixture(scope="module")
def court(postgres: Any, seaweed: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    local = LocalCourt(tmp_path_factory.mktemp("court"), pods_count=2, pod_args=POD_ARGS, lease_seconds=2.0,
                       postgres=postgres, seaweed=seaweed)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def _http(url: str, key: str | None = None, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    request = urllib.request.Request(url, method="POST" if body is not None else "GET")
    if key:
        request.add_header("Authorization", f"Bearer {key}")
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as r:
            raw = r.read()
            ctype = r.headers.get("Content-Type", "")
            return r.status, json.loads(raw) if "json" in ctype else raw, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


async def _post(court: Any, path: str, body: Any) -> Any:
    status, reply, _ = await asyncio.to_thread(_http, court.url + path, court.admin_key, body)
    assert status in (200, 201), (path, status, reply)
    return reply


def _holder(court: Any, hearing_id: str) -> str:
    db = PostgresDatabase(court.database_url)
    try:
        lease = db.call(Store.of(db).leases.get, hearing_id)
    finally:
        db.close()
    return lease.pod if lease else ""


async def _join(court: Any, token: str, tone: int) -> Participant:
    peer = Participant(court.url, token, ToneTrack(tone), PatternTrack(160, 90, 10))
    await peer.connect()
    return peer


async def test_a_hearing_survives_its_pod_and_is_kept_by_the_court(court: Any) -> None:
    hearing = await _post(court, "/api/hearings", {"case_number": "(2026)京0491民初9001号", "title": "买卖合同纠纷",
                                                   "procedure": "simple", "public": True})
    hid = hearing["id"]
    judge_p = await _post(court, f"/api/hearings/{hid}/participants", {"name": "王法官", "role": "judge"})
    party_p = await _post(court, f"/api/hearings/{hid}/participants", {"name": "张三", "role": "plaintiff"})
    assert judge_p["join_url"].startswith(court.url)  # join links point at the court, not a pod

    judge = await _join(court, judge_p["token"], 440)
    party = await _join(court, party_p["token"], 660)
    peers = [judge, party]
    try:
        await judge.act("open")
        await judge.act("admit", party_p["id"])
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await judge.start_media()
        await party.start_media()
        assert await wait_frames(party, 10, timeout=15)
        await judge.act("broadcast_on")
        await asyncio.sleep(3)

        first_pod = _holder(court, hid)
        assert first_pod in {"pod1", "pod2"}
        victim = next(p for p in court.pods if p.name == first_pod)
        killed_at = time.monotonic()
        victim.kill()
        for peer in peers:
            await peer.close()

        # Both reconnect through nginx, as the browser client does; the other pod takes the
        # hearing once the dead pod's lease expires.
        judge = await _join(court, judge_p["token"], 440)
        party = await _join(court, party_p["token"], 660)
        peers = [judge, party]
        state = await judge.wait_for(lambda m: m["type"] == "state", timeout=20)
        assert state["hearing"]["state"] == "in_session"  # the state came from the database
        await judge.start_media(timeout=20)
        await party.start_media(timeout=20)
        assert await wait_frames(party, 5, timeout=20)
        failover = time.monotonic() - killed_at
        assert _holder(court, hid) not in {"", first_pod}
        print(f"failover: pod killed → picture again in {failover:.1f} s")
        assert failover < 15

        await asyncio.sleep(3)
        await judge.act("close")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "closed", timeout=20)
    finally:
        for peer in peers:
            await peer.close()

    # The replay, through nginx; then from nginx's cache.
    deadline = time.monotonic() + 60
    info: Any = None
    while time.monotonic() < deadline:
        status, info, _ = await asyncio.to_thread(_http, f"{court.url}/public/hearings/{hid}")
        if status == 200 and isinstance(info, dict) and info.get("replayable"):
            break
        await asyncio.sleep(0.5)
    assert isinstance(info, dict) and info.get("replayable"), info
    mp4_url = court.url + info["replay_mp4"]
    status, data, headers = await asyncio.to_thread(_http, mp4_url)
    assert status == 200 and len(data) > 10_000
    again = await asyncio.to_thread(_http, mp4_url)
    assert again[2].get("X-Cache") == "HIT", again[2]
    replay = Path(court.folder) / "replay.mp4"
    replay.write_bytes(data)
    with av.open(str(replay)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 20

    # The pod that died comes back: it has no local replay, and serves it from the bucket.
    victim.start()
    status, from_bucket, _ = await asyncio.to_thread(_http, victim.url + info["replay_mp4"])
    assert status == 200 and from_bucket == data

    # Every deposited file is in the bucket, and the court's ledger checks green.
    surviving = next(p for p in court.pods if p.name != first_pod)
    check_cmd = [*courtroom_command(), "ledger", "check", "--data", str(surviving.data),
                 "--database", court.database_url, "--object-store", court.object_store_url]

    async def check() -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(subprocess.run, check_cmd, capture_output=True, text=True, timeout=120)

    result = await check()
    deadline = time.monotonic() + 30
    while result.returncode != 0 and time.monotonic() < deadline:  # the copy runs after the close
        await asyncio.sleep(1)
        result = await check()
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["bucket"]["problems"] == []

    # A file changed in the bucket is named by the check.
    from courtroom.blobs import open_blob_store

    blobs: Any = open_blob_store(court.object_store_url, Path(court.folder))
    archive_key = next(k for k in blobs.keys("ledger/"))
    original = blobs.client.get_object(Bucket=blobs.bucket, Key=archive_key)
    body = bytearray(original["Body"].read())
    body[len(body) // 2] ^= 0xFF
    blobs.client.put_object(Bucket=blobs.bucket, Key=archive_key, Body=bytes(body), Metadata=original["Metadata"])
    tampered = await check()
    assert tampered.returncode == 1
    assert archive_key in tampered.stderr and "changed" in tampered.stderr
