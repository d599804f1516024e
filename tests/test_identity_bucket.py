"""Identity check-in pictures in a court of pods: pod 1 takes the check-in and puts each picture
in the court's bucket; pod 2 (same PostgreSQL and bucket, its own disk) shows them to an officer,
checked against the stored digest, and refuses an altered one; the retention pass deletes them
from disk and bucket, after which no pod serves them. Real PostgreSQL and SeaweedFS (session
fixtures), real faces."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from conftest import courtroom_command

from courtroom.archiving import ledger_key
from courtroom.blobs import open_blob_store
from courtroom.identity import bucket_key
from tests import face_images as fi
from tests.bucket_gate import Gate
from tests.conftest import assert_error
from tests.test_identity import add_registered, check_in

_courts = itertools.count(1)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.25)
    return await check()


async def _picture(api: Any, server: Any, hid: str, pid: str, which: str, token: str) -> tuple[int, bytes]:
    async with api.session.get(f"{server.url}/api/hearings/{hid}/identity/{pid}/{which}",
                               headers={"Authorization": f"Bearer {token}"}) as got:
        return got.status, await got.read()


async def _second_pod(server_factory: Any, first: Any, args: tuple[str, ...], data_dir: Path) -> Any:
    """Another pod of the same court: the same join-token secret and clerk's key, its own disk."""
    def share_secret() -> None:
        data_dir.mkdir(parents=True)
        (data_dir / "secret.key").write_text(first.secret())
    await asyncio.to_thread(share_secret)
    return await server_factory(*args, data_dir=data_dir, admin_key=first.admin_key)


def _pictures_on_disk(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "identity").rglob("*") if p.is_file()]


async def test_check_in_pictures_follow_the_hearing_to_another_pod_checked_and_deleted_everywhere(
        postgres: Any, seaweed: Any, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    n = next(_courts)
    database = postgres.database_url(f"identitypods{n}")
    bucket = seaweed.bucket_url(f"identity{n}")
    config = tmp_path / "court.toml"
    config.write_text("identity_retention_days = 90\n")
    args = ("--database", database, "--object-store", bucket, "--config", str(config))
    first = await server_factory(*args, data_dir=tmp_path / "pod1")
    api1 = api_factory(first)
    hearing, (judge, clerk) = await api1.hearing_with(("judge", "王法官"), ("clerk", "赵书记员"))
    hid = hearing["id"]
    plaintiff = await add_registered(api1, hid, "plaintiff", "Grace Hopper")
    defendant = await add_registered(api1, hid, "defendant", "Eileen Collins")
    store: Any = open_blob_store(bucket, tmp_path / "unused")

    # 1. The check-in on pod 1: both pictures on its disk and in the bucket, under identity/…
    snapshot = fi.jpeg(fi.grace_hopper(), 80)
    card = fi.jpeg(fi.id_card(fi.grace_hopper(), fi.GRACE_HEAD), 75)
    r = await check_in(api1, hid, plaintiff["token"], snapshot, card)
    assert r.status == 201 and r.json["face"]["ok"] is True, r.text
    digests = {"snapshot": hashlib.sha256(snapshot).hexdigest(), "document": hashlib.sha256(card).hexdigest()}
    assert len(_pictures_on_disk(first.data_dir)) == 2
    keys = await asyncio.to_thread(store.keys, "identity/")
    assert keys == sorted(bucket_key(hid, sha) for sha in digests.values())
    for which, sha in digests.items():
        assert await asyncio.to_thread(store.get_bytes, bucket_key(hid, sha), sha) == (snapshot if which == "snapshot" else card)
        # Personal data under retention, not a court file: never under ledger/.
        assert not await asyncio.to_thread(store.exists, ledger_key(sha))

    # 2. Pod 2 never saw the check-in: the officers see the same bytes, read from the bucket.
    second = await _second_pod(server_factory, first, args, tmp_path / "pod2")
    api2 = api_factory(second)
    for token in (judge["token"], clerk["token"], api2.admin_key):
        assert await _picture(api2, second, hid, plaintiff["id"], "snapshot", token) == (200, snapshot)
    assert await _picture(api2, second, hid, plaintiff["id"], "document", judge["token"]) == (200, card)
    async with api2.session.get(f"{second.url}/api/hearings/{hid}/identity/{plaintiff['id']}/snapshot",
                                headers={"Authorization": f"Bearer {judge['token']}"}) as got:
        assert got.headers["Content-Type"] == "image/jpeg" and "no-store" in got.headers["Cache-Control"]
    # Served, not kept: the pictures are on pod 1 and in the bucket, nowhere else.
    assert _pictures_on_disk(second.data_dir) == []
    # Never a party, never the public, on any pod.
    for token in (plaintiff["token"], defendant["token"], None):
        for which in ("snapshot", "document"):
            r = await api2.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/{which}", token)
            assert r.status == (403 if token else 401), (which, r.status)
    assert_error(await api2.request("GET", f"/api/hearings/{hid}/identity/{defendant['id']}/snapshot",
                                    judge["token"]), 404, "not_found")

    # 3. A picture altered in the bucket is refused on pod 2 (not served, not written to its
    # disk), the court is told once; pod 1 still shows its own copy.
    forged = fi.jpeg(fi.astronaut())
    await asyncio.to_thread(store.put_bytes, bucket_key(hid, digests["document"]), forged)
    for _ in range(2):
        assert_error(await api2.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/document",
                                        judge["token"]), 409, "picture_altered")
    assert _pictures_on_disk(second.data_dir) == []
    told = [e for e in await api2.events(hid, judge["token"]) if e["kind"] == "identity.picture_altered"]
    assert len(told) == 1 and told[0]["subject"] == plaintiff["id"]
    assert told[0]["data"]["expected_sha256"] == digests["document"]
    assert told[0]["data"]["actual_sha256"] == hashlib.sha256(forged).hexdigest()
    assert await _picture(api1, first, hid, plaintiff["id"], "document", judge["token"]) == (200, card)

    # 4. The ledger check of the court stays green: the identity entries stand for no bucket file.
    check = await asyncio.to_thread(
        subprocess.run, [*courtroom_command(), "ledger", "check", "--data", str(second.data_dir),
                         "--database", database, "--object-store", bucket],
        capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["bucket"]["problems"] == []

    # A picture the bucket lacks, of a check-in that is kept, is gone (410) on pod 2 until
    # pod 1's retention pass sends it again.
    tiny = fi.jpeg(fi.scaled(fi.cat(), 0.2))
    assert (await check_in(api1, hid, defendant["token"], tiny)).status == 201
    await asyncio.to_thread(store.delete, bucket_key(hid, hashlib.sha256(tiny).hexdigest()))
    assert_error(await api2.request("GET", f"/api/hearings/{hid}/identity/{defendant['id']}/snapshot",
                                    judge["token"]), 410, "gone")
    # An orphan in the bucket: a picture no check-in points at (a pod stopped mid-deletion).
    orphan = bucket_key(hid, "f" * 64)
    await asyncio.to_thread(store.put_bytes, orphan, b"left behind")

    # 5. Retention: pod 1 restarts with a retention of 2 s; its first pass deletes every picture
    # from its disk and from the bucket, the orphan too. Pod 2 then answers 410.
    await asyncio.sleep(2.5)
    config.write_text(f"identity_retention_days = {2 / 86400}\n")
    await first.restart()

    async def all_deleted() -> bool:
        deleted = [e for e in await api1.events(hid, judge["token"]) if e["kind"] == "identity.images_deleted"]
        left = await asyncio.to_thread(store.keys, "identity/")
        return len(deleted) == 2 and not left and not _pictures_on_disk(first.data_dir)
    assert await _until(all_deleted, 60), (await asyncio.to_thread(store.keys, "identity/"), _pictures_on_disk(first.data_dir))
    for which in ("snapshot", "document"):
        assert_error(await api2.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/{which}",
                                        judge["token"]), 410, "gone")
        assert_error(await api1.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/{which}",
                                        judge["token"]), 410, "gone")
    assert "Traceback" not in second.log() and "Traceback" not in first.log()


async def test_a_check_in_while_the_bucket_is_away_loses_nothing_and_its_pictures_follow_later(
        postgres: Any, seaweed: Any, gate: Gate, server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    """The bucket is away at the check-in: the check-in is taken (its pictures on pod 1's disk),
    pod 2 answers 503 while it cannot reach the bucket and 410 while the bucket lacks the picture;
    pod 1's next retention pass (here at its start) sends it, and pod 2 shows it."""
    n = next(_courts)
    store: Any = open_blob_store(seaweed.bucket_url(f"identityoutage{n}"), tmp_path / "unused")
    through_gate = f"s3://{store.bucket}?endpoint=http://127.0.0.1:{gate.port}"
    database = postgres.database_url(f"identityoutage{n}")
    gate.open()  # a pod starts only with its bucket up; it goes away later
    first = await server_factory("--database", database, "--object-store", through_gate, data_dir=tmp_path / "pod1")
    api1 = api_factory(first)
    hearing, (judge,) = await api1.hearing_with(("judge", "王法官"))
    hid = hearing["id"]
    plaintiff = await add_registered(api1, hid, "plaintiff", "Grace Hopper")
    snapshot = fi.jpeg(fi.grace_hopper(), 70)
    key = bucket_key(hid, hashlib.sha256(snapshot).hexdigest())
    second = await _second_pod(server_factory, first, ("--database", database, "--object-store", through_gate),
                               tmp_path / "pod2")
    api2 = api_factory(second)
    gate.shut()
    r = await check_in(api1, hid, plaintiff["token"], snapshot)
    assert r.status == 201 and r.json["state"] == "checked_in", r.text
    assert len(_pictures_on_disk(first.data_dir)) == 1
    assert "could not be put in" in first.log()
    assert not await asyncio.to_thread(store.exists, key)
    path = f"/api/hearings/{hid}/identity/{plaintiff['id']}/snapshot"
    # Pod 2 cannot reach the bucket: a clear 503, and it keeps running; pod 1 shows its own copy.
    assert_error(await api2.request("GET", path, judge["token"]), 503, "store_unavailable")
    assert await _picture(api1, first, hid, plaintiff["id"], "snapshot", judge["token"]) == (200, snapshot)
    # The bucket is back but has not got the picture yet: gone (410) on pod 2.
    gate.open()
    assert_error(await api2.request("GET", path, judge["token"]), 410, "gone")
    await first.restart()

    async def sent() -> bool:
        return bool(await asyncio.to_thread(store.exists, key))
    assert await _until(sent, 30)
    assert await _picture(api2, second, hid, plaintiff["id"], "snapshot", judge["token"]) == (200, snapshot)
    assert "Traceback" not in first.log() and "Traceback" not in second.log()
