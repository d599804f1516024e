"""Each judge's standing docket link (`docket_links`): the nonce the link's token must carry.
Issuing again replaces the nonce (the old link dies); revoking clears it. The rules live in
`courtroom/docket.py`."""

from __future__ import annotations

from typing import Any

from ..docket import DocketLink
from .base import Connection, NotFound, transaction


def _link(r: Any) -> DocketLink:
    return DocketLink(r["name"], r["nonce"], float(r["issued_at"]),
                      None if r["revoked_at"] is None else float(r["revoked_at"]))


class DocketLinkRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def issue(self, name: str, nonce: str, when: float) -> None:
        """The judge's link is now the one with this nonce (any earlier one is superseded)."""
        self.conn.execute(
            "INSERT INTO docket_links (name, nonce, issued_at, revoked_at) VALUES (?, ?, ?, NULL) "
            "ON CONFLICT(name) DO UPDATE SET nonce = excluded.nonce, issued_at = excluded.issued_at, revoked_at = NULL",
            (name, nonce, when),
        )

    def get(self, name: str) -> DocketLink | None:
        row = self.conn.execute("SELECT name, nonce, issued_at, revoked_at FROM docket_links WHERE name = ?",
                                (name,)).fetchone()
        return _link(row) if row else None

    def all(self) -> list[DocketLink]:
        rows = self.conn.execute(
            "SELECT name, nonce, issued_at, revoked_at FROM docket_links ORDER BY issued_at DESC, name").fetchall()
        return [_link(r) for r in rows]

    def revoke(self, name: str, when: float) -> DocketLink:
        """Clear the link's nonce (NotFound if none was ever issued); revoking twice keeps the
        first time."""
        with transaction(self.conn):
            self.conn.execute("UPDATE docket_links SET nonce = '', revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                              (when, name))
            link = self.get(name)
        if link is None:
            raise NotFound(f"no docket link was issued for {name}")
        return link
