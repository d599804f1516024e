"""One store suite, run on both engines: the embedded SQLite file and a real PostgreSQL.

Every part of `courtroom.storage.Store` (hearings, segments, ledger, exhibits, records,
identities, leases, docket links) and its `transaction()`, with the failure paths: NotFound, Conflict on a
duplicate key, a rolled-back transaction leaving nothing. Writers on two connections (two
pods; two processes on one SQLite file) keep one ledger chain, number exhibits once per side,
and of two lease claimers exactly one wins.

PostgreSQL is the private cluster the session's `postgres` fixture starts; each test gets a
database of its own. A last test keeps the rule that every SQL statement lives in the store.
"""

from __future__ import annotations

import ast
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from courtroom.auth import TokenSigner
from courtroom.config import Config
from courtroom.court import Actor, Court
from courtroom.database import Database, open_database
from courtroom.docket import DocketLink
from courtroom.events import Event
from courtroom.evidence import Duplicate, EvidenceStore, Exhibit
from courtroom.hearing import Hearing
from courtroom.identity import IdentityCheck, Registered
from courtroom.leases import HeldElsewhere, Lease, Leases
from courtroom.ledger import ZERO_HASH, Ledger, LedgerEntry
from courtroom.participants import Participant, ParticipantState, WitnessState
from courtroom.procedure import ActionRefused, HearingState, ProcedureKind
from courtroom.record_lifecycle import RecordState
from courtroom.roles import Role
from courtroom.storage import Conflict, NotFound, Store
from courtroom.transcript import TranscriptService

ROOT = Path(__file__).resolve().parent.parent
CASE = "(2026)京0491民初1234号"
_names = itertools.count(1)


class Backend:
    """One court database on one engine; `open()` gives another connection to it (another pod)."""

    def __init__(self, kind: str, folder: Path, url: str) -> None:
        self.kind, self.folder, self.url = kind, folder, url
        self.opened: list[Database] = []
        self.db = self.open()
        self.store = Store.of(self.db)

    def open(self) -> Database:
        db = open_database(self.folder, self.url)
        self.opened.append(db)
        return db

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """On the database thread, as the server runs the store."""
        return self.db.call(fn, *args)

    def close(self) -> None:
        for db in self.opened:
            db.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    url = "" if request.param == "sqlite" else request.getfixturevalue("postgres").database_url(f"suite{next(_names)}")
    b = Backend(request.param, tmp_path, url)
    yield b
    b.close()


def _hearing(hid: str = "h1", **kw: Any) -> Hearing:
    values: dict[str, Any] = dict(id=hid, case_number=CASE, title="张三诉李四 🏛️", procedure=ProcedureKind.ORDINARY,
                                  public=True, court="北京互联网法院", created_at=1764460000.123456,
                                  extra={"parts": ["a.mp4"], "名": 1})
    values.update(kw)
    return Hearing(**values)


def _participant(pid: str, hid: str = "h1", role: Role = Role.WITNESS, **kw: Any) -> Participant:
    values: dict[str, Any] = dict(id=pid, hearing_id=hid, name="陈五", role=role, token_nonce="nonce-" + pid,
                                  created_at=time.time(),
                                  witness_state=WitnessState.ISOLATED if role is Role.WITNESS else None)
    values.update(kw)
    return Participant(**values)


def _with_people(store: Store, hid: str = "h1") -> None:
    store.hearings.create_hearing(_hearing(hid))
    store.hearings.add_participant(_participant(f"{hid}-p", hid, Role.PLAINTIFF, name="张三", side="plaintiff"))
    store.hearings.add_participant(_participant(f"{hid}-d", hid, Role.DEFENDANT, name="李四", side="defendant"))


def _exhibit(eid: str, side: str, number: int, hid: str = "h1", sha: str = "") -> Exhibit:
    return Exhibit(eid, hid, "clerk", side, number, f"{side}{number}", "借条.pdf", "application/pdf",
                   sha or f"{number:064x}", 10, 1, time.time())


class _Boom(Exception):
    pass


# --- hearings, participants, events ------------------------------------------------------------


def test_hearings_round_trip_keeps_every_field(backend: Backend) -> None:
    rows = backend.store.hearings
    hearing = _hearing(state=HearingState.RECESS, opened_at=123.5, started_at=2.25, broadcast=True,
                       ever_broadcast=True, scheduled_at=100.0)
    witness = _participant("w1", muted=True, protected=True, screened_from=["p2"])
    agent = _participant("p2", role=Role.AGENT, name="李律师", side="defendant", state=ParticipantState.ADMITTED,
                         hand_raised=True, self_muted=True)

    def work() -> None:
        rows.create_hearing(hearing)
        rows.add_participant(witness)
        rows.add_participant(agent)
        first = rows.append_event(Event("h1", "hearing.open", "clerk", None, {"名字": "王"}, 0.0, 1764460000.654321))
        second = rows.append_event(Event("h1", "participant.mute", "j1", "w1", {}, 1.5, 2.0))
        assert rows.get_hearing("h1") == hearing  # wall times keep their microseconds on both engines
        assert rows.get_participant("w1") == witness
        assert sorted(p.id for p in rows.list_participants("h1")) == ["p2", "w1"]
        assert second.seq > first.seq > 0
        assert [(e.kind, e.data, e.wall_time) for e in rows.list_events("h1")] == [
            ("hearing.open", {"名字": "王"}, 1764460000.654321), ("participant.mute", {}, 2.0)]
        assert [e.kind for e in rows.list_events("h1", after=first.seq)] == ["participant.mute"]
        assert rows.case_number("h1") == CASE and rows.case_number("nope") is None
        assert [h.id for h in rows.list_hearings()] == ["h1"]
        assert rows.extras() == {"h1": '{"parts": ["a.mp4"], "名": 1}'}
        hearing.title, witness.name = "改名", "陈六"
        rows.save_hearing(hearing)
        rows.save_participant(witness)
        assert rows.get_hearing("h1").title == "改名" and rows.get_participant("w1").name == "陈六"

    backend.call(work)


def test_hearings_failure_paths(backend: Backend) -> None:
    rows = backend.store.hearings
    backend.call(rows.create_hearing, _hearing())
    backend.call(rows.add_participant, _participant("w1"))
    with pytest.raises(NotFound, match="no hearing nope"):
        backend.call(rows.get_hearing, "nope")
    with pytest.raises(NotFound, match="no participant nope"):
        backend.call(rows.get_participant, "nope")
    with pytest.raises(Conflict, match="hearing h1 exists"):
        backend.call(rows.create_hearing, _hearing(title="another"))
    with pytest.raises(Conflict, match="participant w1 exists"):
        backend.call(rows.add_participant, _participant("w1", name="someone else"))
    # Nothing of the refused rows was stored, and the connection goes on working.
    assert backend.call(rows.get_hearing, "h1").title == "张三诉李四 🏛️"
    assert backend.call(rows.get_participant, "w1").name == "陈五"
    backend.call(rows.add_participant, _participant("w2"))


def test_a_change_is_all_or_nothing(backend: Backend) -> None:
    rows = backend.store.hearings
    backend.call(rows.create_hearing, _hearing())
    backend.call(rows.add_participant, _participant("w1"))
    changed = _hearing(state=HearingState.OPEN, opened_at=5.0)
    muted = _participant("w1", muted=True)
    bad = Event("h1", "x", None, None, {"not json": object()}, 0.0, 0.0)
    with pytest.raises(TypeError):
        backend.call(rows.commit_change, changed, [muted], [Event("h1", "ok", None, None, {}, 0, 0), bad])
    assert backend.call(rows.get_hearing, "h1").state is HearingState.SCHEDULED
    assert backend.call(rows.get_participant, "w1").muted is False
    assert backend.call(rows.list_events, "h1") == []
    assert not backend.store.in_transaction
    backend.call(rows.commit_change, changed, [muted], [Event("h1", "ok", None, None, {}, 0, 0)])
    assert backend.call(rows.get_hearing, "h1").state is HearingState.OPEN
    assert [e.kind for e in backend.call(rows.list_events, "h1")] == ["ok"]


# --- transactions across parts -------------------------------------------------------------------


def test_a_rolled_back_transaction_leaves_nothing_in_any_part(backend: Backend) -> None:
    store = backend.store
    ledger = Ledger(store)

    def work() -> None:
        with store.transaction():
            _with_people(store)
            store.hearings.append_event(Event("h1", "hearing.create", "clerk"))
            store.segments.insert("h1", "h1-p", "plaintiff", "张三", "我方请求", 1.0, 2.0, [], "vosk", 1.0)
            ledger.deposit("exhibit", "h1", "原告证据1", "a" * 64, 1)
            store.exhibits.insert(_exhibit("e1", "plaintiff", 1))
            store.records.set_state("h1", RecordState.REVIEW)
            store.records.add_version("h1", "b" * 64, "笔录", "system", "")
            store.identities.register("h1", "h1-p", Registered("张三", "resident_id", "123X"))
            store.leases.put(Lease("h1", "pod-1", 10.0), existed=False)
            raise _Boom

    with pytest.raises(_Boom):
        backend.call(work)

    def nothing() -> None:
        assert not store.in_transaction
        assert store.hearings.list_hearings() == [] and store.hearings.list_events("h1") == []
        assert store.segments.of_hearing("h1") == [] and store.ledger.all() == []
        assert store.exhibits.of_hearing("h1") == [] and store.records.get_state("h1") is None
        assert store.records.versions("h1") == [] and store.identities.registered("h1") == {}
        assert store.leases.get("h1") is None

    backend.call(nothing)


def test_a_nested_transaction_joins_the_outer_one(backend: Backend) -> None:
    store = backend.store

    def work() -> None:
        with store.transaction():
            store.hearings.create_hearing(_hearing())
            with store.transaction():  # a part's own all-or-nothing method inside a larger change
                store.hearings.append_event(Event("h1", "inner", "clerk"))
            assert store.in_transaction  # the inner block did not commit
            raise _Boom

    with pytest.raises(_Boom):
        backend.call(work)
    assert backend.call(store.hearings.list_hearings) == []
    assert backend.call(store.hearings.list_events, "h1") == []


# --- segments, edits -----------------------------------------------------------------------------


def test_segments_insert_correct_and_history(backend: Backend) -> None:
    rows = backend.store.segments

    def work() -> None:
        _with_people(backend.store)
        words = [{"word": "我方", "start": 1.0, "end": 1.4, "conf": 0.9}]
        first = rows.insert("h1", "h1-p", "plaintiff", "张三", "我方请求", 1.0, 2.5, words, "vosk", 100.0)
        second = rows.insert("h1", "h1-d", "defendant", "李四", "不同意", 0.5, 0.9, [], "", 101.0)
        assert second.id > first.id > 0
        assert [s.id for s in rows.of_hearing("h1")] == [second.id, first.id]  # by start time
        assert rows.of_hearing("h1", [first.id]) == [first] and rows.of_hearing("h1", []) == []
        assert rows.of_hearing("h1", [first.id])[0].words == words
        assert rows.hearing_of(first.id) == "h1" and rows.hearing_of(999_999) is None

        rows.update(first.id, text="我方请求三万元", end=3.0, words=[])
        a = rows.add_edit(first.id, "asr.record", "text", "我方请求", "我方请求三万元", 200.0)
        rows.update(first.id, participant_id="h1-d", role="defendant", name="李四")
        b = rows.add_edit(first.id, "clerk", "speaker", "h1-p", "h1-d", 201.0)
        stored = rows.of_hearing("h1", [first.id])[0]
        assert (stored.text, stored.end, stored.words, stored.participant_id, stored.role, stored.name) == (
            "我方请求三万元", 3.0, [], "h1-d", "defendant", "李四")
        assert rows.history(first.id) == [a, b] and b.id > a.id
        assert rows.edits("h1") == [a, b]
        assert rows.edits("h1", except_editor="asr.record") == [b]
        assert rows.edits("h1", [second.id]) == [] and rows.edits("other") == []
        with pytest.raises(ValueError, match="not a segment column: hearing_id"):
            rows.update(first.id, hearing_id="h2")
        with pytest.raises(ValueError):
            rows.update(first.id)

    backend.call(work)


async def test_the_transcript_corrects_through_the_store(backend: Backend, tmp_path: Path) -> None:
    court = Court(Config(data_dir=tmp_path / "pod"), backend.db, TokenSigner("k" * 32, 3600))
    hearing = await court.create_hearing({"case_number": CASE, "title": "t", "procedure": "simple"}, Actor.clerk())
    person, _ = await court.add_participant(hearing.id, {"name": "张三", "role": "plaintiff"}, Actor.clerk())
    transcript = TranscriptService(court)
    first = await transcript.add_final(hearing.id, person.id, "我方请求被告支付货款", 1.0, 3.5)
    second = await transcript.add_final(hearing.id, person.id, "以及利息", 4.0, 5.25)
    assert first is not None and second is not None and second.id > first.id > 0
    await transcript.correct(hearing.id, first.id, Actor.clerk(), text="我方请求被告支付货款三万元")
    segments = await transcript.segments(hearing.id)
    assert [(s.text, s.start, s.end, s.edited) for s in segments] == [
        ("我方请求被告支付货款三万元", 1.0, 3.5, True), ("以及利息", 4.0, 5.25, False)]
    assert [s.text for s in await transcript.segments(hearing.id, corrected=False)][0] == "我方请求被告支付货款"
    history = await transcript.history(first.id, hearing.id)
    assert [(h.before, h.after) for h in history] == [("我方请求被告支付货款", "我方请求被告支付货款三万元")]
    with pytest.raises(NotFound):
        await transcript.history(first.id, "another-hearing")
    # A corrected turn is not replaced by the record engine's reading: the officer's word wins.
    assert await transcript.replace_with_reading(hearing.id, [first.id, second.id], "全新", 1.0, 5.0) == []
    assert [s.text for s in await transcript.segments(hearing.id)][1] == "以及利息"


# --- the ledger ----------------------------------------------------------------------------------


def test_ledger_append_and_chain(backend: Backend) -> None:
    ledger = Ledger(backend.store, backend.folder)

    def work() -> None:
        for n in range(5):
            ledger.deposit("exhibit", "h1" if n % 2 else "h2", f"证据{n}.pdf", f"{n:064x}", n)
        entries = ledger.entries()
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
        assert entries[0].prev_hash == ZERO_HASH and all(b.prev_hash == a.entry_hash for a, b in zip(entries, entries[1:], strict=False))
        assert ledger.check().ok
        assert [e.seq for e in ledger.entries("h1")] == [2, 4]
        assert ledger.find(f"{3:064x}")[0].name == "证据3.pdf" and ledger.find("f" * 64) == []
        assert [e.seq for e in ledger.range(2, 4)] == [2, 3, 4] and ledger.get(9) is None
        assert ledger.last() == entries[-1]

    backend.call(work)


def test_ledger_duplicate_seq_and_rolled_back_deposit(backend: Backend) -> None:
    ledger = Ledger(backend.store, backend.folder)
    first = backend.call(ledger.deposit, "exhibit", "h1", "a.pdf", "a" * 64, 1)
    clash = LedgerEntry(1, "exhibit", "h1", "b.pdf", "b" * 64, 2, 1.0, ZERO_HASH, "c" * 64)
    with pytest.raises(Conflict, match="ledger entry 1 exists"):
        backend.call(backend.store.ledger.insert, clash)

    def deposit_then_fail() -> None:
        with ledger.transaction():
            ledger.deposit("exhibit", "h1", "c.pdf", "c" * 64, 3)
            raise _Boom

    with pytest.raises(_Boom):
        backend.call(deposit_then_fail)
    assert backend.call(ledger.entries) == [first]
    assert '"seq": 1' in (backend.folder / "ledger.head").read_text()  # the head did not move either
    assert backend.call(ledger.check).ok


def test_concurrent_appends_from_two_connections_keep_one_chain(backend: Backend) -> None:
    """Two pods (or two processes on one SQLite file) deposit at once: one unbroken chain."""
    pods = [backend.open(), backend.open()]
    errors: list[BaseException] = []

    def deposit_many(db: Database, pod: int) -> None:
        try:
            ledger = Ledger(Store.of(db))
            for n in range(25):
                db.call(ledger.deposit, "exhibit", f"h{pod}", f"pod{pod}-{n}", f"{pod}{n:063x}", n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deposit_many, args=(db, i)) for i, db in enumerate(pods)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    ledger = Ledger(backend.store)
    assert backend.call(ledger.check).ok
    entries = backend.call(ledger.entries)
    assert [e.seq for e in entries] == list(range(1, 51))
    assert {e.hearing_id for e in entries} == {"h0", "h1"}


# --- exhibits ------------------------------------------------------------------------------------


def test_exhibits_numbered_once_per_side(backend: Backend) -> None:
    rows = backend.store.exhibits

    def work() -> None:
        _with_people(backend.store)
        assert rows.next_number("h1", "plaintiff") == 1
        rows.insert(_exhibit("e1", "plaintiff", 1, sha="a" * 64))
        rows.insert(_exhibit("e2", "defendant", 1, sha="b" * 64))
        assert rows.next_number("h1", "plaintiff") == 2 and rows.next_number("h1", "court") == 1
        assert rows.next_number("h2", "plaintiff") == 1
        with pytest.raises(Conflict, match="plaintiff number 1"):
            rows.insert(_exhibit("e3", "plaintiff", 1))  # the same number on the same side
        with pytest.raises(Conflict):
            rows.insert(_exhibit("e1", "court", 1))  # the same id
        got = rows.get("h1", "e1")
        assert got is not None and (got.side, got.number, got.sha256) == ("plaintiff", 1, "a" * 64)
        assert rows.get("h2", "e1") is None and rows.get("h1", "nope") is None
        assert sorted(e.id for e in rows.of_hearing("h1")) == ["e1", "e2"]
        assert [e.id for e in rows.with_sha256("h1", "b" * 64)] == ["e2"] and rows.with_sha256("h2", "b" * 64) == []
        assert rows.referenced("a" * 64) and not rows.referenced("f" * 64)

    backend.call(work)


def test_two_pods_filing_at_once_number_each_side_once(backend: Backend) -> None:
    """The evidence rule reads the next number and inserts in one write transaction, with its
    ledger entry and its event: two pods filing at once never take one number twice."""
    backend.call(_with_people, backend.store)
    pods = [backend.open(), backend.open()]
    errors: list[BaseException] = []

    def file_many(db: Database, pod: int) -> None:
        store = Store.of(db)
        evidence = EvidenceStore(store, Ledger(store))
        try:
            for n in range(8):
                sha = f"{pod}{n:063x}"
                db.call(evidence.add, "h1", "clerk", "plaintiff", "", f"{sha}.pdf", "application/pdf", sha, 5, 1,
                        Event("h1", "evidence.add", "clerk", wall_time=time.time()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=file_many, args=(db, i)) for i, db in enumerate(pods)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    exhibits = backend.call(backend.store.exhibits.of_hearing, "h1")
    assert sorted(e.number for e in exhibits) == list(range(1, 17))
    ledger = Ledger(backend.store)
    assert backend.call(ledger.check).ok and len(backend.call(ledger.entries, "h1")) == 16
    assert len([e for e in backend.call(backend.store.hearings.list_events, "h1") if e.kind == "evidence.add"]) == 16

    # The same bytes twice, and a closed hearing: refused, nothing stored.
    evidence = EvidenceStore(backend.store, ledger)
    with pytest.raises(Duplicate):
        backend.call(evidence.add, "h1", "clerk", "defendant", "", "x.pdf", "application/pdf", exhibits[0].sha256,
                     5, 1, Event("h1", "evidence.add", "clerk"))
    with pytest.raises(NotFound):
        backend.call(evidence.add, "nope", "clerk", "defendant", "", "x.pdf", "application/pdf", "e" * 64,
                     5, 1, Event("nope", "evidence.add", "clerk"))
    backend.call(backend.store.hearings.save_hearing, _hearing(state=HearingState.CLOSED))
    with pytest.raises(ActionRefused):
        backend.call(evidence.add, "h1", "clerk", "defendant", "", "x.pdf", "application/pdf", "e" * 64,
                     5, 1, Event("h1", "evidence.add", "clerk"))
    assert len(backend.call(backend.store.exhibits.of_hearing, "h1")) == 16
    assert len(backend.call(ledger.entries)) == 16


# --- the record's lifecycle ----------------------------------------------------------------------


def test_record_state_versions_statements_and_images(backend: Backend) -> None:
    rows = backend.store.records

    def work() -> None:
        backend.store.hearings.create_hearing(_hearing("h1", state=HearingState.CLOSED))
        backend.store.hearings.create_hearing(_hearing("h2", state=HearingState.CLOSED))
        backend.store.hearings.create_hearing(_hearing("h3"))
        assert rows.get_state("h1") is None and rows.get_finishing("h1") == {}
        assert rows.closed_without_record() == ["h1", "h2"]
        rows.set_state("h1", RecordState.FINISHING, {"pending": [{"who": "张三"}], "since": 1.5})
        rows.set_state("h2", RecordState.FINISHING, {})
        assert rows.closed_without_record() == []
        rows.set_state("h1", RecordState.REVIEW)  # an upsert: the finishing info stays
        assert rows.get_state("h1") is RecordState.REVIEW
        assert rows.get_finishing("h1") == {"pending": [{"who": "张三"}], "since": 1.5}
        assert rows.in_state(RecordState.FINISHING) == ["h2"] and rows.in_state(RecordState.REVIEW) == ["h1"]

        assert rows.latest("h1") is None
        v1 = rows.add_version("h1", "a" * 64, "笔录 一\n", "system", "")
        v2 = rows.add_version("h1", "b" * 64, "笔录 二\n", "clerk", "correction")
        assert (v1.number, v2.number) == (1, 2) and rows.versions("h1") == [v1, v2] and rows.latest("h1") == v2
        assert rows.add_version("h2", "c" * 64, "另一案", "system", "").number == 1

        s1 = rows.add_statement("h1", 2, "h1-p", "confirm", "", '{"decision":"confirm"}', "sig", "", 10.0)
        s2 = rows.add_statement("h1", 2, "clerk", "answer", "答复", '{"decision":"answer"}', "", "d" * 64, 11.0)
        assert s2.id > s1.id > 0 and rows.statements("h1") == [s1, s2] and rows.statements("h2") == []
        assert s1.data == {"decision": "confirm"}

        png = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
        rows.put_image("d" * 64, png)
        rows.put_image("d" * 64, png)  # the same image twice is kept once
        assert rows.get_image("d" * 64) == png and rows.get_image("e" * 64) is None

    backend.call(work)


# --- identities ----------------------------------------------------------------------------------


def test_identities_and_checks_with_soft_delete(backend: Backend) -> None:
    ids = backend.store.identities

    def work() -> None:
        _with_people(backend.store)
        ids.register("h1", "h1-p", Registered("张三", "resident_id", "123X"))
        assert ids.registered("h1") == {"h1-p": Registered("张三", "resident_id", "123X")}
        assert ids.registered("h2") == {}
        with pytest.raises(Conflict, match="h1-p already has a registered identity"):
            ids.register("h1", "h1-p", Registered("王五", "passport", "9999"))
        old = IdentityCheck("c1", "h1", "h1-p", "a" * 64, 10, "b" * 64, 20, "dev", {"ok": True, "名": 1}, 100.0)
        new = IdentityCheck("c2", "h1", "h1-p", "a" * 64, 10, created_at=time.time())
        ids.add_check(old)
        ids.add_check(new)
        with pytest.raises(Conflict):
            ids.add_check(old)
        assert ids.checks("h1") == [old, new]
        assert ids.expired(200.0) == [old]
        ids.mark_deleted("c1", 300.0)  # the images go; the check-in's row stays, marked
        assert ids.expired(200.0) == [] and ids.checks("h1")[0].deleted_at == 300.0
        assert ids.still_used("h1", "a" * 64)  # c2 still holds the same snapshot
        assert not ids.still_used("h1", "b" * 64) and not ids.still_used("h2", "a" * 64)

    backend.call(work)


# --- leases --------------------------------------------------------------------------------------


def test_leases_claim_renew_release(backend: Backend) -> None:
    clock = [1000.0]
    one = Leases(backend.store, "pod-1", ttl=10, now=lambda: clock[0])
    two = Leases(backend.store, "pod-2", ttl=10, now=lambda: clock[0])
    assert backend.call(one.claim, "h1") == Lease("h1", "pod-1", 1010.0)
    with pytest.raises(HeldElsewhere) as held:
        backend.call(two.claim, "h1")
    assert held.value.lease.pod == "pod-1"
    clock[0] = 1005.0
    assert backend.call(one.claim, "h1").expires == 1015.0  # renewed
    backend.call(two.release, "h1")  # not its lease: nothing happens
    assert backend.call(one.holder, "h1") is not None
    clock[0] = 1016.0  # pod-1 stopped renewing: its lease expired
    assert backend.call(two.claim, "h1").pod == "pod-2"
    with pytest.raises(HeldElsewhere):
        backend.call(one.claim, "h1")
    backend.call(two.release, "h1")
    assert backend.call(two.holder, "h1") is None and backend.call(one.claim, "h1").pod == "pod-1"
    assert [lease.hearing_id for lease in backend.call(one.held)] == ["h1"] and backend.call(two.held) == []


def test_docket_links_issue_supersede_revoke(backend: Backend) -> None:
    rows = backend.store.docket_links
    assert backend.call(rows.get, "王建国") is None and backend.call(rows.all) == []
    with pytest.raises(NotFound):
        backend.call(rows.revoke, "王建国", 5.0)
    backend.call(rows.issue, "王建国", "n1", 10.0)
    backend.call(rows.issue, "李明", "m1", 11.0)
    assert backend.call(rows.get, "王建国") == DocketLink("王建国", "n1", 10.0, None)
    backend.call(rows.issue, "王建国", "n2", 12.0)  # issuing again replaces the nonce
    assert backend.call(rows.get, "王建国") == DocketLink("王建国", "n2", 12.0, None)
    assert backend.call(rows.revoke, "王建国", 13.0) == DocketLink("王建国", "", 12.0, 13.0)
    assert backend.call(rows.revoke, "王建国", 14.0).revoked_at == 13.0, "revoking twice keeps the first time"
    assert [link.name for link in backend.call(rows.all)] == ["王建国", "李明"]
    assert backend.call(rows.get, "李明") == DocketLink("李明", "m1", 11.0, None), "another judge's link untouched"
    backend.call(rows.issue, "王建国", "n3", 15.0)  # a new link after revocation is live again
    assert backend.call(rows.get, "王建国") == DocketLink("王建国", "n3", 15.0, None)
    # Another pod sees the revocation at once: it is in the shared database.
    other = Store.of(backend.open())
    backend.call(rows.revoke, "王建国", 16.0)
    assert backend.opened[-1].call(other.docket_links.get, "王建国") == DocketLink("王建国", "", 15.0, 16.0)


def test_two_claimers_at_once_exactly_one_wins(backend: Backend) -> None:
    pods = [backend.open() for _ in range(3)]
    wins: dict[str, list[str]] = {f"h{n}": [] for n in range(20)}
    barrier = threading.Barrier(len(pods))
    errors: list[BaseException] = []

    def race(db: Database, name: str) -> None:
        leases = Leases(Store.of(db), name)
        barrier.wait()
        for hearing in wins:
            try:
                db.call(leases.claim, hearing)
                wins[hearing].append(name)
            except HeldElsewhere:
                pass
            except BaseException as exc:  # reported below
                errors.append(exc)

    threads = [threading.Thread(target=race, args=(db, f"pod-{i}")) for i, db in enumerate(pods)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert all(len(winners) == 1 for winners in wins.values()), wins
    for hearing, winners in wins.items():
        assert backend.call(backend.store.leases.get, hearing).pod == winners[0]


# --- the rule: every SQL statement lives in the store --------------------------------------------

# Outside these, no module writes SQL or touches a connection.
_ALLOWED = ("courtroom/storage/", "courtroom/database.py", "courtroom/postgres.py")
_SQL = re.compile(
    r"\b(SELECT\b.+\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|BEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)"
    r"|CREATE\s+(TABLE|INDEX)|PRAGMA\s+\w+)\b|^\s*(BEGIN|COMMIT|ROLLBACK)\s*;?\s*$", re.S)


def storage_violations(source: str) -> list[str]:
    """`.conn` attributes and SQL in string literals (docstrings may speak of SQL)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value) for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Attribute) and node.attr == "conn":
            found.append(f"line {node.lineno}: .conn")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            text = node.value
        elif isinstance(node, ast.JoinedStr):  # an f-string: its literal parts around each {value}
            text = "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        if text is not None and _SQL.search(text):
            found.append(f"line {node.lineno}: SQL {text[:50]!r}")
    return found


def test_the_scan_finds_what_it_looks_for() -> None:
    assert storage_violations('"""SELECT x FROM y in a docstring is prose."""\nx = 1\n') == []
    assert storage_violations("db.conn.close()\n") == ["line 1: .conn"]
    assert storage_violations('q = f"SELECT {cols} FROM ledger"\n')
    assert storage_violations('c.execute("COMMIT")\n') == ["line 1: SQL 'COMMIT'"]
    assert storage_violations('c.execute("DELETE FROM leases WHERE pod = ?")\n')
    assert storage_violations('msg = "select a seat from the list"\n') == []


def test_no_sql_outside_the_store() -> None:
    offenders = {}
    for path in sorted([*ROOT.glob("courtroom/**/*.py"), *ROOT.glob("signaling/**/*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(_ALLOWED):
            continue
        found = storage_violations(path.read_text(encoding="utf-8"))
        if found:
            offenders[relative] = found
    assert offenders == {}, "SQL and connections belong in courtroom/storage/ (docs/court.md, 'The store')"
