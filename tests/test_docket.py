"""A judge's docket: the clerk issues a standing link; it lists the judge's hearings of today
and the coming week, each with the console link; it opens nothing else; the clerk can revoke it,
on every pod at once."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from datetime import UTC
from pathlib import Path
from typing import Any

from courtroom.docket import docket, on_docket, window
from courtroom.hearing import Hearing
from courtroom.participants import Participant
from courtroom.procedure import HearingState, ProcedureKind
from courtroom.roles import Role

_names = itertools.count(1)


def _hearing(hid: str, scheduled_at: float | None, state: HearingState = HearingState.SCHEDULED) -> Hearing:
    return Hearing(hid, f"(2026)京0491民初{hid}号", "", ProcedureKind.SIMPLE, False, state=state, scheduled_at=scheduled_at)


def test_today_and_the_coming_week() -> None:
    now = time.time()
    start, end = window(now)
    assert start <= now < end and round((end - start) / 86400) == 8
    assert on_docket(_hearing("1", now + 3600))
    assert on_docket(_hearing("2", start + 7.5 * 86400))
    assert not on_docket(_hearing("3", start + 8.5 * 86400)), "beyond the coming week"
    assert not on_docket(_hearing("4", start - 3600)), "yesterday"
    assert on_docket(_hearing("5", start - 86400, HearingState.IN_SESSION)), "live now, whenever scheduled"
    assert not on_docket(_hearing("6", None, HearingState.CLOSED))
    judge = Participant("j", "1", "王建国", Role.JUDGE)
    other = Participant("k", "1", "李明", Role.JUDGE)
    listed = docket("王建国", [(_hearing("1", now + 7200), [judge]), (_hearing("7", now + 60), [other])])
    assert [e.hearing.id for e in listed] == ["1"]


async def test_standing_link_over_http(api: Any) -> None:
    soon = time.time() + 3600
    mine, (judge, party) = await api.hearing_with(("judge", "王建国"), ("plaintiff", "张三"), scheduled_at=soon)
    later, _ = await api.hearing_with(("judge", "王建国"), scheduled_at=soon + 3 * 86400)
    far, _ = await api.hearing_with(("judge", "王建国"), scheduled_at=soon + 30 * 86400)
    others, _ = await api.hearing_with(("judge", "李明"), scheduled_at=soon)

    # Only the clerk issues one; a bad body is a 400.
    denied = await api.request("POST", "/api/docket-links", judge["token"], json={"name": "王建国"})
    assert denied.status == 403, denied.text
    bad = await api.request("POST", "/api/docket-links", api.admin_key, json={"name": ""})
    assert (bad.status, bad.json["error"]) == (400, "invalid_field")
    issued = await api.request("POST", "/api/docket-links", api.admin_key, json={"name": "王建国"})
    assert issued.status == 201, issued.text
    assert issued.json["url"].startswith(f"{api.url}/docket#token=")
    token = issued.json["url"].split("#token=", 1)[1]

    got = await api.request("GET", "/api/docket", token)
    assert got.status == 200, got.text
    assert got.json["judge"] == "王建国"
    assert [h["id"] for h in got.json["hearings"]] == [mine["id"], later["id"]]
    first = got.json["hearings"][0]
    assert first["console_url"].startswith(f"{api.url}/console/{mine['id']}#token=")
    console_token = first["console_url"].split("#token=", 1)[1]
    assert (await api.get_hearing(mine["id"], console_token)).status == 200, "the link opens the console"

    # The standing link opens no hearing by itself; join tokens and nonsense are not docket links.
    assert (await api.get_hearing(mine["id"], token)).status == 401
    for wrong in (judge["token"], "garbage"):
        r = await api.request("GET", "/api/docket", wrong)
        assert (r.status, r.json["error"]) == (401, "bad_token"), r.text
    assert (await api.request("GET", "/api/docket", None)).status == 401
    page = await api.request("GET", "/docket", None)
    assert page.status == 200 and 'data-court-language="zh"' in page.text
    assert others["id"] not in str(got.json) and far["id"] not in str(got.json)


def test_the_docket_day_is_the_courts_day() -> None:
    """Today begins at midnight in the court's time zone, not the server's."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from courtroom.docket import on_docket
    from courtroom.hearing import Hearing
    from courtroom.procedure import ProcedureKind

    now = datetime(2026, 11, 29, 20, 0, tzinfo=UTC).timestamp()  # 04:00 on the 30th in Beijing
    late_yesterday = datetime(2026, 11, 29, 15, 0, tzinfo=UTC).timestamp()  # 23:00 on the 29th there
    hearing = Hearing(id="h", case_number="(2026)京0491民初1号", title="", procedure=ProcedureKind.SIMPLE, public=False,
                      created_at=now, scheduled_at=late_yesterday)
    assert on_docket(hearing, now, UTC)
    assert not on_docket(hearing, now, ZoneInfo("Asia/Shanghai"))


async def test_the_clerk_revokes_a_standing_link(api: Any) -> None:
    """A link works while it is the judge's current one: issuing again supersedes it, the clerk's
    DELETE revokes it (401 link_revoked at once); the hearings' own judge tokens are untouched."""
    mine, (judge,) = await api.hearing_with(("judge", "周立平"), scheduled_at=time.time() + 3600)

    async def issue(name: str) -> str:
        r = await api.request("POST", "/api/docket-links", api.admin_key, json={"name": name})
        assert r.status == 201, r.text
        return str(r.json["url"].split("#token=", 1)[1])

    async def docket_status(token: str) -> tuple[int, str]:
        r = await api.request("GET", "/api/docket", token)
        return r.status, r.json.get("error", "") if r.status != 200 else ""

    for bad in ("长" * 101, 42, None, "周\u200b立平", "  "):
        r = await api.request("POST", "/api/docket-links", api.admin_key, json={"name": bad})
        assert (r.status, r.json["error"]) == (400, "invalid_field"), (bad, r.text)
    stored = (await api.request("GET", "/api/docket-links", api.admin_key)).json["links"]
    assert not [x for x in stored if x["name"] in ("长" * 101, "周\u200b立平", "周立平")], "nothing stored"
    first = await issue("周立平")
    assert await docket_status(first) == (200, "")
    second = await issue("周立平")
    assert await docket_status(first) == (401, "link_revoked"), "issuing again supersedes the old link"
    got = await api.request("GET", "/api/docket", second)
    assert got.status == 200 and [h["id"] for h in got.json["hearings"]] == [mine["id"]]
    console_token = got.json["hearings"][0]["console_url"].split("#token=", 1)[1]
    other = await issue("吴敏")

    # Only the clerk revokes: a judge's join token is refused, a docket link is no credential.
    for token, status in ((judge["token"], 403), (second, 401), (None, 401)):
        r = await api.request("DELETE", "/api/docket-links/周立平", token)
        assert r.status == status, r.text
    assert await docket_status(second) == (200, ""), "a refused revocation changed nothing"
    # Unknown names are 404, bad names 400; nothing changes.
    r = await api.request("DELETE", "/api/docket-links/无此人", api.admin_key)
    assert (r.status, r.json["error"]) == (404, "not_found"), r.text
    r = await api.request("DELETE", "/api/docket-links/" + "长" * 101, api.admin_key)
    assert (r.status, r.json["error"]) == (400, "invalid_field"), r.text
    r = await api.request("DELETE", "/api/docket-links/%E2%80%8B%E5%91%A8", api.admin_key)  # a zero-width space
    assert (r.status, r.json["error"]) == (400, "invalid_field"), r.text
    assert await docket_status(second) == (200, "")

    revoked = await api.request("DELETE", "/api/docket-links/周立平", api.admin_key)
    assert revoked.status == 200, revoked.text
    assert revoked.json["name"] == "周立平" and revoked.json["active"] is False and revoked.json["revoked_at"]
    assert "nonce" not in revoked.json
    assert await docket_status(second) == (401, "link_revoked")
    again = await api.request("DELETE", "/api/docket-links/周立平", api.admin_key)
    assert again.status == 200 and again.json["revoked_at"] == revoked.json["revoked_at"], "revoking twice is harmless"
    assert await docket_status(other) == (200, ""), "another judge's link lives on"
    # The hearing's own judge token the docket handed out is that hearing's join token: still valid.
    assert (await api.get_hearing(mine["id"], console_token)).status == 200

    # The clerk's list: every judge's link, live or revoked, and never a token or nonce.
    listed = await api.request("GET", "/api/docket-links", api.admin_key)
    assert listed.status == 200, listed.text
    by_name = {link["name"]: link for link in listed.json["links"]}
    assert by_name["周立平"]["active"] is False and by_name["吴敏"]["active"] is True
    assert "nonce" not in listed.text and second not in listed.text
    assert (await api.request("GET", "/api/docket-links", judge["token"])).status == 403

    # A new link after revocation works again; the revoked one stays dead.
    third = await issue("周立平")
    assert await docket_status(third) == (200, "") and await docket_status(second) == (401, "link_revoked")


async def test_a_revocation_holds_on_every_pod_and_fails_closed(postgres: Any, server_factory: Any, api_factory: Any,
                                                                 tmp_path: Path) -> None:
    """Two pods on one PostgreSQL: a link issued on one is revoked on the other and refused by
    both at once. While the database is away the docket is not served (503, never a revoked
    link's hearings) and a revocation is refused, not lost; afterwards it goes through."""
    url = postgres.database_url(f"docket{next(_names)}")
    first = await server_factory("--database", url, data_dir=tmp_path / "pod1")
    (tmp_path / "pod2").mkdir()
    shutil.copy(first.data_dir / "secret.key", tmp_path / "pod2" / "secret.key")  # one court, one link key
    second = await server_factory("--database", url, data_dir=tmp_path / "pod2", admin_key=first.admin_key)
    one, two = api_factory(first), api_factory(second)
    await one.hearing_with(("judge", "郑怡"), scheduled_at=time.time() + 3600)

    issued = await one.request("POST", "/api/docket-links", one.admin_key, json={"name": "郑怡"})
    token = issued.json["url"].split("#token=", 1)[1]
    for api in (one, two):
        got = await api.request("GET", "/api/docket", token)
        assert got.status == 200 and len(got.json["hearings"]) == 1, got.text

    await asyncio.to_thread(postgres.stop)
    try:
        for api in (one, two):
            r = await api.request("GET", "/api/docket", token)
            assert (r.status, r.json["error"]) == (503, "store_unavailable"), r.text
        r = await two.request("DELETE", "/api/docket-links/郑怡", two.admin_key)
        assert (r.status, r.json["error"]) == (503, "store_unavailable"), r.text
    finally:
        await asyncio.to_thread(postgres.start)

    async def docket_status(api: Any) -> int:
        r = await api.request("GET", "/api/docket", token)
        return int(r.status)

    # The pods reconnect by themselves; the refused revocation changed nothing.
    for _ in range(60):  # up to 30 s
        if await docket_status(one) == 200:
            break
        await asyncio.sleep(0.5)
    assert await docket_status(one) == 200 and await docket_status(two) == 200
    revoked = await two.request("DELETE", "/api/docket-links/郑怡", two.admin_key)
    assert revoked.status == 200, revoked.text
    for api in (one, two):
        r = await api.request("GET", "/api/docket", token)
        assert (r.status, r.json["error"]) == (401, "link_revoked"), r.text
    listed = await one.request("GET", "/api/docket-links", one.admin_key)
    assert [(x["name"], x["active"]) for x in listed.json["links"]] == [("郑怡", False)]
    assert "Traceback" not in first.log() + second.log()
