"""Who is calling: the clerk's API key or a participant's join token."""

from __future__ import annotations

from aiohttp import web

from courtroom.auth import same_secret
from courtroom.court import Actor, Court
from courtroom.roles import Role

from .errors import ApiError
from .validation import credential_text


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise ApiError(401, "unauthorized", "send Authorization: Bearer KEY (the clerk's key or a join token)")
    return credential_text(value.strip())


async def actor_for(court: Court, admin_key: str, credential: str) -> Actor:
    if same_secret(credential, admin_key):
        return Actor.clerk()
    _, participant = await court.authenticate(credential)
    return Actor(participant.id, participant.role, participant)


async def caller(request: web.Request, court: Court, admin_key: str) -> Actor:
    return await actor_for(court, admin_key, bearer(request))


def require_clerk(actor: Actor) -> None:
    if actor.participant is not None:
        raise ApiError(403, "forbidden", "only the clerk's key may do this")


def require_hearing(actor: Actor, hearing_id: str, roles: frozenset[Role] | None = None) -> None:
    """The clerk may see every hearing; a participant only its own (and only in `roles`)."""
    if actor.participant is None:
        return
    if actor.participant.hearing_id != hearing_id:
        raise ApiError(403, "forbidden", "your token is for another hearing")
    if roles is not None and actor.role not in roles:
        raise ApiError(403, "forbidden", f"a {actor.role.value} may not do this")
