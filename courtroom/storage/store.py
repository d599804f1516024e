"""The `Store`: one object over the court's connection, with one part per group of tables.

Nothing outside `courtroom/storage/` (and the connection modules `database.py`,
`postgres.py`) writes SQL or touches a connection: the domain asks `court.store` for rows.
Its methods are synchronous and run on the database thread (`court.db.run`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .base import Connection, transaction
from .dockets import DocketLinkRows
from .exhibits import ExhibitRows
from .hearings import HearingRows
from .identities import IdentityRows
from .leases import LeaseRows
from .ledger import LedgerRows
from .records import RecordRows
from .segments import SegmentRows

if TYPE_CHECKING:
    from ..database import Database


class Store:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.hearings = HearingRows(conn)  # hearings, participants, events
        self.segments = SegmentRows(conn)  # the transcript's segments and their edits
        self.ledger = LedgerRows(conn)
        self.exhibits = ExhibitRows(conn)
        self.records = RecordRows(conn)  # the record's state, versions, statements, signature images
        self.identities = IdentityRows(conn)
        self.leases = LeaseRows(conn)
        self.docket_links = DocketLinkRows(conn)  # each judge's standing docket link

    @classmethod
    def of(cls, db: Database) -> Store:
        """The store over a database's connection (use it on that database's thread)."""
        return cls(db.conn)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction across every part (nested uses join the outer one)."""
        with transaction(self._conn):
            yield

    @property
    def in_transaction(self) -> bool:
        return bool(self._conn.in_transaction)
