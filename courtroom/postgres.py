"""PostgreSQL as the court's database: the same schema and the same SQL as the embedded store.

The store's SQL is written in the subset both engines speak (`?` parameters, `RETURNING`,
`BEGIN IMMEDIATE` to take the write lock). `PortableConnection` carries that subset onto a
psycopg 3 connection (the maintained PostgreSQL driver, with binary wheels on PyPI):
parameters become `%s`, rows answer by index and by column name as `sqlite3.Row` does, and
`BEGIN IMMEDIATE` takes one court-wide transaction-scoped advisory lock, so that writers from
every pod are serialised exactly as SQLite serialises them. That lock is what keeps one ledger
chain when several pods deposit at once.

The schema comes from `courtroom.database.MIGRATIONS`, translated by `postgres_ddl`: one list
of migrations for both engines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .database import MIGRATIONS, Database, _statements

# One advisory lock id for "the court's write lock" (any constant; ASCII "CRTW").
WRITE_LOCK = 0x43525457


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached or used; the message names it."""


class Row(tuple):  # type: ignore[type-arg]
    """A result row that answers by index and by column name, like `sqlite3.Row`."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._index)


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Row]:
    names = [c.name for c in cursor.description or ()]
    index = {name: i for i, name in enumerate(names)}
    return lambda values: Row(values, index)


_PLACEHOLDER = re.compile(r"\?")
# Column names that PostgreSQL reserves and SQLite does not (the record's `end` time). The
# project writes SQL keywords in capitals, so a lowercase word is always a column.
_RESERVED_COLUMNS = re.compile(r"\b(end)\b")
_INSERT_INTO = re.compile(r"^\s*INSERT\s+INTO\s+(\w+)", re.IGNORECASE)


def portable_sql(sql: str) -> str:
    """The store's SQL as psycopg wants it: `?` → `%s` (a literal `%` doubled), reserved
    column names quoted."""
    return _RESERVED_COLUMNS.sub(r'"\1"', _PLACEHOLDER.sub("%s", sql.replace("%", "%%")))


class _Inserted:
    """The cursor of an INSERT, with SQLite's `lastrowid` (from `RETURNING`)."""

    def __init__(self, cursor: Any, lastrowid: int | None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount

    def fetchone(self) -> Any:
        return None

    def fetchall(self) -> list[Any]:
        return []


class PortableConnection:
    """The part of `sqlite3.Connection` the store uses, on a psycopg connection.

    A lost server (a restart, a network cut) is reconnected on the next statement that
    starts fresh; a statement inside a transaction that was lost raises DatabaseUnavailable,
    so nothing is acknowledged that was not stored."""

    def __init__(self, conn: Any, url: str = "") -> None:
        self.raw = conn
        self.url = url
        self._identity: dict[str, str] = {}  # table → its generated key column

    def learn_identities(self) -> None:
        rows = self.raw.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'"
        ).fetchall()
        self._identity = {r[0]: r[1] for r in rows}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        import psycopg

        statement = sql.strip().rstrip(";").upper()
        fresh = not self.in_transaction
        try:
            return self._execute(sql, statement, params)
        except psycopg.OperationalError as exc:
            if not self.raw.closed and not self.raw.broken:
                raise
            if not fresh or statement in ("COMMIT", "ROLLBACK"):
                raise DatabaseUnavailable(f"lost the database {redact(self.url)} in a transaction: {exc}") from exc
            self._reconnect(exc)
            return self._execute(sql, statement, params)

    def _reconnect(self, cause: BaseException) -> None:
        import psycopg

        try:
            self.raw = psycopg.connect(self.url, autocommit=True, connect_timeout=3, row_factory=_row_factory)
        except psycopg.Error as exc:
            raise DatabaseUnavailable(f"cannot reach the database {redact(self.url)}: {exc}") from cause

    def _execute(self, sql: str, statement: str, params: Sequence[Any]) -> Any:
        if statement in ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"):
            cur = self.raw.execute("BEGIN")
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return cur
        if statement in ("BEGIN", "BEGIN DEFERRED"):
            return self.raw.execute("BEGIN")
        text = portable_sql(sql)
        insert = _INSERT_INTO.match(sql)
        if insert and "RETURNING" not in statement and insert.group(1) in self._identity:
            key = self._identity[insert.group(1)]
            cur = self.raw.execute(f"{text.rstrip().rstrip(';')} RETURNING {key}", tuple(params))
            row = cur.fetchone()
            return _Inserted(cur, int(row[0]) if row else None)
        return self.raw.execute(text, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> Any:
        cur = self.raw.cursor()
        cur.executemany(portable_sql(sql), [tuple(r) for r in rows])
        return cur

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        if self.raw.closed or self.raw.broken:
            return False
        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def close(self) -> None:
        self.raw.close()


_AUTOINCREMENT = re.compile(r"\bINTEGER\s+PRIMARY\s+KEY\s+AUTOINCREMENT\b", re.IGNORECASE)
_REAL = re.compile(r"\bREAL\b", re.IGNORECASE)
_INTEGER = re.compile(r"\bINTEGER\b", re.IGNORECASE)


def postgres_ddl(statement: str) -> str:
    """One migration statement from the embedded schema, in PostgreSQL's types.

    REAL is SQLite's 8-byte float (PostgreSQL's REAL is 4 bytes: wall times would lose their
    seconds); INTEGER is SQLite's 8-byte integer.
    """
    out = _AUTOINCREMENT.sub("BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", statement)
    out = _REAL.sub("DOUBLE PRECISION", out)
    return _RESERVED_COLUMNS.sub(r'"\1"', _INTEGER.sub("BIGINT", out))


def migrate(conn: PortableConnection) -> int:
    """Bring the court's database to this server's schema, all or nothing per version.

    Several pods may start at once: the write lock makes one of them migrate, the others
    find the work done."""
    conn.raw.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.raw.execute("SELECT max(version) FROM schema_version").fetchone()
        version = int(row[0] or 0)
        if version > len(MIGRATIONS):
            raise DatabaseUnavailable(
                f"database schema version {version} is newer than this server knows ({len(MIGRATIONS)})"
            )
        for number in range(version, len(MIGRATIONS)):
            for statement in _statements(MIGRATIONS[number]):
                conn.raw.execute(postgres_ddl(statement))
            conn.raw.execute("INSERT INTO schema_version (version) VALUES (%s)", (number + 1,))
        conn.raw.execute("COMMIT")
    except BaseException:
        conn.raw.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return parts._replace(netloc=netloc).geturl()


def connect(url: str, timeout: float = 5.0) -> PortableConnection:
    import psycopg

    try:
        raw = psycopg.connect(url, autocommit=True, connect_timeout=max(1, int(timeout)),
                              row_factory=_row_factory)
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"cannot reach the database {redact(url)}: {exc}".strip()) from exc
    conn = PortableConnection(raw, url)
    migrate(conn)
    conn.learn_identities()
    return conn


class PostgresDatabase(Database):
    """The court's PostgreSQL database with the interface of the embedded `Database`:
    one connection, used from one thread, so the event loop never waits on the network."""

    def __init__(self, url: str) -> None:
        super().__init__(Path(), lambda: connect(url))
        self.url = url
        self.path = redact(url)


def tables(conn: PortableConnection) -> Iterator[str]:
    rows = conn.raw.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchall()
    return (r[0] for r in rows)
