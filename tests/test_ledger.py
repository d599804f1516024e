"""The ledger: the hash chain and Merkle proofs as pure functions, then a real pod's SQLite file
edited, reordered and cut after the server stopped — `courtroom ledger check` names each break."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, courtroom_command

from courtroom.database import connect
from courtroom.ledger import (
    ZERO_HASH,
    Ledger,
    LedgerError,
    canonical,
    merkle_proof_of,
    merkle_root_of,
    verify_proof,
)
from courtroom.storage import Store


async def courtroom_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the `courtroom` command without blocking the event loop."""
    env = {k: v for k, v in os.environ.items() if k not in ("COURTROOM_DATA", "COURTROOM_ADMIN_KEY")}
    proc = await asyncio.create_subprocess_exec(
        *courtroom_command(), *args, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return subprocess.CompletedProcess(list(args), proc.returncode or 0, out.decode(), err.decode())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- the chain and the tree, in process ---------------------------------------------------------------


def test_chain_links_and_canonical_form(tmp_path: Path) -> None:
    conn = connect(tmp_path / "db.sqlite3")
    ledger = Ledger(Store(conn), tmp_path)
    first = ledger.deposit("exhibit", "h1", "原告证据1", sha(b"a"), 1)
    second = ledger.deposit("record", "h1", "archive.mp4", sha(b"b"), 2)
    third = ledger.deposit("exhibit", "h2", "被告证据1", sha(b"c"), 3)
    assert (first.seq, second.seq, third.seq) == (1, 2, 3)
    assert first.prev_hash == ZERO_HASH and second.prev_hash == first.entry_hash and third.prev_hash == second.entry_hash
    # The hash is over the documented encoding, so another program can rebuild it.
    encoded = canonical(1, "exhibit", "h1", "原告证据1", sha(b"a"), 1, first.wall_time, ZERO_HASH)
    assert json.loads(encoded)[0] == "courtroom-ledger/1" and f"{first.wall_time:.6f}" in encoded.decode()
    assert hashlib.sha256(encoded).hexdigest() == first.entry_hash
    assert [e.seq for e in ledger.find(sha(b"a"))] == [1] and ledger.find(sha(b"zz")) == []
    assert [e.seq for e in ledger.entries("h1")] == [1, 2]
    assert ledger.check().ok and ledger.check().entries == 3
    for bad in [("", "h", "n", sha(b"x"), 1), ("exhibit", "h", "n", "abc", 1), ("exhibit", "h", "n", sha(b"x"), -1),
                ("exhibit", "h", "", sha(b"x"), 1), ("exhibit", "h", "a\x00b", sha(b"x"), 1), ("Exhibit!", "h", "n", sha(b"x"), 1)]:
        with pytest.raises(LedgerError):
            ledger.deposit(*bad)  # type: ignore[arg-type]
    assert ledger.check().entries == 3  # nothing half-written
    head = json.loads((tmp_path / "ledger.head").read_text())
    assert head == {"seq": 3, "entry_hash": third.entry_hash}
    conn.close()


def test_merkle_proofs_for_every_size() -> None:
    for n in range(1, 12):
        hashes = [sha(bytes([i])) for i in range(n)]
        root = merkle_root_of(hashes)
        for i, h in enumerate(hashes):
            proof = merkle_proof_of(hashes, i)
            assert verify_proof(h, proof, root), (n, i)
            assert not verify_proof(sha(b"other"), proof, root)
            if proof:
                bent = [dict(step) for step in proof]
                bent[0]["hash"] = sha(b"forged")
                assert not verify_proof(h, bent, root)
                flipped = [dict(step, side="left" if step["side"] == "right" else "right") for step in proof]
                assert not verify_proof(h, flipped, root) or len(set(hashes)) == 1
        assert merkle_root_of(hashes[:-1] + [sha(b"x")]) != root
    # A leaf never passes for an inner node (domain-separated hashing).
    two = [sha(b"l"), sha(b"r")]
    assert merkle_root_of(two) != merkle_root_of([merkle_root_of(two)])
    assert not verify_proof(ZERO_HASH, [{"side": "middle", "hash": ZERO_HASH}], merkle_root_of([ZERO_HASH]))


async def test_seal_deposits_event_log_and_root(court) -> None:
    from courtroom.court import Actor

    hearing = await court.create_hearing({"case_number": "(2026)京0491民初9号"}, Actor.clerk())
    ledger = Ledger(court.store, court.config.data_dir)
    await court.db.run(ledger.deposit, "exhibit", hearing.id, "原告证据1", sha(b"e1"), 2)
    root_entry = await court.db.run(ledger.seal, hearing.id)
    assert root_entry.kind == "merkle_root" and root_entry.size == 2  # the exhibit and the event log
    log = (court.config.data_dir / "records" / hearing.id / "events.jsonl").read_bytes()
    kinds = [e.kind for e in await court.db.run(ledger.entries, hearing.id)]
    assert kinds == ["exhibit", "events", "merkle_root"]
    assert (await court.db.run(ledger.find, sha(log)))[0].kind == "events"
    assert root_entry.sha256 == await court.db.run(ledger.merkle_root, hearing.id)
    # Nothing new: the same root. Something new: a new root over everything.
    assert (await court.db.run(ledger.seal, hearing.id)).seq == root_entry.seq
    await court.db.run(ledger.deposit, "record", hearing.id, "archive.mp4", sha(b"r"), 1)
    again = await court.db.run(ledger.seal, hearing.id)
    assert again.seq > root_entry.seq and again.size == 3
    for e in await court.db.run(ledger.leaves, hearing.id):
        proof = await court.db.run(ledger.merkle_proof, hearing.id, e.seq)
        assert verify_proof(e.entry_hash, proof, again.sha256)
    assert (await court.db.run(ledger.check)).ok


# --- a real pod's ledger, tampered with on disk ------------------------------------------------------


@pytest.fixture
async def stopped_pod(server_factory, api_factory, tmp_path: Path) -> Path:
    """A pod's data folder with a hearing's exhibits deposited and sealed, its server stopped."""
    from test_evidence import make_pdf, make_picture, upload

    server = await server_factory()
    api = api_factory(server)
    hearing, (judge, plaintiff, defendant) = await api.hearing_with(("judge", "王法官"), ("plaintiff", "张三"), ("defendant", "李四"))
    hid = hearing["id"]
    for token, data in ((plaintiff["token"], make_pdf(1)), (plaintiff["token"], make_picture("PNG")),
                        (defendant["token"], make_picture("JPEG")), (None, make_pdf(2))):
        assert (await upload(api, hid, token, data)).status == 201
    assert (await api.act(hid, "open")).status == 200
    assert (await api.act(hid, "close", token=judge["token"])).status == 200  # seals: event log + root
    await server.stop()
    return server.data_dir


def _copy(data: Path, name: str) -> tuple[Path, sqlite3.Connection]:
    copy = data.parent / name
    shutil.copytree(data, copy)
    return copy, sqlite3.connect(copy / "courtroom.sqlite3", isolation_level=None)


async def _check(data: Path) -> tuple[int, dict[str, Any], str]:
    r = await courtroom_cli("ledger", "check", "--data", str(data))
    return r.returncode, json.loads(r.stdout), r.stderr


async def test_ledger_check_names_edited_reordered_and_deleted_rows(stopped_pod: Path) -> None:
    data = stopped_pod
    db = sqlite3.connect(data / "courtroom.sqlite3")
    last = db.execute("SELECT max(seq) FROM ledger").fetchone()[0]
    db.close()
    assert last >= 6  # four exhibits, the event log and the root at least
    code, result, _ = await _check(data)
    assert code == 0 and result["ok"] is True and result["entries"] == last, result

    # An edited row: another file's hash put into entry 2.
    copy, db = _copy(data, "edited")
    db.execute("UPDATE ledger SET sha256 = ? WHERE seq = 2", (sha(b"forged"),))
    db.close()
    code, result, err = await _check(copy)
    assert code == 1 and result["first_bad_seq"] == 2 and "edited" in result["reason"], result
    assert "entry 2" in err

    # An edited row whose own hash was recomputed: the next entry no longer links to it.
    copy, db = _copy(data, "rehashed")
    row = db.execute("SELECT seq, kind, hearing_id, name, sha256, size, wall_time, prev_hash FROM ledger WHERE seq = 2").fetchone()
    forged = hashlib.sha256(canonical(row[0], row[1], row[2], row[3], sha(b"forged"), row[5], row[6], row[7])).hexdigest()
    db.execute("UPDATE ledger SET sha256 = ?, entry_hash = ? WHERE seq = 2", (sha(b"forged"), forged))
    db.close()
    code, result, _ = await _check(copy)
    assert code == 1 and result["first_bad_seq"] == 3 and "link" in result["reason"], result

    # Reordered rows: entries 2 and 3 trade places.
    copy, db = _copy(data, "reordered")
    db.execute("UPDATE ledger SET seq = -2 WHERE seq = 2")
    db.execute("UPDATE ledger SET seq = 2 WHERE seq = 3")
    db.execute("UPDATE ledger SET seq = 3 WHERE seq = -2")
    db.close()
    code, result, _ = await _check(copy)
    assert code == 1 and result["first_bad_seq"] == 2, result

    # A deleted row in the middle: the gap is named.
    copy, db = _copy(data, "deleted")
    db.execute("DELETE FROM ledger WHERE seq = 3")
    db.close()
    code, result, err = await _check(copy)
    assert code == 1 and result["first_bad_seq"] == 3 and "missing" in result["reason"], result
    assert "entry 3" in err

    # The last row deleted: the head file remembers it.
    copy, db = _copy(data, "truncated")
    db.execute("DELETE FROM ledger WHERE seq = ?", (last,))
    db.close()
    code, result, _ = await _check(copy)
    assert code == 1 and result["first_bad_seq"] == last and "missing" in result["reason"], result
