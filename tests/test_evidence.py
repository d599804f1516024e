"""Evidence against a real server: filing (numbered per side), listing, downloading, presenting,
views (质证), and every bad upload a real client can send — each leaving no temporary file."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import struct
import wave
from pathlib import Path
from typing import Any

import aiohttp
from conftest import Api, CourtroomServer, assert_error
from PIL import Image, ImageDraw

from loadtest.participant import Participant

# --- real files ----------------------------------------------------------------------------------


def make_pdf(pages: int = 2, size: tuple[int, int] = (400, 300), marks: dict[int, str] | None = None) -> bytes:
    """A PDF made by Pillow: white pages; page N gets a big black box when marks[N] == "black"."""
    images = []
    for n in range(1, pages + 1):
        image = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(image)
        if (marks or {}).get(n) == "black":
            draw.rectangle([size[0] // 20, size[1] // 20, size[0] * 19 // 20, size[1] * 19 // 20], fill="black")
        else:
            draw.rectangle([10, 10, 60, 30], fill=(200, 200, 200))
        images.append(image)
    buf = io.BytesIO()
    images[0].save(buf, "PDF", save_all=True, append_images=images[1:], resolution=72)
    return buf.getvalue()


def make_picture(fmt: str = "PNG", colour: tuple[int, int, int] = (30, 120, 200), size: tuple[int, int] = (160, 90)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, fmt)
    return buf.getvalue()


def make_wav(seconds: float = 0.2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(struct.pack("<h", 0) * int(8000 * seconds))
    return buf.getvalue()


ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56) + b"\x90" * 2000


def form(data: bytes, filename: str = "exhibit.pdf", label: str | None = None, content_type: str = "application/pdf") -> aiohttp.FormData:
    f = aiohttp.FormData()
    if label is not None:
        f.add_field("label", label)
    f.add_field("file", data, filename=filename, content_type=content_type)
    return f


async def upload(api: Api, hearing_id: str, token: str | None, data: bytes, filename: str = "exhibit.pdf",
                 label: str | None = None) -> Any:
    return await api.request("POST", f"/api/hearings/{hearing_id}/evidence", api.admin_key if token is None else token,
                             data=form(data, filename, label))


def leftovers(server: CourtroomServer) -> list[Path]:
    tmp = server.data_dir / "evidence" / "tmp"
    return sorted(tmp.iterdir()) if tmp.exists() else []


async def start_hearing(api: Api, hearing_id: str, *admit: dict[str, Any]) -> None:
    assert (await api.act(hearing_id, "open")).status == 200
    for p in admit:
        assert (await api.act(hearing_id, "admit", participant=p)).status == 200


PEOPLE = (("judge", "王法官"), ("plaintiff", "张三"), ("agent", "赵律师", "plaintiff"), ("defendant", "李四"),
          ("witness", "陈五"), ("observer", "旁听人"))


# --- filing, numbering, listing, downloading --------------------------------------------------------


async def test_numbering_list_download_and_broadcast(shared_api: Api, module_server: CourtroomServer) -> None:
    api = shared_api
    hearing, people = await api.hearing_with(*PEOPLE)
    hid = hearing["id"]
    judge, plaintiff, agent, defendant, witness, observer = people
    watcher = Participant(api.url, defendant["token"])
    await watcher.connect()
    try:
        pdf = make_pdf(3)
        r = await upload(api, hid, plaintiff["token"], pdf, "合同.pdf")
        assert r.status == 201, r.text
        first = r.json
        assert first["label"] == "原告证据1" and first["number"] == 1 and first["side"] == "plaintiff"
        assert first["pages"] == 3 and first["media_type"] == "application/pdf" and first["filename"] == "合同.pdf"
        assert first["sha256"] == hashlib.sha256(pdf).hexdigest() and first["size"] == len(pdf)
        assert {"id", "label", "number", "side", "filename", "media_type", "sha256", "size", "pages", "created_at"} <= set(first)

        # The agent files on the plaintiff's side, with a description; the name given is not what decides the type.
        r = await upload(api, hid, agent["token"], make_picture("PNG"), "借条.jpg", label="借条")
        assert r.status == 201, r.text
        assert r.json["label"] == "原告证据2：借条" and r.json["media_type"] == "image/png" and r.json["pages"] == 1
        r = await upload(api, hid, defendant["token"], make_picture("JPEG"), "收据.jpeg")
        assert r.status == 201 and r.json["label"] == "被告证据1" and r.json["media_type"] == "image/jpeg"
        r = await upload(api, hid, None, make_wav(), "录音.wav")
        assert r.status == 201 and r.json["label"] == "法庭证据1" and r.json["side"] == "court"
        assert r.json["media_type"] == "audio/wav" and r.json["pages"] == 0
        r = await upload(api, hid, judge["token"], make_picture("PNG", (9, 9, 9)), "现场.png")
        assert r.status == 201 and r.json["label"] == "法庭证据2"

        # The same bytes again in this hearing: 409 with the exhibit they already are.
        r = await upload(api, hid, defendant["token"], pdf, "copy.pdf")
        assert r.status == 409 and r.json["error"] == "duplicate" and r.json["exhibit"]["id"] == first["id"]

        # The defendant's socket heard every filing.
        message = await watcher.wait_for(lambda m: m["type"] == "evidence" and len(m["exhibits"]) == 5, timeout=5)
        assert [e["label"] for e in message["exhibits"]][:2] == ["原告证据1", "原告证据2：借条"]

        listing = await api.request("GET", f"/api/hearings/{hid}/evidence", defendant["token"])
        assert listing.status == 200
        assert [e["label"] for e in listing.json["exhibits"]] == ["原告证据1", "原告证据2：借条", "被告证据1", "法庭证据1", "法庭证据2"]
        assert (await api.request("GET", f"/api/hearings/{hid}/evidence", None)).status == 401
        assert_error(await api.request("GET", f"/api/hearings/{hid}/evidence", witness["token"]), 403)  # not called
        assert_error(await api.request("GET", f"/api/hearings/{hid}/evidence", observer["token"]), 403)  # not admitted

        async with api.session.get(f"{api.url}/api/hearings/{hid}/evidence/{first['id']}/file",
                                   headers={"Authorization": f"Bearer {agent['token']}"}) as resp:
            assert resp.status == 200
            assert await resp.read() == pdf
            assert resp.headers["Content-Type"] == "application/pdf"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            disposition = resp.headers["Content-Disposition"]
            assert disposition.startswith("attachment;") and "filename*=UTF-8''%E5%90%88%E5%90%8C.pdf" in disposition

        events = [e for e in await api.events(hid) if e["kind"] == "evidence.upload"]
        assert len(events) == 5 and events[0]["subject"] == first["id"] and events[0]["data"]["label"] == "原告证据1"
        # Every filing is a deposit.
        r = await api.request("GET", f"/public/verify?sha256={first['sha256']}", None)
        assert r.json["deposited"] is True
        assert r.json["entries"][0]["kind"] == "exhibit" and r.json["entries"][0]["hearing_id"] == hid
        assert r.json["entries"][0]["name"] == "原告证据1"
        stored = module_server.data_dir / "evidence" / first["sha256"]
        assert stored.read_bytes() == pdf
        assert leftovers(module_server) == []
    finally:
        await watcher.close()


async def test_who_may_file(shared_api: Api) -> None:
    api = shared_api
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("witness", "陈五"), ("observer", "旁听人"))
    other, (stranger,) = await api.hearing_with(("defendant", "外人"))
    hid = hearing["id"]
    judge, plaintiff, witness, observer = people
    pdf = make_pdf(1)
    assert_error(await upload(api, hid, stranger["token"], pdf), 403, "forbidden")  # a party of another hearing
    assert_error(await upload(api, hid, witness["token"], pdf), 403, "forbidden")
    assert_error(await upload(api, hid, observer["token"], pdf), 403, "forbidden")
    assert_error(await api.request("POST", f"/api/hearings/{hid}/evidence", None, data=form(pdf)), 401)
    assert_error(await upload(api, "nosuchhearing", None, pdf), 404)
    assert_error(await api.request("GET", f"/api/hearings/{hid}/evidence/nosuch/file", plaintiff["token"]), 404)
    # Before the hearing, during it, and not after it closes.
    assert (await upload(api, hid, plaintiff["token"], pdf)).status == 201
    await start_hearing(api, hid)
    assert (await api.act(hid, "start", token=judge["token"])).status == 200
    assert (await upload(api, hid, plaintiff["token"], make_pdf(2))).status == 201
    assert (await api.act(hid, "close", token=judge["token"])).status == 200
    assert_error(await upload(api, hid, plaintiff["token"], make_pdf(3)), 409, "invalid_state")
    assert_error(await upload(api, hid, None, make_pdf(4)), 409, "invalid_state")


# --- bad uploads --------------------------------------------------------------------------------------


async def _raw_post(api: Api, path: str, token: str, body: bytes, boundary: str = "CourtBoundary") -> Any:
    return await api.request("POST", path, token, data=body,
                             headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def _part_head(name: str = "file", filename: str = "a.pdf") -> bytes:
    """The start of a multipart part, as a browser writes it (the file name in raw UTF-8)."""
    return (f'--CourtBoundary\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode()


async def test_bad_uploads_leave_nothing_behind(shared_api: Api, module_server: CourtroomServer) -> None:
    api = shared_api
    hearing, (plaintiff,) = await api.hearing_with(("plaintiff", "张三"))
    hid = hearing["id"]
    token = plaintiff["token"]
    path = f"/api/hearings/{hid}/evidence"
    data = module_server.data_dir

    # An executable renamed .pdf, sent as application/pdf.
    assert_error(await upload(api, hid, token, ELF, "report.pdf"), 415, "unsupported_media_type")
    # Bytes that claim to be a PDF but are not one.
    assert_error(await upload(api, hid, token, b"%PDF-1.7\n" + b"garbage" * 100, "x.pdf"), 415, "unreadable")
    # An empty file.
    assert_error(await upload(api, hid, token, b"", "empty.pdf"), 400, "empty_file")
    # A truncated body: the file's part never ends.
    assert_error(await _raw_post(api, path, token, _part_head() + make_pdf(1)[:300]), 400, "malformed_multipart")
    # A body that is not multipart, and a multipart body with no file in it.
    assert_error(await api.request("POST", path, token, json={"file": "x"}), 400, "not_multipart")
    assert_error(await _raw_post(api, path, token, b"--CourtBoundary--\r\n"), 400)
    assert_error(await api.request("POST", path, token, data=aiohttp.FormData({"label": "x"}, default_to_multipart=True)), 400, "missing_file")
    # A path in the file name is display text only.
    pdf = make_pdf(1, marks={1: "black"})
    body = _part_head(filename="../../../../esc\x07ape.pdf") + pdf + b"\r\n--CourtBoundary--\r\n"
    assert_error(await _raw_post(api, path, token, body), 400, "malformed_multipart")  # a raw control character
    body = _part_head(filename="../../../../esc\u202eape.pdf") + pdf + b"\r\n--CourtBoundary--\r\n"
    r = await _raw_post(api, path, token, body)
    assert r.status == 201, r.text
    assert r.json["filename"] == "escape.pdf"
    r = await upload(api, hid, token, make_pdf(2), "..\\..\\win\\evil.pdf")
    assert r.status == 201 and r.json["filename"] == "evil.pdf"
    assert not list(data.parent.glob("**/escape*")) and not list(data.parent.glob("**/evil*"))
    # A client that goes away in the middle of its upload.
    reader, writer = await asyncio.open_connection(module_server.host, module_server.port)
    head = _part_head(filename="gone.pdf") + make_pdf(1)[:200]
    writer.write((f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: multipart/form-data; boundary=CourtBoundary\r\n"
                  f"Content-Length: {len(head) + 1_000_000}\r\n\r\n").encode() + head)
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.3)
    stored = {p.name for p in (data / "evidence").iterdir()}
    assert stored - {"tmp"} and all(len(n) == 64 for n in stored - {"tmp"})
    assert leftovers(module_server) == []
    assert (await api.request("GET", "/healthz", None)).status == 200


async def test_size_limit(server_factory, api_factory, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("evidence_max_bytes = 100000\n")
    server = await server_factory("--config", str(config))
    api = api_factory(server)
    hearing, (plaintiff,) = await api.hearing_with(("plaintiff", "张三"))
    hid, token = hearing["id"], plaintiff["token"]
    big = make_picture("PNG")[:64] + bytes(150_000)
    # With a Content-Length: refused before reading.
    assert_error(await upload(api, hid, token, big, "big.png"), 413, "too_large")
    # Streamed in chunks with no Content-Length: refused once the count passes the limit.

    async def chunks():
        yield _part_head(filename="big.png")
        for i in range(0, len(big), 16384):
            yield big[i : i + 16384]
        yield b"\r\n--CourtBoundary--\r\n"

    r = await api.request("POST", f"/api/hearings/{hid}/evidence", token, data=chunks(),
                          headers={"Content-Type": "multipart/form-data; boundary=CourtBoundary"})
    assert_error(r, 413, "too_large")
    assert_error(await api.request("POST", "/public/verify", None, data=form(big)), 413, "too_large")
    assert leftovers(server) == []
    # Just under the limit is fine.
    fits = make_picture("PNG", size=(100, 100))
    assert len(fits) < 100_000
    assert (await upload(api, hid, token, fits, "ok.png")).status == 201
    assert (await api.request("GET", "/healthz", None)).status == 200


# --- presenting and views -----------------------------------------------------------------------------


async def test_present_withdraw_and_views(shared_api: Api) -> None:
    api = shared_api
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"),
                                             ("agent", "钱律师", "defendant"), ("witness", "陈五"))
    hid = hearing["id"]
    judge, plaintiff, defendant, agent, witness = people
    pdf = (await upload(api, hid, plaintiff["token"], make_pdf(2), "合同.pdf")).json
    wav = (await upload(api, hid, plaintiff["token"], make_wav(), "录音.wav")).json
    court_pic = (await upload(api, hid, None, make_picture("PNG"), "图.png")).json
    present = f"/api/hearings/{hid}/evidence/{pdf['id']}/present"

    # Not before the hearing is in session.
    assert_error(await api.request("POST", present, plaintiff["token"], json={"page": 1}), 409, "invalid_state")
    await start_hearing(api, hid, plaintiff, defendant, agent)
    assert (await api.act(hid, "start", token=judge["token"])).status == 200
    try:
        r = await api.request("POST", present, plaintiff["token"], json={"page": 2})
        assert r.status == 200, r.text
        assert r.json["presenting"]["exhibit"] == pdf["id"] and r.json["presenting"]["page"] == 2
        assert_error(await api.request("POST", present, plaintiff["token"], json={"page": 3}), 400, "invalid_page")
        assert_error(await api.request("POST", present, plaintiff["token"], json={"page": "1"}), 400)
        assert_error(await api.request("POST", present, api.admin_key, json={"page": 1}), 403)  # the clerk does not present
        assert_error(await api.request("POST", present, witness["token"], json={"page": 1}), 403)
        assert_error(await api.request("POST", f"/api/hearings/{hid}/evidence/{wav['id']}/present", plaintiff["token"],
                                       json={}), 400, "not_presentable")
        listing = await api.request("GET", f"/api/hearings/{hid}/evidence", judge["token"])
        assert listing.json["presenting"]["page"] == 2
        r = await api.request("POST", f"/api/hearings/{hid}/evidence/withdraw", judge["token"])
        assert r.status == 200 and r.json["presenting"] is None

        views = f"/api/hearings/{hid}/evidence/{pdf['id']}/views"
        body = {"authenticity": "admit", "relevance": "dispute", "lawfulness": "admit", "comment": "与本案无关"}
        r = await api.request("POST", views, agent["token"], json=body)
        assert r.status == 201, r.text
        assert r.json["side"] == "defendant" and r.json["relevance"] == "dispute" and r.json["comment"] == "与本案无关"
        assert (await api.request("POST", f"/api/hearings/{hid}/evidence/{court_pic['id']}/views", plaintiff["token"],
                                  json={"authenticity": "admit"})).status == 201
        assert_error(await api.request("POST", views, plaintiff["token"], json=body), 403, "own_exhibit")
        assert_error(await api.request("POST", views, api.admin_key, json=body), 403)
        assert_error(await api.request("POST", views, judge["token"], json=body), 403)
        assert_error(await api.request("POST", views, defendant["token"], json={"authenticity": "maybe"}), 400)
        assert_error(await api.request("POST", views, defendant["token"], json={}), 400)
        listed = await api.request("GET", views, plaintiff["token"])
        assert listed.status == 200 and [v["name"] for v in listed.json["views"]] == ["钱律师"]
        kinds = [e["kind"] for e in await api.events(hid)]
        assert {"evidence.present", "evidence.withdraw", "evidence.view"} <= set(kinds)
    finally:
        await api.act(hid, "close", token=judge["token"])
    assert_error(await api.request("POST", f"/api/hearings/{hid}/evidence/{pdf['id']}/views", defendant["token"],
                                   json={"authenticity": "admit"}), 409)
    # The record (庭审笔录) shows the exhibit presented and the view stated on it.
    record = await api.request("GET", f"/api/hearings/{hid}/transcript?format=txt", api.admin_key)
    assert record.status == 200, record.text
    assert "出示原告证据1，第2页" in record.text and "对原告证据1发表质证意见：真实性认可，关联性有异议" in record.text
    # Closing sealed the hearing: its event log and Merkle root are in the ledger.
    await asyncio.sleep(0.2)
    events_file = Path(api.server.data_dir) / "records" / hid / "events.jsonl"
    assert events_file.exists()
    lines = [json.loads(line) for line in events_file.read_text().splitlines()]
    assert any(e["kind"] == "hearing.close" for e in lines)
    r = await api.request("GET", f"/public/verify?sha256={hashlib.sha256(events_file.read_bytes()).hexdigest()}", None)
    assert r.json["deposited"] and r.json["entries"][0]["kind"] == "events"


# --- the content decides the type ------------------------------------------------------------------


def test_sniff_table() -> None:
    from courtroom.sniff import sniff

    mp3_frame = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413) + bytes([0xFF, 0xFB, 0x90, 0x64])
    cases = {
        make_pdf(1): "application/pdf",
        make_picture("PNG"): "image/png",
        make_picture("JPEG"): "image/jpeg",
        make_wav(): "audio/wav",
        b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(100): "audio/mpeg",
        mp3_frame: "audio/mpeg",
        b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00M4A isom" + bytes(16): "audio/mp4",
        b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41": "video/mp4",
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm" + bytes(20): "video/webm",
        b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska" + bytes(20): "video/x-matroska",
        b"OggS\x00\x02" + bytes(22) + b"\x01\x1evorbis": "audio/ogg",
        ELF: None,
        b"MZ\x90\x00" + bytes(60): None,
        b"PK\x03\x04" + bytes(30): None,
        b"#!/bin/sh\nrm -rf /\n": None,
        b"<html><script>alert(1)</script>": None,
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic": None,
        b"\xff\xfb": None,
        b"": None,
    }
    for data, expected in cases.items():
        assert sniff(data[:4096]) == expected, (data[:16], expected)


async def test_a_view_push_names_its_author_as_each_socket_may_see_them(shared_api: Api) -> None:
    """The defendant's agent states a view; the agent is protected and screened from the
    plaintiff: the plaintiff's socket gets the view under a role label, the judge's the name."""
    from courtroom.disclosure import role_label
    from courtroom.participants import Participant as Person
    from courtroom.roles import Role

    api = shared_api
    hearing, people = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("agent", "钱律师", "defendant"))
    hid = hearing["id"]
    judge, plaintiff, agent = people
    pdf = (await upload(api, hid, plaintiff["token"], make_pdf(1), "合同.pdf")).json
    await start_hearing(api, hid, plaintiff, agent)
    assert (await api.act(hid, "start", token=judge["token"])).status == 200
    r = await api.act(hid, "protect", token=judge["token"], participant=agent, screened_from=[plaintiff["id"]])
    assert r.status == 200, r.text
    sockets = {who: Participant(api.url, p["token"], None, None) for who, p in (("judge", judge), ("plaintiff", plaintiff))}
    try:
        for peer in sockets.values():
            await peer.connect()
            await peer.wait_for(lambda m: m["type"] == "state")
        body = {"authenticity": "dispute", "lawfulness": "admit", "relevance": "admit", "comment": "签名不是本人"}
        r = await api.request("POST", f"/api/hearings/{hid}/evidence/{pdf['id']}/views", agent["token"], json=body)
        assert r.status == 201, r.text
        seen = {who: (await peer.wait_for(lambda m: m["type"] == "evidence_view"))["view"] for who, peer in sockets.items()}
        label = role_label(Person(id=agent["id"], hearing_id=hid, name="钱律师", role=Role.AGENT, token_nonce="", side="defendant"))
        assert seen["judge"]["name"] == "钱律师"
        assert seen["plaintiff"]["name"] == label and "钱律师" not in json.dumps(seen["plaintiff"], ensure_ascii=False)
    finally:
        for peer in sockets.values():
            await peer.close()
