"""The storage layer: every SQL statement of the court lives in this package.

One module per group of tables (`hearings`, `segments`, `ledger`, `exhibits`, `records`,
`identities`, `leases`, `dockets`), each a small class over the connection, and `Store` holding them
all with `transaction()`. The same code runs on SQLite and on PostgreSQL (through
`courtroom.postgres.PortableConnection`). See docs/court.md, "The store".
"""

from .base import Conflict, NotFound
from .store import Store

__all__ = ["Conflict", "NotFound", "Store"]
