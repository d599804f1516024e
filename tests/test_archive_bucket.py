"""Files behind the court's bucket (issue 19 item 2): archive parts uploaded as each closes,
retried while the bucket is away, refused when altered, read back by the pod that takes a
hearing over. A real SeaweedFS (session fixture `seaweed`) and the local-folder store."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import shutil
import subprocess
import time
import zipfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest
from conftest import courtroom_command
from PIL import Image

from courtroom.archiving import ledger_key
from courtroom.blobs import BlobCorrupt, open_blob_store
from courtroom.court import Actor
from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from signaling.archiver import replay_key
from signaling.recording_uploads import RETRYING, UPLOADED, PartUploads, part_key
from tests.bucket_gate import Gate
from tests.media_helpers import LOOPBACK_MEDIA, judge_in_session, wait_frames

_buckets = itertools.count(1)
CASE = "(2026)京0491民初7001号"
POD_ARGS = (*LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10", "--broadcast-delay", "1")


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return open_blob_store(f"file://{tmp_path / 'bucket'}", tmp_path)
    return open_blob_store(request.getfixturevalue("seaweed").bucket_url(f"parts{next(_buckets)}"), tmp_path)


async def _hearing(court: Any) -> str:
    hearing = await court.create_hearing({"case_number": CASE, "procedure": "simple"}, Actor.clerk())
    return str(hearing.id)


def _part(folder: Path, name: str = "archive.mp4", size: int = 300_000) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(hashlib.sha256(name.encode()).digest() * (size // 32))
    return path


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.1)
    return await check()


async def _kinds(court: Any, hid: str, kind: str) -> list[dict[str, Any]]:
    return [e.data for e in await court.events(hid) if e.kind == kind]


async def test_a_part_waits_out_a_bucket_outage_and_its_local_copy_stays_until_confirmed(
        court: Any, seaweed: Any, gate: Gate, tmp_path: Path) -> None:
    hid = await _hearing(court)
    store: Any = open_blob_store(seaweed.bucket_url(f"outage{next(_buckets)}"), tmp_path)
    gate.open()  # a pod opens its store with the bucket up (a clear error otherwise); it goes away later
    through_gate = open_blob_store(f"s3://{store.bucket}?endpoint=http://127.0.0.1:{gate.port}", tmp_path)
    gate.shut()
    uploads = PartUploads(court, through_gate, keep_local=False, first_retry=0.2, max_retry=0.5)
    uploads.start()
    try:
        part = _part(tmp_path / "recordings" / hid)
        sha = hashlib.sha256(part.read_bytes()).hexdigest()
        assert uploads.submit(hid, part)
        assert not uploads.submit(hid, part)  # one upload per part

        async def retried() -> bool:
            return uploads.retries >= 3
        assert await _until(retried, 60), "no retry while the bucket is away"
        assert part.is_file(), "the local part went before the bucket confirmed it"
        assert not store.exists(part_key(hid, part))
        told = await _kinds(court, hid, RETRYING)
        assert len(told) == 1 and told[0]["key"] == part_key(hid, part)  # officers told once, not per attempt
        assert not await _kinds(court, hid, UPLOADED)

        gate.open()
        assert await uploads.idle(60), "the part did not land once the bucket came back"
        assert store.info(part_key(hid, part)).sha256 == sha
        done = await _kinds(court, hid, UPLOADED)
        assert [(d["key"], d["sha256"]) for d in done] == [(part_key(hid, part), sha)]
        assert not part.exists()  # keep_local=False: removed once confirmed, not before
    finally:
        await uploads.stop(5)


async def test_an_altered_part_is_refused_and_an_intact_one_is_fetched(court: Any, blobs: Any, tmp_path: Path) -> None:
    hid = await _hearing(court)
    uploads = PartUploads(court, blobs)
    uploads.start()
    try:
        first = _part(tmp_path / "pod1" / hid, "archive.mp4")
        second = _part(tmp_path / "pod1" / hid / "public", "archive.mp4", 100_000)
        original = first.read_bytes()
        assert uploads.submit(hid, first) and uploads.submit(hid, second)
        assert await uploads.idle(60)
        assert sorted(blobs.keys(f"hearings/{hid}/")) == [f"hearings/{hid}/archive/archive.mp4",
                                                          f"hearings/{hid}/archive/public/archive.mp4"]
        first.unlink()
        second.unlink()

        pod2 = tmp_path / "pod2" / hid
        fetched = await uploads.local_copy(hid, first, pod2)
        assert fetched == pod2 / "archive.mp4" and fetched.read_bytes() == original
        assert await uploads.local_copy(hid, second, pod2) == pod2 / "public" / "archive.mp4"

        # Altered in the bucket, with a digest to match the new bytes: the digest on record
        # at the upload still tells, and the part is never used.
        altered = bytearray(original)
        altered[len(altered) // 2] ^= 0xFF
        blobs.put_bytes(part_key(hid, first), bytes(altered))
        fetched.unlink()
        with pytest.raises(BlobCorrupt):
            await uploads.local_copy(hid, first, pod2)
        assert not fetched.exists()
        # A part nobody has: None, not an error.
        assert await uploads.local_copy(hid, tmp_path / "pod1" / hid / "archive-part9.mp4", pod2) is None
    finally:
        await uploads.stop(5)


async def test_the_start_sweep_sends_parts_a_crash_left_and_not_the_part_being_written(
        court: Any, blobs: Any, tmp_path: Path) -> None:
    hid = await _hearing(court)
    folder = tmp_path / "recordings" / hid
    crashed, uploaded, writing = (_part(folder, n) for n in ("archive.mp4", "archive-part2.mp4", "archive-part3.mp4"))
    await court.update_extra(hid, archive_parts=[{"path": str(p), "started_at": 0.0} for p in (crashed, uploaded, writing)])
    uploads = PartUploads(court, blobs)
    uploads.start()
    try:
        assert uploads.submit(hid, uploaded)
        assert await uploads.idle(60)
        uploads.writing.add(writing)
        assert await uploads.sweep() == 1
        assert await uploads.idle(60)
        assert sorted(blobs.keys(f"hearings/{hid}/")) == sorted([part_key(hid, crashed), part_key(hid, uploaded)])
        assert await uploads.sweep() == 0  # nothing is sent twice
    finally:
        await uploads.stop(5)


def _seconds(path: Path) -> float:
    with av.open(str(path)) as container:
        return (container.duration or 0) / 1_000_000


# --- a recorded hearing on real pods ---------------------------------------------------------


def _config(tmp_path: Path, name: str, **values: Any) -> str:
    path = tmp_path / f"{name}.toml"
    lines = [f"{k} = {v!r}".replace("'", '"') if not isinstance(v, bool) else f"{k} = {str(v).lower()}"
             for k, v in values.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


async def test_parts_reach_the_bucket_while_the_hearing_runs_and_follow_it_to_another_pod(
        postgres: Any, seaweed: Any, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    """Pod 1 records with parts rolling every 2 s: they are in the bucket before the close.
    Pod 1 dies (SIGKILL) and its disk with it; pod 2 takes the hearing, continues the archive
    as a new part, and at the close reads pod 1's parts from the bucket for the record and
    the replay."""
    n = next(_buckets)
    database = postgres.database_url(f"bucketpods{n}")
    bucket = seaweed.bucket_url(f"court{n}")
    config = _config(tmp_path, "court", archive_part_seconds=2.0, lease_seconds=2.0)
    args = ("--database", database, "--object-store", bucket, "--config", config, *POD_ARGS)
    first = await server_factory(*args, data_dir=tmp_path / "pod1")
    api = api_factory(first)
    hearing, (judge_p,) = await api.hearing_with(("judge", "王法官"), public=True)
    hid = hearing["id"]
    store: Any = open_blob_store(bucket, tmp_path)
    async with judge_in_session(first.url, judge_p["token"]) as judge:
        await judge.act("broadcast_on")

        async def two_parts_in_bucket() -> bool:
            keys = await asyncio.to_thread(store.keys, f"hearings/{hid}/archive/")
            return sum(1 for k in keys if "/public/" not in k) >= 2 and any("/public/" in k for k in keys)
        assert await _until(two_parts_in_bucket, 30), await asyncio.to_thread(store.keys, f"hearings/{hid}/")

        # An exhibit is in the bucket once deposited, not only at the close.
        picture = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 30)).save(picture, "PNG")
        form = aiohttp.FormData()
        form.add_field("file", picture.getvalue(), filename="借条.png", content_type="image/png")
        filed = await api.request("POST", f"/api/hearings/{hid}/evidence", api.admin_key, data=form)
        assert filed.status == 201, filed.text
        exhibit_key = ledger_key(hashlib.sha256(picture.getvalue()).hexdigest())

        async def exhibit_in_bucket() -> bool:
            return bool(await asyncio.to_thread(store.exists, exhibit_key))
        assert await _until(exhibit_in_bucket, 30)
        state = (await api.get_hearing(hid)).json
        assert state["state"] == "in_session"  # in the bucket before the close
    first.kill()
    folder = first.data_dir / "recordings" / hid
    left = {part_key(hid, p) for p in [*folder.glob("*.mp4"), *folder.glob("public/*.mp4")] if p.stat().st_size}
    assert left - set(await asyncio.to_thread(store.keys, f"hearings/{hid}/archive/"))  # the crash cut a part

    # Pod 1 comes back for a moment: its start-up sweep sends the part the crash left.
    await first.restart()

    async def all_sent() -> bool:
        return left <= set(await asyncio.to_thread(store.keys, f"hearings/{hid}/archive/"))
    assert await _until(all_sent, 30), left
    await first.stop()
    pod1_keys = await asyncio.to_thread(store.keys, f"hearings/{hid}/archive/")
    await asyncio.to_thread(shutil.rmtree, first.data_dir / "recordings")  # pod 1's disk is gone
    # One of pod 1's parts is altered in the bucket, its object digest made to match.
    altered_key = f"hearings/{hid}/archive/archive.mp4"
    data = bytearray(await asyncio.to_thread(store.get_bytes, altered_key))
    data[len(data) // 2] ^= 0xFF
    await asyncio.to_thread(store.put_bytes, altered_key, bytes(data))

    (tmp_path / "pod2").mkdir()
    shutil.copy(first.data_dir / "secret.key", tmp_path / "pod2" / "secret.key")  # one court, one join-link key
    second = await server_factory(*args, data_dir=tmp_path / "pod2", admin_key=first.admin_key)
    api2 = api_factory(second)
    judge = Participant(second.url, judge_p["token"], ToneTrack(440), PatternTrack(160, 90, 10))
    await judge.connect()
    try:
        state = await judge.wait_for(lambda m: m["type"] == "state", timeout=20)
        assert state["hearing"]["state"] == "in_session"
        await judge.start_media(timeout=20)
        assert await wait_frames(judge, 10, timeout=20)
        await asyncio.sleep(2)
        await judge.act("close")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "closed", timeout=20)
    finally:
        await judge.close()

    async def finished() -> bool:
        files = (await api2.get_hearing(hid)).json["extra"].get("record_files", [])
        return any(f["kind"] == "replay" for f in files)
    assert await _until(finished, 60), (await api2.get_hearing(hid)).json["extra"]
    detail = (await api2.get_hearing(hid)).json
    events = await api2.events(hid)
    uploaded = {e["data"]["key"]: e["data"]["sha256"] for e in events if e["kind"] == UPLOADED}
    archives = [f for f in detail["extra"]["record_files"] if f["kind"] == "archive"]
    names = [Path(f["path"]).name for f in archives]
    pod1_names = [k.rsplit("/", 1)[1] for k in pod1_keys if "/public/" not in k]
    assert "archive.mp4" in pod1_names and "archive.mp4" not in names  # the altered part: never used
    assert set(pod1_names) - {"archive.mp4"} <= set(names), (pod1_names, names)
    for f in archives:
        if Path(f["path"]).name in pod1_names:
            # Read from the bucket onto pod 2's disk, with the digest taken at pod 1's upload.
            assert f["path"].startswith(str(second.data_dir)), f
            assert f["sha256"] == uploaded[part_key(hid, f["path"])]
    assert len(names) == len(set(names)) > len(pod1_names)  # pod 2 continued as a new part
    # Parts roll at a keyframe: each rolled part takes up where the one before it ended.
    ordered = sorted((f for f in archives if Path(f["path"]).name in pod1_names), key=lambda f: f["start_hearing_time"])
    gaps = [b["start_hearing_time"] - (a["start_hearing_time"] + a["duration"]) for a, b in itertools.pairwise(ordered)]
    assert gaps and all(-0.15 < g < 0.25 for g in gaps), gaps
    refused = [e["data"] for e in events if e["kind"] == "archive.part_refused"]
    assert [r["name"] for r in refused] == ["archive.mp4"] and "sha256" in refused[0]["reason"], refused

    # The replay covers pod 1's stretch too: it is longer than all pod 2 recorded itself.
    replay = next(f for f in detail["extra"]["record_files"] if f["kind"] == "replay")
    pod1_public = {k.rsplit("/", 1)[1] for k in pod1_keys if "/public/" in k}
    own = [p for p in (second.data_dir / "recordings" / hid / "public").glob("archive*.mp4") if p.name not in pod1_public]
    assert pod1_public and own
    assert len(pod1_public | {p.name for p in own}) == len(pod1_public) + len(own)  # no name used twice
    own_seconds = sum(_seconds(p) for p in own)
    assert _seconds(Path(replay["path"])) > own_seconds + 1.0, (own_seconds, pod1_public)
    public = await api2.request("GET", f"/public/hearings/{hid}", None)
    assert public.json["replayable"]
    # The replay and its parts are in the bucket for any pod to serve.
    async def published() -> bool:
        return replay_key(hid, "replay.mp4") in await asyncio.to_thread(store.keys, f"hearings/{hid}/replay/")
    assert await _until(published, 60)
    # A pod that never had the replay serves it from the bucket, its digest checked.
    third = await server_factory(*args, data_dir=tmp_path / "pod3", admin_key=first.admin_key)

    # The bundle, made on that pod: every deposited file comes from the bucket, and the bundle
    # goes there too.
    async def mirrored() -> bool:
        files = (await api2.get_hearing(hid)).json["extra"]["record_files"]
        keys = set(await asyncio.to_thread(store.keys, "ledger/"))
        return bool(files) and all(ledger_key(f["sha256"]) in keys for f in files)
    assert await _until(mirrored, 60)
    bundle = tmp_path / "bundle.zip"
    made = await asyncio.to_thread(
        subprocess.run, [*courtroom_command(), "hearing", "export", hid, "--data", str(third.data_dir), "--database",
                         database, "--object-store", bucket, "--out", str(bundle)],
        capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stdout + made.stderr
    summary = json.loads(made.stdout)
    assert not [s for s in summary["skipped"] if "missing" in s or "bucket" in s], summary["skipped"]
    with zipfile.ZipFile(bundle) as z:
        manifest = json.loads(z.read("manifest.json"))
    bundled = {row["sha256"] for row in manifest["files"]}
    assert {f["sha256"] for f in detail["extra"]["record_files"]} <= bundled
    assert exhibit_key.split("/")[1] in bundled
    assert summary["bucket"] == [f"hearings/{hid}/bundles/bundle.zip"]
    assert (await asyncio.to_thread(store.info, summary["bucket"][0])).sha256 == hashlib.sha256(bundle.read_bytes()).hexdigest()
    url = f"{third.url}/public/hearings/{hid}/replay/replay.mp4"
    assert not (third.data_dir / "recordings" / hid).exists()
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as served:
            assert served.status == 200
            assert hashlib.sha256(await served.read()).hexdigest() == replay["sha256"]
        # Altered in the bucket (its own digest made to match): an error, never served.
        data = bytearray(await asyncio.to_thread(store.get_bytes, replay_key(hid, "replay.mp4")))
        data[len(data) // 2] ^= 0xFF
        await asyncio.to_thread(store.put_bytes, replay_key(hid, "replay.mp4"), bytes(data))
        async with session.get(url) as refused:
            assert refused.status == 502
            assert (await refused.json())["error"] == "file_altered"
    assert "Traceback" not in second.log()


def _png(colour: tuple[int, int, int]) -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(picture, "PNG")
    return picture.getvalue()


async def test_any_pod_serves_an_exhibit_from_the_bucket_checked(
        postgres: Any, seaweed: Any, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    """Exhibits filed on pod 1 are downloaded from pod 2, which never had them on its disk: it
    fetches each from the bucket against its deposited digest. An exhibit altered in the bucket
    is refused (and the court told); one missing from the bucket is gone (410)."""
    n = next(_buckets)
    args = ("--database", postgres.database_url(f"exhibitpods{n}"), "--object-store",
            seaweed.bucket_url(f"exhibits{n}"), *POD_ARGS)
    first = await server_factory(*args, data_dir=tmp_path / "pod1")
    api1 = api_factory(first)
    hearing, _ = await api1.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    store: Any = open_blob_store(seaweed.bucket_url(f"exhibits{n}"), tmp_path)
    files = {name: _png(colour) for name, colour in
             (("intact", (200, 30, 30)), ("altered", (30, 200, 30)), ("lost", (30, 30, 200)))}
    ids = {}
    for name, data in files.items():
        form = aiohttp.FormData()
        form.add_field("file", data, filename=f"{name}.png", content_type="image/png")
        filed = await api1.request("POST", f"/api/hearings/{hid}/evidence", api1.admin_key, data=form)
        assert filed.status == 201, filed.text
        ids[name] = filed.json["id"]
        key = ledger_key(hashlib.sha256(data).hexdigest())

        async def in_bucket(key: str = key) -> bool:
            return bool(await asyncio.to_thread(store.exists, key))
        assert await _until(in_bucket, 30), key

    await asyncio.to_thread(store.put_bytes, ledger_key(hashlib.sha256(files["altered"]).hexdigest()), b"not the exhibit")
    await asyncio.to_thread(store.delete, ledger_key(hashlib.sha256(files["lost"]).hexdigest()))

    second = await server_factory(*args, data_dir=tmp_path / "pod2", admin_key=first.admin_key)
    api2 = api_factory(second)
    base = f"/api/hearings/{hid}/evidence"
    async with api2.session.get(f"{second.url}{base}/{ids['intact']}/file",
                                headers={"Authorization": f"Bearer {api2.admin_key}"}) as got:
        assert got.status == 200, await got.text()
        assert await got.read() == files["intact"]
    assert (second.data_dir / "evidence").exists()

    altered = await api2.request("GET", f"{base}/{ids['altered']}/file", api2.admin_key)
    assert altered.status == 409 and altered.json["error"] == "exhibit_altered", altered.text
    events = await api2.request("GET", f"/api/hearings/{hid}/events", api2.admin_key)
    assert any(e["kind"] == "evidence.altered" and e["subject"] == ids["altered"] for e in events.json["events"])

    lost = await api2.request("GET", f"{base}/{ids['lost']}/file", api2.admin_key)
    assert lost.status == 410 and lost.json["error"] == "gone", lost.text
    assert not [p for p in (second.data_dir / "evidence").rglob("*") if p.is_file() and ".part" in p.name]
    # Pod 1 still serves all of them from its own disk.
    assert (await api1.request("GET", f"{base}/{ids['lost']}/file", api1.admin_key)).status == 200
