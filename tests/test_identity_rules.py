"""The identity rules as pure functions: the registered identity, the verdict, the status
derived from the events, and the lines of the hearing record."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from courtroom.database import open_database
from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.identity import (
    CHECK_IN,
    DEVICE,
    RECHECK,
    VERIFY,
    IdentityCheck,
    IdentityInputError,
    Registered,
    parse_registered,
    status_of,
    verdict,
)
from courtroom.identity_record import attendance_lines, identity_notes
from courtroom.participants import Participant
from courtroom.procedure import ProcedureKind
from courtroom.record import RECORD_TZ
from courtroom.roles import Role
from courtroom.storage import Store

_names = itertools.count()


def test_only_the_last_four_characters_of_the_number_are_kept() -> None:
    r = parse_registered({"id_type": "resident_id", "id_number": "110101 19900307 123x"}, "张三")
    assert r == Registered("张三", "resident_id", "123X")
    assert "19900307" not in repr(r) and "19900307" not in str(r.to_dict())
    assert parse_registered(None, "x") is None
    for bad in ({"id_type": "resident_id", "id_number": "12-34"}, {"id_type": "resident_id", "id_last4": "１２３４"},
                {"id_type": "resident_id", "id_last4": 1234}, {"id_type": "card", "id_last4": "1234"},
                {"id_type": "passport", "id_last4": "1234", "name": ""}, ["passport"]):
        with pytest.raises(IdentityInputError):
            parse_registered(bad, "张三")


def test_the_verdict_needs_a_reason_when_not_verified() -> None:
    assert verdict({"verified": True}) == {"verified": True, "reason": ""}
    assert verdict({"verified": False, "reason": " 不符 "}) == {"verified": False, "reason": "不符"}
    for bad in ({"verified": False}, {"verified": "yes"}, {}, {"verified": False, "reason": "a\u202eb"}):
        with pytest.raises(IdentityInputError):
            verdict(bad)


def _event(kind: str, subject: str, actor: str = "clerk", t: float = 1.0, **data: object) -> Event:
    return Event("h", kind, actor, subject, dict(data), t, 1_764_400_000.0 + t)


def test_the_status_follows_the_events() -> None:
    p = Participant("p1", "h", "张三", Role.PLAINTIFF, side="plaintiff")
    reg = Registered("张三", "resident_id", "1234")
    check = IdentityCheck("c1", "h", "p1", "a" * 64, 10)
    roles = ("plaintiff",)
    assert status_of(p, None, [], [], roles).required is False  # nothing registered: trusted link
    assert status_of(p, reg, [], [], roles).state == "not_checked_in"
    events = [_event(CHECK_IN, "p1", "p1")]
    assert status_of(p, reg, [check], events, roles).state == "checked_in"
    events.append(_event(VERIFY, "p1", "j1", 5.0, verified=True, reason=""))
    s = status_of(p, reg, [check], events, roles)
    assert s.verified and s.verified_by == "j1" and s.verified_hearing_time == 5.0
    events.append(_event(DEVICE, "p1", "p1", 6.0, device="x", new=True))
    assert status_of(p, reg, [check], events, roles).new_device
    events.append(_event(RECHECK, "p1", "j1", 7.0))
    s = status_of(p, reg, [check], events, roles)
    assert s.state == "recheck_requested" and not s.verified and s.own_dict()["recheck"]
    events.append(_event(CHECK_IN, "p1", "p1", 8.0))
    assert status_of(p, reg, [check], events, roles).state == "checked_in"
    assert status_of(p, reg, [check], events, ("defendant",)).required is False


def test_the_record_says_who_verified_whom_and_when() -> None:
    people = [Participant("p1", "h", "张三", Role.PLAINTIFF, side="plaintiff"), Participant("j1", "h", "王法官", Role.JUDGE)]
    events = [
        _event(VERIFY, "p1", "clerk", 3.0, verified=False, reason="照片\n不符"),
        _event(RECHECK, "p1", "j1", 4.0),
        _event(VERIFY, "p1", "j1", 62.0, verified=True, reason=""),
    ]
    notes = identity_notes(events, people)
    assert [n.text for n in notes] == [
        "（书记员核验原告张三的身份：未通过，理由：照片 不符）",
        "（审判长王法官要求原告张三重新核验身份）",
        "（审判长王法官核验原告张三的身份：属实）",
    ]
    lines = attendance_lines(notes, RECORD_TZ)
    assert lines[:2] == ["", "身份核验："]
    assert lines[2].startswith("原告张三：身份已核验（核验人：审判长王法官，2025年11月29日 ") and lines[2].endswith("）")
    assert len(lines) == 3
    assert attendance_lines([], RECORD_TZ) == []
    # A protected participant is named by role only (readers may be screened from them).
    people[0].protected = True
    assert identity_notes(events[-1:], people)[0].text == "（审判长王法官核验原告的身份：属实）"


@pytest.fixture(params=["sqlite", "postgres"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The store's connection on both engines of a court (the same SQL runs on each)."""
    if request.param == "sqlite":
        db = open_database(tmp_path)
    else:
        db = open_database(tmp_path, request.getfixturevalue("postgres").database_url(f"identity{next(_names)}"))
    yield db
    db.close()


def test_the_identity_store_on_both_engines(conn: Any) -> None:
    def work() -> None:
        store = Store.of(conn)
        store.hearings.create_hearing(Hearing("h1", "(2026)京0491民初1号", "t", ProcedureKind.SIMPLE, False, created_at=1.0))
        store.hearings.add_participant(Participant("p1", "h1", "张三", Role.PLAINTIFF, side="plaintiff", token_nonce="n", created_at=1.0))
        ids = store.identities
        ids.register("h1", "p1", Registered("张三", "resident_id", "123X"))
        assert ids.registered("h1") == {"p1": Registered("张三", "resident_id", "123X")}
        old = IdentityCheck("c1", "h1", "p1", "a" * 64, 10, "b" * 64, 20, "dev", {"ok": True, "名": 1}, 100.0)
        new = IdentityCheck("c2", "h1", "p1", "a" * 64, 10, created_at=time.time())
        ids.add_check(old)
        ids.add_check(new)
        assert ids.checks("h1") == [old, new]
        assert ids.expired(200.0) == [old]
        ids.mark_deleted("c1", 300.0)
        assert ids.expired(200.0) == [] and ids.checks("h1")[0].deleted_at == 300.0
        assert ids.still_used("h1", "a" * 64)  # c2 still holds the same snapshot
        assert not ids.still_used("h1", "b" * 64)

    conn.call(work)
