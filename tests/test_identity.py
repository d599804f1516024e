"""Identity at join, end to end on a real server: the registered identity, the check-in with
real faces, the officers' verdict before admission, re-checks, new devices, bad pictures, a
face model that does not load, and the images' retention."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from tests import face_images as fi
from tests.conftest import Api, assert_error, courtroom_command

ID_NUMBER = "11010119900307123X"


def pictures(snapshot: bytes | None, document: bytes | None = None, device: str | None = None) -> aiohttp.FormData:
    form = aiohttp.FormData()
    if snapshot is not None:
        form.add_field("snapshot", snapshot, filename="snapshot.jpg", content_type="image/jpeg")
    if document is not None:
        form.add_field("document", document, filename="id.jpg", content_type="image/jpeg")
    if device is not None:
        form.add_field("device", device)
    return form


async def add_registered(api: Api, hearing_id: str, role: str, name: str, **identity: Any) -> dict[str, Any]:
    body = {"role": role, "name": name, "identity": {"id_type": "resident_id", "id_number": ID_NUMBER, **identity}}
    r = await api.request("POST", f"/api/hearings/{hearing_id}/participants", api.admin_key, json=body)
    assert r.status == 201, r.text
    return r.json


async def check_in(api: Api, hearing_id: str, token: str, snapshot: bytes | None, document: bytes | None = None,
                   device: str | None = None) -> Any:
    return await api.request("POST", f"/api/hearings/{hearing_id}/check-in", token, data=pictures(snapshot, document, device))


async def identity_of(api: Api, hearing_id: str, pid: str, token: str | None = None) -> dict[str, Any]:
    r = await api.request("GET", f"/api/hearings/{hearing_id}/identity", api._key(token))
    assert r.status == 200, r.text
    return next(s for s in r.json["participants"] if s["participant"] == pid)


async def test_identity_at_join(server_factory: Any, api_factory: Any) -> None:
    server = await server_factory()
    api = api_factory(server)
    hearing = await api.create_hearing(public=True)
    hid = hearing["id"]
    judge = await api.add(hid, "judge", "王法官")
    clerk = await api.add(hid, "clerk", "赵书记员")
    plaintiff = await add_registered(api, hid, "plaintiff", "Grace Hopper")
    defendant = await add_registered(api, hid, "defendant", "Eileen Collins", id_type="passport", id_last4="e7x9")
    witness = await api.add(hid, "witness", "陈五")  # nobody registered: not checked

    # 1. The registered identity: the number's last four only, anywhere.
    assert plaintiff["identity"] == {"name": "Grace Hopper", "id_type": "resident_id", "id_type_zh": "居民身份证", "id_last4": "123X"}
    assert defendant["identity"]["id_last4"] == "E7X9"
    for bad in ({"id_type": "library_card", "id_last4": "1234"}, {"id_type": "passport"},
                {"id_type": "passport", "id_last4": "12"}, {"id_type": "passport", "id_last4": "12\n4"}, "x",
                {"id_type": "passport", "id_last4": "1234", "id_number_full": "1"}):
        r = await api.request("POST", f"/api/hearings/{hid}/participants", api.admin_key,
                              json={"role": "plaintiff", "name": "X", "identity": bad})
        assert_error(r, 400, "invalid_field")
    names = [p["name"] for p in (await api.get_hearing(hid)).json["participants"]]
    assert names.count("X") == 0  # nothing half-made

    # 2. Admission waits for a verified identity (the witness has none registered: not required).
    await api.act(hid, "open", judge["token"])
    r = await api.act(hid, "admit", judge["token"], plaintiff)
    assert_error(r, 409, "identity_not_verified")
    assert (await api.act(hid, "admit", clerk["token"], witness)).status == 200

    # A participant is told its own state on its socket; officers get everyone's.
    async with aiohttp.ClientSession() as session:
        ws_party = await session.ws_connect(f"{server.url.replace('http', 'ws')}/ws?token={plaintiff['token']}")
        ws_judge = await session.ws_connect(f"{server.url.replace('http', 'ws')}/ws?token={judge['token']}")
        mine = await _next(ws_party, lambda m: m["type"] == "identity")
        assert mine["you"]["required"] and mine["you"]["state"] == "not_checked_in" and "participants" not in mine
        # Not verified: the judge's controls soon offer no admit for the plaintiff (the first state
        # of a hearing goes out before its statuses are read; the server refuses an admit anyway).
        held = await _next(ws_judge, lambda m: m["type"] == "state"
                           and "admit" not in m["participant_actions"].get(plaintiff["id"], ["admit"]))
        assert "remove" in held["participant_actions"][plaintiff["id"]]

        # 3. Check-in with real faces: Grace Hopper's camera still and her ID card match.
        snapshot = fi.jpeg(fi.grace_hopper(), 80)
        card = fi.jpeg(fi.id_card(fi.grace_hopper(), fi.GRACE_HEAD), 75)
        r = await check_in(api, hid, plaintiff["token"], snapshot, card, device="device-aaaaaaaa")
        assert r.status == 201, r.text
        assert r.json["face"] == {"available": True, "ok": True, "reasons": []} and not r.json["retry"]
        assert r.json["state"] == "checked_in" and "distance" not in json.dumps(r.json)
        seen = await _next(ws_judge, lambda m: m["type"] == "identity" and any(
            s["participant"] == plaintiff["id"] and s["check"] for s in m["participants"]))
        status = next(s for s in seen["participants"] if s["participant"] == plaintiff["id"])
        assert status["check"]["result"]["match"] is True and status["check"]["result"]["distance"] < 0.6
        assert status["registered"]["id_last4"] == "123X"

        # The defendant shows the wrong ID card: the score says so, the officers decide.
        r = await check_in(api, hid, defendant["token"], fi.jpeg(fi.astronaut()), card)
        assert r.status == 201 and r.json["face"]["reasons"] == ["faces_differ"]
        d = await identity_of(api, hid, defendant["id"], judge["token"])
        assert d["check"]["result"]["match"] is False and d["check"]["result"]["distance"] > 0.6

        # The images: officers only, never another party, never the public.
        got = await api.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/snapshot", clerk["token"])
        assert got.status == 200 and got.headers["Content-Type"] == "image/jpeg"
        async with session.get(f"{server.url}/api/hearings/{hid}/identity/{plaintiff['id']}/snapshot",
                               headers={"Authorization": f"Bearer {judge['token']}"}) as resp:
            assert resp.status == 200 and await resp.read() == snapshot
            assert "no-store" in resp.headers["Cache-Control"]
        for token in (plaintiff["token"], defendant["token"], witness["token"], None):
            for path in (f"/identity/{plaintiff['id']}/snapshot", f"/identity/{plaintiff['id']}/document"):
                r = await api.request("GET", f"/api/hearings/{hid}{path}", token)
                assert r.status in (401, 403), (path, r.status)
        # A party asking for the list gets its own state only.
        r = await api.request("GET", f"/api/hearings/{hid}/identity", defendant["token"])
        assert r.status == 200 and set(r.json) == {"you"} and r.json["you"]["state"] == "checked_in"
        assert "Grace" not in r.text and "123X" not in r.text
        assert (await api.request("GET", f"/api/hearings/{hid}/identity", None)).status == 401
        assert (await api.request("GET", f"/api/hearings/{hid}/identity/{witness['id']}/snapshot", judge["token"])).status == 404
        assert (await api.request("GET", f"/public/hearings/{hid}", None)).text.find("identity") == -1
        verified = await api.request("GET", f"/public/verify?sha256={hashlib.sha256(snapshot).hexdigest()}", None)
        assert verified.status == 200 and verified.json["deposited"] is True  # the hash, never the picture
        assert verified.json["entries"][0]["kind"] == "identity"

        # 4. The verdict: the clerk or the judge, with a reason when not verified.
        assert_error(await api.act(hid, "verify_identity", plaintiff["token"], plaintiff, verified=True), 403, "forbidden")
        assert_error(await api.act(hid, "verify_identity", clerk["token"], defendant, verified=False), 400, "invalid_field")
        assert_error(await api.act(hid, "verify_identity", clerk["token"], defendant, verified="yes"), 400, "invalid_field")
        r = await api.act(hid, "verify_identity", clerk["token"], defendant, verified=False, reason="证件照片与本人不符")
        assert r.status == 200 and r.json["events"][0]["data"] == {"verified": False, "reason": "证件照片与本人不符"}
        assert_error(await api.act(hid, "admit", judge["token"], defendant), 409, "identity_not_verified")
        r = await api.act(hid, "verify_identity", clerk["token"], plaintiff, verified=True)
        assert r.status == 200
        mine = await _next(ws_party, lambda m: m["type"] == "identity" and m["you"]["state"] == "verified")
        # The judge's controls follow the check: admit is offered once the identity is verified.
        await _next(ws_judge, lambda m: m["type"] == "state" and "admit" in m["participant_actions"].get(plaintiff["id"], []))
        assert (await api.act(hid, "admit", judge["token"], plaintiff)).status == 200
        p = await identity_of(api, hid, plaintiff["id"])
        assert p["state"] == "verified" and p["verified_by"] == clerk["id"] and p["verified_at"] > 0

        # 5. Re-checks: a new device is flagged; the judge asks for a new check-in.
        r = await api.request("POST", f"/api/hearings/{hid}/identity/device", plaintiff["token"], json={"device": "device-aaaaaaaa"})
        assert r.status == 200 and r.json == {"new": False}  # the check-in's device... first seen here
        r = await api.request("POST", f"/api/hearings/{hid}/identity/device", plaintiff["token"], json={"device": "device-bbbbbbbb"})
        assert r.json == {"new": True}
        assert (await identity_of(api, hid, plaintiff["id"]))["new_device"] is True
        assert_error(await api.request("POST", f"/api/hearings/{hid}/identity/device", plaintiff["token"], json={"device": 5}), 400)
        assert_error(await api.act(hid, "recheck_identity", clerk["token"], plaintiff), 403, "forbidden")
        await api.act(hid, "start", judge["token"])
        assert (await api.act(hid, "recheck_identity", judge["token"], plaintiff)).status == 200
        mine = await _next(ws_party, lambda m: m["type"] == "identity" and m["you"]["recheck"])
        r = await check_in(api, hid, plaintiff["token"], fi.jpeg(fi.scaled(fi.grace_hopper(), 0.8)))
        assert r.status == 201 and r.json["state"] == "checked_in"
        assert (await api.act(hid, "verify_identity", judge["token"], plaintiff, verified=True)).status == 200
        await ws_party.close()
        await ws_judge.close()

    # Bad pictures: a clear 4xx, the officers told, never a 500; no face / several faces are kept
    # for the officers with a message for the participant.
    token = defendant["token"]
    assert_error(await check_in(api, hid, token, b"%PDF-1.4 this is a document"), 415, "not_an_image")
    bomb = io.BytesIO()
    Image.new("1", (9000, 6000)).save(bomb, "PNG")
    assert_error(await check_in(api, hid, token, bomb.getvalue()), 413, "too_large")
    assert_error(await check_in(api, hid, token, b"\xff" * (8 * 1024 * 1024 + 10)), 413, "too_large")
    assert_error(await check_in(api, hid, token, None, fi.jpeg(fi.astronaut())), 400, "missing_file")
    assert_error(await api.request("POST", f"/api/hearings/{hid}/check-in", token, json={"snapshot": "x"}), 400, "not_multipart")
    assert_error(await check_in(api, hid, api.admin_key, fi.jpeg(fi.astronaut())), 403, "forbidden")
    r = await check_in(api, hid, token, fi.jpeg(fi.cat()))
    assert r.status == 201 and r.json["face"]["reasons"] == ["no_face"] and r.json["retry"] and "No face" in r.json["message"]
    r = await check_in(api, hid, token, fi.jpeg(fi.side_by_side(fi.astronaut(), fi.scaled(fi.grace_hopper(), 0.85))))
    assert r.status == 201 and "several_faces" in r.json["face"]["reasons"]
    kinds = [e["kind"] for e in await api.events(hid, judge["token"])]
    assert kinds.count("identity.check_in_refused") == 5 and kinds.count("identity.check_in") == 5
    d = await identity_of(api, hid, defendant["id"])
    assert d["problem"] == "" and d["check"]["result"]["reasons"] == ["several_faces"]

    # On the record: who verified whom, and when; no picture, score or number in any output.
    assert (await api.act(hid, "close", judge["token"])).status == 200
    record = (await api.request("GET", f"/api/hearings/{hid}/transcript?format=txt", judge["token"])).text
    assert "身份核验：" in record
    assert re.search(r"原告Grace Hopper：身份已核验（核验人：审判长王法官，\d{4}年\d+月\d+日 \d\d:\d\d:\d\d）", record), record
    assert "被告Eileen Collins：身份未通过核验（核验人：书记员赵书记员" in record
    assert "（书记员赵书记员核验被告Eileen Collins的身份：未通过，理由：证件照片与本人不符）" in record
    assert "（审判长王法官要求原告Grace Hopper重新核验身份）" in record
    outputs = [record, (await api.request("GET", f"/api/hearings/{hid}/transcript?format=json", judge["token"])).text,
               (await api.request("GET", f"/public/hearings/{hid}", None)).text]
    for text in outputs:
        assert "123X" not in text and hashlib.sha256(snapshot).hexdigest() not in text and "distance" not in text
    bundle = Path(server.data_dir).parent / "bundle"
    done = await asyncio.to_thread(subprocess.run, [*courtroom_command(), "hearing", "export", hid, "--data", str(server.data_dir),
                                   "--out", str(bundle)], capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert not [f for f in manifest["files"] if f["path"].startswith("identity") or f["sha256"] == hashlib.sha256(snapshot).hexdigest()]
    assert "身份核验：" in (bundle / "transcript" / "record-canonical.txt").read_text()

    # Nothing of the ID number past its last four, anywhere the pod writes.
    assert server.alive
    assert await asyncio.to_thread(_files_holding, Path(server.data_dir), ID_NUMBER.encode()) == []
    assert ID_NUMBER not in server.log()
    assert await asyncio.to_thread(_private_files, Path(server.data_dir) / "identity" / hid)


def _files_holding(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _private_files(folder: Path) -> bool:
    stored = list(folder.iterdir())
    return bool(stored) and all(p.stat().st_mode & 0o077 == 0 for p in stored)


async def test_a_face_model_that_does_not_load_and_the_retention_period(server_factory: Any, api_factory: Any, tmp_path: Path) -> None:
    config = tmp_path / "pod.toml"
    config.write_text(f'face_model_dir = "{tmp_path / "no-models"}"\nidentity_retention_days = {3 / 86400}\n'
                      'identity_max_check_ins = 4\n')
    server = await server_factory("--config", str(config))
    api = api_factory(server)
    hearing, (judge, plaintiff) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"))
    hid = hearing["id"]
    r = await check_in(api, hid, plaintiff["token"], fi.jpeg(fi.grace_hopper()))
    assert r.status == 201 and r.json["face"]["available"] is False and "not available" in r.json["message"]
    listed = (await api.request("GET", f"/api/hearings/{hid}/identity", judge["token"])).json
    assert listed["face_check"]["available"] is False
    folder = Path(server.data_dir) / "identity" / hid
    # Check-ins are bounded per participant (each keeps pictures until the retention ends).
    tiny = fi.jpeg(fi.scaled(fi.cat(), 0.2))
    for _ in range(3):
        assert (await check_in(api, hid, plaintiff["token"], tiny)).status == 201
    assert_error(await check_in(api, hid, plaintiff["token"], tiny), 409, "too_many_check_ins")
    # The status is derived from what is stored: a restart keeps it.
    await server.restart()
    s = await identity_of(api, hid, plaintiff["id"], judge["token"])
    assert s["checks"] == 4 and s["check"]["result"]["available"] is False
    orphan = folder / ("f" * 64)  # a picture no check-in points at (marked deleted by another pod)
    await asyncio.to_thread(orphan.write_bytes, b"x")
    await asyncio.to_thread(os.utime, orphan, (time.time() - 3600, time.time() - 3600))
    deleted: list[dict[str, Any]] = []
    for _ in range(60):  # retention 3 s; the sweep runs every 0.75 s
        await asyncio.sleep(0.25)
        deleted = [e for e in await api.events(hid, judge["token"]) if e["kind"] == "identity.images_deleted"]
        if len(deleted) == 4:
            break
    for _ in range(20):
        if not list(folder.iterdir()):
            break
        await asyncio.sleep(0.25)
    assert not list(folder.iterdir())  # the same bytes twice are one file, deleted with the last use
    assert len(deleted) == 4 and deleted[0]["subject"] == plaintiff["id"] and deleted[0]["actor"] == "system"
    assert_error(await api.request("GET", f"/api/hearings/{hid}/identity/{plaintiff['id']}/snapshot", judge["token"]), 410, "gone")
    assert (await identity_of(api, hid, plaintiff["id"], judge["token"]))["check"]["images_deleted"] is True


async def _next(ws: aiohttp.ClientWebSocketResponse, want: Any, within: float = 10.0) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        while True:
            msg = await ws.receive_json()
            if want(msg):
                return msg

    return await asyncio.wait_for(read(), within)
