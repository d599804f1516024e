"""The embedded store: migrations, durability across reopening, all-or-nothing changes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from courtroom.database import MIGRATIONS, Database, connect, migrate
from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.participants import Participant, ParticipantState, WitnessState
from courtroom.procedure import HearingState, ProcedureKind
from courtroom.roles import Role
from courtroom.storage import NotFound, Store
from courtroom.storage.hearings import HearingRows

CASE = "(2026)京0491民初1234号"


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _version(conn: sqlite3.Connection) -> int:
    return conn.execute("PRAGMA user_version").fetchone()[0]


def _hearing(hid: str = "h1", **kw) -> Hearing:
    values = dict(id=hid, case_number=CASE, title="张三诉李四 🏛️", procedure=ProcedureKind.ORDINARY, public=True,
                  court="北京互联网法院", created_at=time.time(), extra={"parts": ["a.mp4"], "名": 1})
    values.update(kw)
    return Hearing(**values)


def _participant(pid: str, hid: str = "h1", role: Role = Role.WITNESS, **kw) -> Participant:
    values = dict(id=pid, hearing_id=hid, name="陈五", role=role, token_nonce="nonce-" + pid, created_at=time.time(),
                  witness_state=WitnessState.ISOLATED if role is Role.WITNESS else None)
    values.update(kw)
    return Participant(**values)


@pytest.fixture
def db(tmp_path: Path):
    database = Database(tmp_path / "c.sqlite3")
    yield database
    database.close()


def test_migrations_from_empty(tmp_path: Path) -> None:
    conn = connect(tmp_path / "new.sqlite3")
    try:
        assert _version(conn) == len(MIGRATIONS)
        assert {"hearings", "participants", "events", "segments", "segment_edits", "confirmations",
                "exhibits", "ledger"} <= _tables(conn)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert migrate(conn) == len(MIGRATIONS)  # idempotent
        assert _version(conn) == len(MIGRATIONS)
    finally:
        conn.close()


def test_migrations_from_each_older_version(tmp_path: Path) -> None:
    for start in range(len(MIGRATIONS)):
        path = tmp_path / f"v{start}.sqlite3"
        raw = sqlite3.connect(path, isolation_level=None)
        for number in range(start):
            raw.executescript(MIGRATIONS[number])
        raw.execute(f"PRAGMA user_version = {start}")
        if start >= 1:
            raw.execute(
                "INSERT INTO hearings (id, case_number, title, procedure, public, state, created_at) "
                "VALUES ('old', ?, 't', 'simple', 0, 'scheduled', 1.0)",
                (CASE,),
            )
        raw.close()
        conn = connect(path)
        try:
            assert _version(conn) == len(MIGRATIONS)
            assert "ledger" in _tables(conn)
            if start >= 1:
                assert Store(conn).hearings.get_hearing("old").case_number == CASE
        finally:
            conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = connect(path)
    Store(conn).hearings.create_hearing(_hearing())
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        connect(path)
    with pytest.raises(RuntimeError, match="newer"):
        Database(path)
    # Refusing touched nothing.
    raw = sqlite3.connect(path)
    assert _version(raw) == len(MIGRATIONS) + 1
    assert raw.execute("SELECT case_number FROM hearings").fetchall() == [(CASE,)]
    raw.close()


def test_failed_migration_rolls_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import courtroom.database as database

    broken = [*MIGRATIONS, "CREATE TABLE fine (x INTEGER); CREATE TABLE broken (;"]
    monkeypatch.setattr(database, "MIGRATIONS", broken)
    path = tmp_path / "broken.sqlite3"
    with pytest.raises(sqlite3.Error):
        database.connect(path)
    raw = sqlite3.connect(path)
    assert _version(raw) == len(MIGRATIONS)  # the good ones stay, the bad one left no trace
    assert "fine" not in _tables(raw)
    raw.close()


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "keep.sqlite3"
    db = Database(path)
    store = Store.of(db).hearings
    hearing = _hearing(state=HearingState.RECESS, opened_at=123.5, started_at=2.25, broadcast=True,
                       ever_broadcast=True, scheduled_at=100.0)
    witness = _participant("w1", muted=True, protected=True, screened_from=["p2"])
    party = _participant("p2", role=Role.AGENT, name="李律师", side="defendant", state=ParticipantState.ADMITTED,
                         hand_raised=True, self_muted=True)
    events = [Event("h1", "hearing.open", "clerk", None, {"名字": "王"}, 0.0, 1.0),
              Event("h1", "participant.mute", "j1", "w1", {}, 1.5, 2.0)]

    def write() -> None:
        store.create_hearing(hearing)
        store.add_participant(witness)
        store.add_participant(party)
        for e in events:
            store.append_event(e)

    db.call(write)
    db.close()

    db = Database(path)
    try:
        store = Store.of(db).hearings
        assert db.call(store.get_hearing, "h1") == hearing
        assert db.call(store.list_hearings) == [hearing]
        people = db.call(store.list_participants, "h1")
        assert {p.id: p for p in people} == {"w1": witness, "p2": party}
        assert db.call(store.get_participant, "p2") == party
        stored = db.call(store.list_events, "h1")
        assert stored == events  # seqs were set on append
        assert [e.seq for e in stored] == sorted(e.seq for e in stored)
        assert db.call(store.list_events, "h1", stored[0].seq) == stored[1:]
    finally:
        db.close()


def test_not_found(db: Database) -> None:
    store = Store.of(db).hearings
    with pytest.raises(NotFound):
        db.call(store.get_hearing, "nope")
    with pytest.raises(NotFound):
        db.call(store.get_participant, "nope")
    assert db.call(store.list_participants, "nope") == []
    assert db.call(store.list_events, "nope") == []


def test_list_hearings_in_schedule_order(db: Database) -> None:
    store = Store.of(db).hearings
    for hid, scheduled, created in [("c", None, 50.0), ("a", 300.0, 10.0), ("b", 20.0, 400.0)]:
        db.call(store.create_hearing, _hearing(hid, scheduled_at=scheduled, created_at=created))
    assert [h.id for h in db.call(store.list_hearings)] == ["b", "c", "a"]


def _snapshot(db: Database, store: HearingRows):
    return (db.call(store.get_hearing, "h1"), db.call(store.list_participants, "h1"), db.call(store.list_events, "h1"))


def test_commit_change_applies_everything(db: Database) -> None:
    store = Store.of(db).hearings
    db.call(store.create_hearing, _hearing())
    db.call(store.add_participant, _participant("w1"))
    hearing = db.call(store.get_hearing, "h1")
    witness = db.call(store.get_participant, "w1")
    hearing.state = HearingState.IN_SESSION
    witness.witness_state = WitnessState.TESTIFYING
    events = [Event("h1", "hearing.start", "j"), Event("h1", "participant.call_witness", "j", "w1")]
    assert db.call(store.commit_change, hearing, [witness], events) is events
    h, people, stored = _snapshot(db, store)
    assert h.state is HearingState.IN_SESSION
    assert people[0].witness_state is WitnessState.TESTIFYING
    assert [e.kind for e in stored] == ["hearing.start", "participant.call_witness"]
    assert all(e.seq > 0 for e in events)


@pytest.mark.parametrize("failure", ["bad_event_data", "constraint_in_second_event"])
def test_commit_change_is_all_or_nothing(db: Database, failure: str) -> None:
    store = Store.of(db).hearings
    db.call(store.create_hearing, _hearing())
    db.call(store.add_participant, _participant("w1"))
    db.call(store.append_event, Event("h1", "hearing.create", "clerk"))
    before = _snapshot(db, store)

    hearing = db.call(store.get_hearing, "h1")
    witness = db.call(store.get_participant, "w1")
    hearing.state, hearing.broadcast = HearingState.CLOSED, True
    witness.muted, witness.name = True, "changed"
    good = Event("h1", "hearing.close", "j")
    if failure == "bad_event_data":
        bad = Event("h1", "participant.mute", "j", "w1", {"oops": object()})  # not JSON: fails mid-way
        expected: type[BaseException] = TypeError
    else:
        bad = Event(None, "participant.mute", "j", "w1")  # type: ignore[arg-type]  # NOT NULL
        expected = sqlite3.IntegrityError
    with pytest.raises(expected):
        db.call(store.commit_change, hearing, [witness], [good, bad])
    assert _snapshot(db, store) == before
    assert not db.conn.in_transaction

    # The connection is usable afterwards and the next change goes through whole.
    db.call(store.commit_change, hearing, [witness], [Event("h1", "hearing.close", "j")])
    h, people, events = _snapshot(db, store)
    assert h.state is HearingState.CLOSED and people[0].muted and people[0].name == "changed"
    assert [e.kind for e in events] == ["hearing.create", "hearing.close"]


def test_commit_change_rolls_back_on_interrupt(db: Database) -> None:
    """Even a BaseException (a cancelled thread, Ctrl-C) leaves no half-written change."""
    store = Store.of(db).hearings
    db.call(store.create_hearing, _hearing())
    before = _snapshot(db, store)

    class Boom(BaseException):
        pass

    class Exploding(dict):
        def __iter__(self):
            raise Boom

        def items(self):
            raise Boom

    hearing = db.call(store.get_hearing, "h1")
    hearing.state = HearingState.OPEN
    with pytest.raises(Boom):
        db.call(store.commit_change, hearing, [], [Event("h1", "x", "j"), Event("h1", "y", "j", data=Exploding(a=1))])
    assert _snapshot(db, store) == before


async def test_database_run_is_off_the_loop(db: Database) -> None:
    import threading

    store = Store.of(db).hearings
    await db.run(store.create_hearing, _hearing())
    names = await db.run(lambda: threading.current_thread().name)
    assert names.startswith("db") and names != threading.current_thread().name
    assert (await db.run(store.get_hearing, "h1")).case_number == CASE
