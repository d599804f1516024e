"""A judge's docket: the hearings a judge sits in today and in the coming week, and the judge's
standing link to it, issued by the clerk.

A judge is a participant of each hearing (role `judge`), known across hearings by name. The
standing link carries a signed token (the join tokens' signer) whose role is `docket` and
whose subject is the judge's name: it opens no hearing by itself (no participant has that id),
only the list, and each listed hearing opens the console with that hearing's own judge token.

The link can be taken back: its token carries a nonce stored in the court's database
(`docket_links`), and the docket is served only while the token's nonce is the stored one.
Issuing a link again for the same judge replaces the nonce (the earlier link dies); the clerk's
revocation clears it. Being in the shared database, either takes effect at once on every pod.
The per-hearing judge tokens the docket already handed out are those hearings' own join tokens:
revoking the docket link does not touch them; they live out their own lifetime (docs/api.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from .auth import AuthError, TokenSigner, new_nonce, same_secret
from .hearing import Hearing
from .participants import Participant, ParticipantState
from .procedure import LIVE, HearingState
from .roles import Role

if TYPE_CHECKING:
    from .court import Court

DOCKET_ROLE = "docket"
DOCKET_SCOPE = "-"  # in the token's hearing field: no hearing
DAYS_AHEAD = 7


@dataclass(frozen=True)
class DocketEntry:
    hearing: Hearing
    judge: Participant


@dataclass(frozen=True)
class DocketLink:
    """A judge's current standing link: `nonce` is '' once revoked."""

    name: str
    nonce: str
    issued_at: float
    revoked_at: float | None = None

    def as_dict(self) -> dict[str, Any]:
        # Never the nonce: the list tells the clerk which links live, not how to forge one.
        return {"name": self.name, "issued_at": self.issued_at, "revoked_at": self.revoked_at,
                "active": self.revoked_at is None}


def _link_token(signer: TokenSigner, judge_name: str, nonce: str) -> str:
    return signer.issue(DOCKET_SCOPE, judge_name, DOCKET_ROLE, nonce)


async def issue_link(court: Court, judge_name: str) -> str:
    """A new standing link for the judge; any earlier one stops working."""
    nonce = new_nonce()
    await court.db.run(court.store.docket_links.issue, judge_name, nonce, time.time())
    return _link_token(court.signer, judge_name, nonce)


async def revoke_link(court: Court, judge_name: str) -> DocketLink:
    """Take the judge's link back (NotFound if none was ever issued; revoking twice is harmless)."""
    return await court.db.run(court.store.docket_links.revoke, judge_name, time.time())


async def judge_of_link(court: Court, token: str) -> str:
    """The judge's name a standing link was issued for, while it is the judge's current link."""
    claims = court.signer.verify(token)
    if claims.role != DOCKET_ROLE or claims.hearing_id != DOCKET_SCOPE or not claims.participant_id:
        raise AuthError("bad_token", "this is not a judge's docket link")
    link = await court.db.run(court.store.docket_links.get, claims.participant_id)
    if link is None or not link.nonce or not same_secret(claims.nonce, link.nonce):
        raise AuthError("link_revoked", "this docket link has been revoked or replaced: ask the clerk for a new one")
    return claims.participant_id


def window(now: float | None = None, tz: tzinfo | None = None) -> tuple[float, float]:
    """From the start of today (in the court's time zone) to the end of the seventh day after it."""
    start = datetime.fromtimestamp(time.time() if now is None else now, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    return start.timestamp(), (start + timedelta(days=DAYS_AHEAD + 1)).timestamp()


def on_docket(hearing: Hearing, now: float | None = None, tz: tzinfo | None = None) -> bool:
    """Live now, or scheduled today or in the coming week (unscheduled open business too)."""
    if hearing.state in LIVE:
        return True
    start, end = window(now, tz)
    if hearing.scheduled_at is None:
        return hearing.state is HearingState.SCHEDULED
    return start <= hearing.scheduled_at < end


def docket(name: str, hearings: list[tuple[Hearing, list[Participant]]], now: float | None = None,
           tz: tzinfo | None = None) -> list[DocketEntry]:
    out = []
    for hearing, people in hearings:
        judge = next(
            (p for p in people if p.role is Role.JUDGE and p.name == name and p.state is not ParticipantState.REMOVED),
            None,
        )
        if judge is not None and on_docket(hearing, now, tz):
            out.append(DocketEntry(hearing, judge))
    out.sort(key=lambda e: (e.hearing.scheduled_at is None, e.hearing.scheduled_at or 0.0, e.hearing.created_at))
    return out


def entry_dict(entry: DocketEntry, console_url: str) -> dict[str, Any]:
    h = entry.hearing
    return {
        "id": h.id,
        "case_number": h.case_number,
        "title": h.title,
        "court": h.court,
        "procedure": h.procedure.value,
        "state": h.state.value,
        "scheduled_at": h.scheduled_at,
        "console_url": console_url,
    }
