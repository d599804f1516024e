"""Hostile multipart bodies on the upload routes: each gets a clear 4xx, no temporary file is
left behind, nothing is filed, and the server lives on."""

from __future__ import annotations

import pytest
from test_evidence import leftovers, make_pdf

from tests.conftest import Api, CourtroomServer, assert_error
from tests.hostile import CASES

B = "X7"
PDF = make_pdf(1)


def part(name: str = "file", filename: str | None = "a.pdf", body: bytes = PDF, extra: str = "") -> bytes:
    disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
    return f"--{B}\r\nContent-Disposition: {disp}\r\n{extra}Content-Type: application/pdf\r\n\r\n".encode() + body + b"\r\n"


END = f"--{B}--\r\n".encode()

BODIES: list[tuple[str, bytes, str]] = [
    ("no parts at all", END, "missing_file"),
    ("empty body", b"", "malformed_multipart"),
    ("truncated in the file", part()[:200], "malformed_multipart"),
    ("no closing boundary", part(), "malformed_multipart"),
    ("another boundary", part().replace(B.encode(), b"ZZ") + b"--ZZ--\r\n", "malformed_multipart"),
    ("nested multipart", f"--{B}\r\nContent-Type: multipart/mixed; boundary=IN\r\n\r\n--IN\r\n\r\nx\r\n--IN--\r\n\r\n".encode() + END,
     "malformed_multipart"),
    ("base64 transfer encoding", part(extra="Content-Transfer-Encoding: base64\r\n") + END, "malformed_multipart"),
    ("gzip content encoding", part(extra="Content-Encoding: gzip\r\n") + END, "malformed_multipart"),
    ("an unknown part", part(name="evil") + END, "invalid_field"),
    ("a text field that is not UTF-8", part() + part(name="label", filename=None, body=b"\xff\xfe") + END, "invalid_field"),
    ("a text field of 10 KB", part() + part(name="label", filename=None, body=b"a" * 10_000) + END, "invalid_field"),
    ("a zero-byte file", part(body=b"") + END, "empty_file"),
    ("a thousand empty parts", part(name="evil", body=b"") * 1000 + END, "invalid_field"),
    ("a header line of 100 KB", f"--{B}\r\nX-Pad: {'a' * 100_000}\r\n".encode() + part()[len(B) + 4:] + END, ""),
]


@pytest.mark.parametrize(("what", "body", "code"), BODIES, ids=[b[0] for b in BODIES])
async def test_hostile_multipart_is_refused_cleanly(shared_api: Api, module_server: CourtroomServer,
                                                    what: str, body: bytes, code: str) -> None:
    hearing, (plaintiff,) = await shared_api.hearing_with(("plaintiff", "张三"))
    for path, token in ((f"/api/hearings/{hearing['id']}/evidence", plaintiff["token"]), ("/public/verify", None)):
        reply = await shared_api.request("POST", path, token, data=body,
                                         headers={"Content-Type": f"multipart/form-data; boundary={B}"})
        if path == "/public/verify" and code in ("invalid_field", "empty_file"):
            # The verification form takes one file and nothing else; an empty one is just not deposited.
            assert reply.status in (200, 400), (what, reply.status, reply.text)
        else:
            assert 400 <= reply.status < 500, (what, path, reply.status, reply.text[:200])
            if reply.json is not None:
                assert_error(reply, reply.status, code or None)
        assert "Traceback" not in reply.text
        CASES["multipart"] += 1
    assert leftovers(module_server) == []
    listed = await shared_api.request("GET", f"/api/hearings/{hearing['id']}/evidence", shared_api.admin_key)
    assert listed.status == 200 and listed.json["exhibits"] == []


@pytest.mark.parametrize("filename", ["../../etc/passwd", "a\x00b.pdf", "C:\\\\Windows\\\\x.pdf", "%2e%2e%2fx.pdf",
                                      "\u202egnp.pdf", "x" * 5000 + ".pdf"])
async def test_hostile_file_names_never_reach_the_disk_or_a_header(shared_api: Api, module_server: CourtroomServer,
                                                                    filename: str) -> None:
    hearing, (plaintiff,) = await shared_api.hearing_with(("plaintiff", "张三"))
    hid = hearing["id"]
    body = part(filename=filename) + END
    reply = await shared_api.request("POST", f"/api/hearings/{hid}/evidence", plaintiff["token"], data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={B}"})
    assert reply.status in (201, 400), reply.text[:300]
    assert "Traceback" not in reply.text
    if reply.status == 201:
        exhibit = reply.json
        stored = module_server.data_dir / "evidence" / exhibit["sha256"]
        assert stored.is_file()
        got = await shared_api.request("GET", f"/api/hearings/{hid}/evidence/{exhibit['id']}/file", shared_api.admin_key)
        assert got.status == 200
        disposition = got.headers["Content-Disposition"]
        assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition
        assert "../" not in disposition.split("filename*=")[0]
    assert not (module_server.data_dir.parent / "etc").exists()
    assert leftovers(module_server) == []
    CASES["multipart"] += 1
