"""The embedded SQLite database: one file under the data folder, WAL, versioned schema.

All access goes through one thread (`Database.run`), so the event loop never waits on a
disk write and SQLite sees a single writer. `synchronous=FULL` makes an acknowledged write
durable: once `run` returns, a power cut does not lose it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# Each entry moves the schema one version up; never edit a released entry, add a new one.
MIGRATIONS: list[str] = [
    # 1: hearings, participants, events
    """
    CREATE TABLE hearings (
        id TEXT PRIMARY KEY,
        case_number TEXT NOT NULL,
        title TEXT NOT NULL,
        procedure TEXT NOT NULL,
        public INTEGER NOT NULL,
        court TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,
        scheduled_at REAL,
        created_at REAL NOT NULL,
        opened_at REAL,
        started_at REAL,
        closed_at REAL,
        broadcast INTEGER NOT NULL DEFAULT 0,
        ever_broadcast INTEGER NOT NULL DEFAULT 0,
        extra TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE participants (
        id TEXT PRIMARY KEY,
        hearing_id TEXT NOT NULL REFERENCES hearings(id),
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        side TEXT,
        state TEXT NOT NULL,
        witness_state TEXT,
        muted INTEGER NOT NULL DEFAULT 0,
        self_muted INTEGER NOT NULL DEFAULT 0,
        hand_raised INTEGER NOT NULL DEFAULT 0,
        protected INTEGER NOT NULL DEFAULT 0,
        screened_from TEXT NOT NULL DEFAULT '[]',
        token_nonce TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX participants_hearing ON participants(hearing_id);
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        hearing_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT,
        subject TEXT,
        data TEXT NOT NULL DEFAULT '{}',
        hearing_time REAL NOT NULL,
        wall_time REAL NOT NULL
    );
    CREATE INDEX events_hearing ON events(hearing_id, seq);
    """,
    # 2: the hearing record (transcript), its corrections and confirmations
    """
    CREATE TABLE segments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hearing_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        role TEXT NOT NULL,
        name TEXT NOT NULL,
        text TEXT NOT NULL,
        start REAL NOT NULL,
        end REAL NOT NULL,
        words TEXT NOT NULL DEFAULT '[]',
        engine TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL
    );
    CREATE INDEX segments_hearing ON segments(hearing_id, start);
    CREATE TABLE segment_edits (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        segment_id INTEGER NOT NULL REFERENCES segments(id),
        editor TEXT NOT NULL,
        field TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL,
        wall_time REAL NOT NULL
    );
    CREATE INDEX segment_edits_segment ON segment_edits(segment_id, id);
    CREATE TABLE confirmations (
        hearing_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        decision TEXT NOT NULL,
        objection TEXT NOT NULL DEFAULT '',
        record_sha256 TEXT NOT NULL,
        wall_time REAL NOT NULL,
        PRIMARY KEY (hearing_id, participant_id)
    );
    """,
    # 3: evidence and the ledger
    """
    CREATE TABLE exhibits (
        id TEXT PRIMARY KEY,
        hearing_id TEXT NOT NULL,
        owner TEXT NOT NULL,
        side TEXT NOT NULL,
        number INTEGER NOT NULL,
        label TEXT NOT NULL,
        filename TEXT NOT NULL,
        media_type TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        pages INTEGER NOT NULL DEFAULT 1,
        created_at REAL NOT NULL,
        UNIQUE (hearing_id, side, number)
    );
    CREATE TABLE ledger (
        seq INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        hearing_id TEXT NOT NULL,
        name TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size INTEGER NOT NULL,
        wall_time REAL NOT NULL,
        prev_hash TEXT NOT NULL,
        entry_hash TEXT NOT NULL
    );
    CREATE INDEX ledger_sha ON ledger(sha256);
    CREATE INDEX ledger_hearing ON ledger(hearing_id, seq);
    """,
    # 4: which pod of a multi-pod court holds each live hearing (courtroom/leases.py)
    """
    CREATE TABLE leases (
        hearing_id TEXT PRIMARY KEY,
        pod TEXT NOT NULL,
        expires REAL NOT NULL
    );
    """,
    # 5: identity at join: who each participant should be, and their check-ins (courtroom/identity.py)
    """
    CREATE TABLE identities (
        participant_id TEXT PRIMARY KEY REFERENCES participants(id),
        hearing_id TEXT NOT NULL,
        name TEXT NOT NULL,
        id_type TEXT NOT NULL,
        id_last4 TEXT NOT NULL
    );
    CREATE INDEX identities_hearing ON identities(hearing_id);
    CREATE TABLE identity_checks (
        id TEXT PRIMARY KEY,
        hearing_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        snapshot_sha256 TEXT NOT NULL,
        snapshot_size INTEGER NOT NULL,
        document_sha256 TEXT,
        document_size INTEGER,
        device TEXT NOT NULL DEFAULT '',
        result TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        deleted_at REAL
    );
    CREATE INDEX identity_checks_hearing ON identity_checks(hearing_id, created_at);
    """,
    # 6: the record's lifecycle: its state, versions, signed statements, handwritten signatures
    """
    CREATE TABLE records (
        hearing_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        finishing TEXT NOT NULL DEFAULT '{}',
        updated_at REAL NOT NULL
    );
    CREATE TABLE record_versions (
        hearing_id TEXT NOT NULL,
        number INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        text TEXT NOT NULL,
        author TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        PRIMARY KEY (hearing_id, number)
    );
    CREATE TABLE record_statements (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        hearing_id TEXT NOT NULL,
        version INTEGER NOT NULL,
        participant_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        statement TEXT NOT NULL,
        signature TEXT NOT NULL DEFAULT '',
        image_sha256 TEXT NOT NULL DEFAULT '',
        wall_time REAL NOT NULL
    );
    CREATE INDEX record_statements_hearing ON record_statements(hearing_id, id);
    CREATE TABLE signature_images (
        sha256 TEXT PRIMARY KEY,
        png TEXT NOT NULL
    )
    """,
    # 7: each judge's standing docket link: the nonce its token must carry ('' once revoked)
    """
    CREATE TABLE docket_links (
        name TEXT PRIMARY KEY,
        nonce TEXT NOT NULL,
        issued_at REAL NOT NULL,
        revoked_at REAL
    )
    """,
]


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=5000")
    migrate(conn)
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema version {version} is newer than this server knows ({len(MIGRATIONS)})"
        )
    for number in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


def _statements(script: str) -> list[str]:
    # Migrations are plain DDL: no triggers or string literals holding ";".
    # (executescript would commit on its own and break the all-or-nothing upgrade.)
    return [s.strip() for s in script.split(";") if s.strip()]


class Database:
    """The connection plus the one thread that uses it (the embedded SQLite file; the court's
    PostgreSQL in `courtroom.postgres` opens its connection the same way)."""

    def __init__(self, path: Path, opener: Callable[[], Any] | None = None) -> None:
        self.path: Path | str = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db")
        try:
            self.conn = self._executor.submit(opener or (lambda: connect(path))).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def call(self, fn: Callable[..., T], *args: object) -> T:
        """Synchronous access, for the command line (no event loop running)."""
        return self._executor.submit(fn, *args).result()

    def close(self) -> None:
        self._executor.submit(self.conn.close).result()
        self._executor.shutdown(wait=True)


def open_database(data_dir: Path, url: str = "") -> Database:
    """The pod's database: the court's PostgreSQL when a URL is configured (a multi-pod
    court), otherwise the embedded SQLite file in the data folder."""
    if url:
        from .postgres import PostgresDatabase

        return PostgresDatabase(url)
    return Database(data_dir / "courtroom.sqlite3")
