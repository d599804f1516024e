"""The same store suite on both engines: the embedded SQLite file and a real PostgreSQL.

PostgreSQL is a private cluster started once per test session (tests/services.py). Each test
gets a database of its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import courtroom_command, free_port

from courtroom.auth import TokenSigner
from courtroom.config import Config
from courtroom.court import Court
from courtroom.database import open_database
from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.leases import HeldElsewhere, Lease, Leases
from courtroom.ledger import Ledger, file_digest
from courtroom.participants import Participant, ParticipantState, WitnessState
from courtroom.postgres import DatabaseUnavailable, PostgresDatabase, postgres_ddl, redact
from courtroom.procedure import HearingState, ProcedureKind
from courtroom.roles import Role
from courtroom.store import NotFound, SqliteStore
from courtroom.transcript import TranscriptService

CASE = "(2026)京0491民初1234号"
_names = itertools.count(1)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        db = open_database(tmp_path)
    else:
        db = open_database(tmp_path, request.getfixturevalue("postgres").database_url(f"suite{next(_names)}"))
    yield db
    db.close()


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


def test_round_trip_keeps_every_field(backend: Any) -> None:
    store = SqliteStore(backend.conn)
    hearing = _hearing(state=HearingState.RECESS, opened_at=123.5, started_at=2.25, broadcast=True,
                       ever_broadcast=True, scheduled_at=100.0)
    store.create_hearing(hearing)
    witness = _participant("w1", muted=True, protected=True, screened_from=["p2"])
    agent = _participant("p2", role=Role.AGENT, name="李律师", side="defendant", state=ParticipantState.ADMITTED,
                         hand_raised=True, self_muted=True)
    store.add_participant(witness)
    store.add_participant(agent)
    first = store.append_event(Event("h1", "hearing.open", "clerk", None, {"名字": "王"}, 0.0, 1764460000.654321))
    second = store.append_event(Event("h1", "participant.mute", "j1", "w1", {}, 1.5, 2.0))

    assert store.get_hearing("h1") == hearing  # wall times keep their microseconds on both engines
    assert store.get_participant("w1") == witness
    assert store.list_participants("h1") == [witness, agent] or store.list_participants("h1") == [agent, witness]
    assert second.seq > first.seq > 0
    events = store.list_events("h1")
    assert [(e.kind, e.data, e.wall_time) for e in events] == [
        ("hearing.open", {"名字": "王"}, 1764460000.654321), ("participant.mute", {}, 2.0)]
    assert store.list_events("h1", after=first.seq)[0].kind == "participant.mute"
    with pytest.raises(NotFound):
        store.get_hearing("nope")
    with pytest.raises(NotFound):
        store.get_participant("nope")


def test_a_change_is_all_or_nothing(backend: Any) -> None:
    store = SqliteStore(backend.conn)
    store.create_hearing(_hearing())
    store.add_participant(_participant("w1"))
    changed = _hearing(state=HearingState.OPEN, opened_at=5.0)
    muted = _participant("w1", muted=True)
    bad = Event("h1", "x", None, None, {"not json": object()}, 0.0, 0.0)
    with pytest.raises(TypeError):
        store.commit_change(changed, [muted], [Event("h1", "ok", None, None, {}, 0, 0), bad])
    assert store.get_hearing("h1").state is HearingState.SCHEDULED
    assert store.get_participant("w1").muted is False
    assert store.list_events("h1") == []
    store.commit_change(changed, [muted], [Event("h1", "ok", None, None, {}, 0, 0)])
    assert store.get_hearing("h1").state is HearingState.OPEN
    assert [e.kind for e in store.list_events("h1")] == ["ok"]


async def test_the_record_and_its_history(backend: Any, tmp_path: Path) -> None:
    court = Court(Config(data_dir=tmp_path / "pod"), backend, TokenSigner("k" * 32, 3600))
    hearing = await court.create_hearing({"case_number": CASE, "title": "t", "procedure": "simple"},
                                         _clerk())
    person, _ = await court.add_participant(hearing.id, {"name": "张三", "role": "plaintiff"}, _clerk())
    transcript = TranscriptService(court)
    first = await transcript.add_final(hearing.id, person.id, "我方请求被告支付货款", 1.0, 3.5)
    second = await transcript.add_final(hearing.id, person.id, "以及利息", 4.0, 5.25)
    assert first is not None and second is not None and second.id > first.id > 0
    await transcript.correct(hearing.id, first.id, _clerk(), text="我方请求被告支付货款三万元")
    segments = await transcript.segments(hearing.id)
    assert [(s.text, s.start, s.end) for s in segments] == [("我方请求被告支付货款三万元", 1.0, 3.5),
                                                           ("以及利息", 4.0, 5.25)]
    history = await transcript.history(first.id, hearing.id)
    assert [(h.before, h.after) for h in history] == [("我方请求被告支付货款", "我方请求被告支付货款三万元")]


def _clerk() -> Any:
    from courtroom.court import Actor

    return Actor.clerk()


def test_ledger_chain(backend: Any, tmp_path: Path) -> None:
    ledger = Ledger(backend.conn)
    for n in range(5):
        ledger.deposit("exhibit", "h1", f"证据{n}.pdf", f"{n:064x}", n)
    assert ledger.check().ok
    assert [e.seq for e in ledger.entries("h1")] == [1, 2, 3, 4, 5]
    assert ledger.find(f"{3:064x}")[0].name == "证据3.pdf"


def test_pods_share_one_ledger_chain(postgres: Any) -> None:
    """Two pods depositing at once into the court's database keep one unbroken chain."""
    url = postgres.database_url(f"court{next(_names)}")
    pods = [PostgresDatabase(url), PostgresDatabase(url)]
    errors: list[BaseException] = []

    def deposit_many(db: PostgresDatabase, pod: int) -> None:
        try:
            ledger = Ledger(db.conn)
            for n in range(40):
                db.call(ledger.deposit, "exhibit", f"h{pod}", f"pod{pod}-{n}", f"{pod}{n:063x}", n)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=deposit_many, args=(db, i)) for i, db in enumerate(pods)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        ledger = Ledger(pods[0].conn)
        result = pods[0].call(ledger.check)
        assert result.ok, result
        entries = pods[0].call(ledger.entries)
        assert [e.seq for e in entries] == list(range(1, 81))
        assert {e.hearing_id for e in entries} == {"h0", "h1"}
    finally:
        for db in pods:
            db.close()


def test_schema_translation() -> None:
    ddl = "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, start REAL NOT NULL, end REAL, n INTEGER)"
    assert postgres_ddl(ddl) == ('CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, '
                                 'start DOUBLE PRECISION NOT NULL, "end" DOUBLE PRECISION, n BIGINT)')
    assert redact("postgresql://court:s3cret@db:5432/court") == "postgresql://court:***@db:5432/court"


def test_unreachable_database_is_named() -> None:
    url = f"postgresql://court:s3cret@127.0.0.1:{free_port()}/court"
    with pytest.raises(DatabaseUnavailable) as err:
        PostgresDatabase(url)
    assert "127.0.0.1" in str(err.value) and "s3cret" not in str(err.value)


def test_serve_refuses_an_unreachable_database(tmp_path: Path) -> None:
    url = f"postgresql://court:s3cret@127.0.0.1:{free_port()}/court"
    done = subprocess.run([*courtroom_command(), "serve", "--data", str(tmp_path), "--port", str(free_port()),
                           "--asr-engine", "off", "--database", url], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "cannot reach the database" in done.stderr + done.stdout
    assert "s3cret" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout


async def test_two_pods_on_one_court_database(postgres: Any, server_factory: Any, api_factory: Any,
                                              tmp_path: Path) -> None:
    """A hearing made through one pod is known to a second pod with its own data folder, and
    survives the first pod's SIGKILL; the court's ledger is checked from the command line."""
    url = postgres.database_url(f"pods{next(_names)}")
    first = await server_factory("--database", url, data_dir=tmp_path / "pod1")
    api = api_factory(first)
    hearing = await api.create_hearing(case_number=CASE, title="买卖合同纠纷", public=True)
    hid = hearing["id"]
    await api.add(hid, "judge", "王法官")
    assert (await api.act(hid, "open")).status == 200
    first.kill()

    second = await server_factory("--database", url, data_dir=tmp_path / "pod2", admin_key=first.admin_key)
    api2 = api_factory(second)
    seen = await api2.get_hearing(hid)
    assert seen.status == 200, seen.text
    assert seen.json["state"] == "open"
    assert [p["name"] for p in seen.json["participants"]] == ["王法官"]
    assert "hearing.open" in [e["kind"] for e in await api2.events(hid)]

    exhibit = tmp_path / "exhibit.txt"
    exhibit.write_text("借条")
    sha, size = file_digest(exhibit)
    db = PostgresDatabase(url)
    try:
        db.call(Ledger(db.conn).deposit, "exhibit", hid, "借条.txt", sha, size)
    finally:
        db.close()
    check = await asyncio.to_thread(
        subprocess.run, [*courtroom_command(), "ledger", "check", "--data", str(tmp_path / "pod2"),
                         "--database", url], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert json.loads(check.stdout)["ok"] is True


def test_leases_follow_the_pod_that_holds_a_hearing(backend: Any) -> None:
    clock = [1000.0]
    one = Leases(backend.conn, "pod-1", ttl=10, now=lambda: clock[0])
    two = Leases(backend.conn, "pod-2", ttl=10, now=lambda: clock[0])
    assert one.claim("h1") == Lease("h1", "pod-1", 1010.0)
    with pytest.raises(HeldElsewhere) as held:
        two.claim("h1")
    assert held.value.lease.pod == "pod-1"
    clock[0] = 1005.0
    assert one.claim("h1").expires == 1015.0  # renewed
    two.release("h1")  # not its lease: nothing happens
    assert one.holder("h1") is not None
    clock[0] = 1016.0  # pod-1 stopped renewing: its lease expired
    assert two.claim("h1").pod == "pod-2"
    with pytest.raises(HeldElsewhere):
        one.claim("h1")
    two.release("h1")
    assert two.holder("h1") is None and one.claim("h1").pod == "pod-1"
    assert [lease.hearing_id for lease in one.held()] == ["h1"]


def test_two_pods_claiming_at_once_exactly_one_wins(postgres: Any) -> None:
    url = postgres.database_url(f"lease{next(_names)}")
    pods = [PostgresDatabase(url) for _ in range(3)]
    wins: dict[str, list[str]] = {f"h{n}": [] for n in range(30)}
    barrier = threading.Barrier(len(pods))

    def race(db: PostgresDatabase, name: str) -> None:
        leases = Leases(db.conn, name)
        barrier.wait()
        for hearing in wins:
            try:
                db.call(leases.claim, hearing)
                wins[hearing].append(name)
            except HeldElsewhere:
                pass

    threads = [threading.Thread(target=race, args=(db, f"pod-{i}")) for i, db in enumerate(pods)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert all(len(winners) == 1 for winners in wins.values()), wins
        for hearing, winners in wins.items():
            assert pods[0].call(Leases(pods[0].conn, "x").holder, hearing).pod == winners[0]
    finally:
        for db in pods:
            db.close()


async def test_a_database_outage_stops_writes_not_the_hearing(postgres: Any, server_factory: Any,
                                                              api_factory: Any) -> None:
    """PostgreSQL goes away mid-hearing: the picture keeps flowing, requests answer 503 and
    store nothing, and the pod carries on by itself once the database is back."""
    from loadtest.participant import Participant
    from loadtest.synthetic import PatternTrack, ToneTrack
    from tests.media_helpers import LOOPBACK_MEDIA, wait_frames

    url = postgres.database_url(f"outage{next(_names)}")
    server = await server_factory("--database", url, *LOOPBACK_MEDIA, "--video-size", "320x180", "--fps", "10")
    api = api_factory(server)
    hearing, (judge_p,) = await api.hearing_with(("judge", "王法官"))
    judge = Participant(server.url, judge_p["token"], ToneTrack(440), PatternTrack(160, 90, 10))
    await judge.connect()
    try:
        await judge.act("open")
        await judge.act("start")
        await judge.wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        await judge.start_media()
        assert await wait_frames(judge, 5, timeout=10)

        await asyncio.to_thread(postgres.stop)
        try:
            assert await wait_frames(judge, 10, timeout=10)  # the media goes on
            refused = await api.act(hearing["id"], "recess", token=judge_p["token"])
            assert refused.status == 503, refused.text
            assert refused.json["error"] == "store_unavailable"
        finally:
            await asyncio.to_thread(postgres.start)
        assert (await api.get_hearing(hearing["id"])).json["state"] == "in_session"  # nothing half-stored
        assert (await api.act(hearing["id"], "recess", token=judge_p["token"])).status == 200
        assert (await api.get_hearing(hearing["id"])).json["state"] == "recess"
        assert "Traceback" not in server.log()
    finally:
        await judge.close()
