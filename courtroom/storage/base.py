"""What every part of the store shares: the connection type, NotFound, the write transaction.

The connection is `sqlite3.Connection` or `courtroom.postgres.PortableConnection`; both speak
the same SQL subset (`?` parameters, `BEGIN IMMEDIATE` for the write lock, which PostgreSQL
takes as the court-wide advisory lock), so each part is written once for both engines.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from typing import Any

Connection = Any  # sqlite3.Connection | PortableConnection: the part of DB-API the store uses


class NotFound(Exception):
    pass


class Conflict(Exception):
    """A row with this key is already stored (a primary key or UNIQUE constraint), on either
    engine: callers need not know sqlite3's or psycopg's exception classes."""


def _is_unique_violation(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.IntegrityError):
        return "UNIQUE constraint failed" in str(exc)
    return type(exc).__name__ == "UniqueViolation" and type(exc).__module__.startswith("psycopg")


@contextlib.contextmanager
def unique(what: str) -> Iterator[None]:
    """Around an INSERT: a duplicate key becomes `Conflict(what)`; every other error passes."""
    try:
        yield
    except Exception as exc:
        if _is_unique_violation(exc):
            raise Conflict(what) from exc
        raise


@contextlib.contextmanager
def transaction(conn: Connection) -> Iterator[None]:
    """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on any error).

    Nested uses join the outer one, so a part's all-or-nothing method can run inside a
    larger change (an exhibit's row, its ledger entry and its event at once)."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        # A lost PostgreSQL connection has no transaction left to roll back: let its
        # DatabaseUnavailable (or whatever failed) propagate rather than a second error.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
