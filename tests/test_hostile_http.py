"""Hostile HTTP input: every route answers a clear 4xx, never a 500, and the server lives on.

Each class of finding of issue 16 is here: header bytes that are not UTF-8, JSON nested
1,000 deep, numbers that are not finite or overflow SQLite, integers in the URL past 64 bits.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import Api, assert_error
from tests.hostile import CASES, assert_edge_error, head, nested, raw_json, raw_request

pytestmark = pytest.mark.asyncio

BAD_AUTH = [
    b"Bearer \xff\xfe\xfd",  # not UTF-8 at all
    b"Bearer \xc3\x28",  # a broken UTF-8 sequence
    b"Bearer caf\xe9",  # Latin-1
    "Bearer 王法官".encode(),  # UTF-8, but not ASCII
    b"Bearer " + b"k" * 5000,  # longer than any credential
]


async def _routes(api: Api) -> list[tuple[str, str]]:
    hearing, _ = await api.hearing_with(("judge", "王法官"))
    h = hearing["id"]
    return [
        ("GET", "/api/hearings"),
        ("POST", "/api/hearings"),
        ("GET", f"/api/hearings/{h}"),
        ("POST", f"/api/hearings/{h}/participants"),
        ("POST", f"/api/hearings/{h}/actions"),
        ("GET", f"/api/hearings/{h}/events"),
        ("GET", f"/api/hearings/{h}/stats"),
        ("GET", f"/api/hearings/{h}/transcript"),
        ("GET", f"/api/hearings/{h}/record"),
        ("GET", f"/api/hearings/{h}/evidence"),
        ("GET", "/metrics"),
    ]


async def test_authorization_bytes_that_are_not_utf8_are_401(module_server, shared_api: Api) -> None:
    for method, path in await _routes(shared_api):
        for auth in BAD_AUTH:
            reply = await raw_request(module_server.port, head(method, path, b"Authorization: " + auth,
                                                                body_length=2), b"{}")
            assert_edge_error(reply, 401)
            CASES["http header bytes"] += 1
    # Control bytes are refused by aiohttp's own parser, before any handler: a 400 too.
    for auth in (b"Bearer a\x7fb", b"Bearer a\x00b"):
        reply = await raw_request(module_server.port, head("GET", "/api/hearings", b"Authorization: " + auth))
        assert reply.status == 400 and b"Traceback" not in reply.body
        CASES["http header bytes"] += 1
    # The clerk's key still works on the same server.
    assert (await shared_api.request("GET", "/api/hearings", shared_api.admin_key)).status == 200


async def test_json_nested_deep_is_400_on_every_json_route(module_server, shared_api: Api) -> None:
    hearing, people = await shared_api.hearing_with(("judge", "王法官"))
    h = hearing["id"]
    key = shared_api.admin_key.encode()
    routes = [
        ("POST", "/api/hearings"),
        ("POST", f"/api/hearings/{h}/participants"),
        ("POST", f"/api/hearings/{h}/actions"),
        ("PATCH", f"/api/hearings/{h}/transcript/1"),
        ("POST", f"/api/hearings/{h}/record/confirm"),
        ("POST", f"/api/hearings/{h}/evidence/withdraw"),
        ("POST", f"/api/hearings/{h}/evidence/x/present"),
        ("POST", f"/api/hearings/{h}/evidence/x/views"),
    ]
    bodies = [
        nested(1000),
        '{"a":' * 1000 + "1" + "}" * 1000,
        '{"case_number": ' + nested(33) + "}",
        "[" * 20000,  # never closed
    ]
    for method, path in routes:
        for body in bodies:
            reply = await raw_json(module_server.port, method, path, b"Bearer " + key, body.encode())
            assert reply.status in (400, 403), (path, reply.status, reply.body[:200])
            assert_edge_error(reply, reply.status)
            CASES["http json depth"] += 1
    # 32 levels are fine: the limit is about abuse, not about ordinary bodies.
    ok = await shared_api.request("POST", "/api/hearings", shared_api.admin_key,
                                  json={"case_number": "(2026)京0491民初77号", "x": json.loads(nested(31))})
    assert ok.status == 201, ok.text


@pytest.mark.parametrize("value", ["1e999", "-1e999", "NaN", "Infinity", "-Infinity", "1e300", "-5", "true",
                                   "99999999999999999999999", "1" * 5000, '"2026-01-01"'])
async def test_scheduled_at_must_be_finite_and_in_range(module_server, shared_api: Api, value: str) -> None:
    body = '{"case_number": "(2026)京0491民初88号", "scheduled_at": ' + value + "}"
    reply = await raw_json(module_server.port, "POST", "/api/hearings",
                           b"Bearer " + shared_api.admin_key.encode(), body.encode())
    assert_edge_error(reply, 400)
    CASES["http numbers"] += 1
    # Nothing was stored that would break the docket: every answer is strict JSON.
    docket = await shared_api.request("GET", "/api/hearings", shared_api.admin_key)
    assert docket.status == 200
    json.loads(docket.text, parse_constant=lambda c: pytest.fail(f"{c} in the docket"))
    for h in docket.json["hearings"]:
        assert h["scheduled_at"] is None or math.isfinite(h["scheduled_at"])


async def test_a_real_scheduled_time_is_kept(shared_api: Api) -> None:
    hearing = await shared_api.create_hearing(scheduled_at=1_800_000_000.5)
    assert hearing["scheduled_at"] == 1_800_000_000.5


@pytest.mark.parametrize("after", ["99999999999999999999999", "9223372036854775808", "-1", "1.5", "abc", "١٢٣",
                                   "1e3", "", "0x10", "9" * 5000])
async def test_integer_query_parameters_are_bounded(shared_api: Api, after: str) -> None:
    hearing, _ = await shared_api.hearing_with(("judge", "王法官"))
    reply = await shared_api.request("GET", f"/api/hearings/{hearing['id']}/events?after={after}", shared_api.admin_key)
    assert_error(reply, 400, "invalid_field")
    CASES["http url integers"] += 1


@pytest.mark.parametrize("segment", ["99999999999999999999", "9223372036854775808", "-1", "٣", "1e9"])
async def test_integer_path_parameters_are_bounded(shared_api: Api, segment: str) -> None:
    hearing, _ = await shared_api.hearing_with(("judge", "王法官"))
    h = hearing["id"]
    for method, path in (("GET", f"/api/hearings/{h}/transcript/{segment}/history"),
                         ("PATCH", f"/api/hearings/{h}/transcript/{segment}")):
        reply = await shared_api.request(method, path, shared_api.admin_key, json={"text": "x"})
        assert_error(reply, 400, "invalid_segment")
        CASES["http url integers"] += 1
    # The largest id that fits is simply not found.
    reply = await shared_api.request("GET", f"/api/hearings/{h}/transcript/9223372036854775807/history",
                                     shared_api.admin_key)
    assert reply.status == 404, reply.text


async def test_the_server_lived_through_it_all(module_server, shared_api: Api) -> None:
    assert (await shared_api.request("GET", "/healthz", None)).status == 200
    assert "Traceback" not in module_server.log()
