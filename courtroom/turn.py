"""Short-lived TURN credentials for browsers, in coturn's REST-API form.

coturn started with `use-auth-secret` and `static-auth-secret=SECRET` accepts any username
`EXPIRY:ID` (EXPIRY a Unix time in the future) whose password is
base64(HMAC-SHA1(SECRET, username)). The pod shares the secret with coturn and mints one such
pair per socket, so no long-lived TURN password ever reaches a page, and a credential that
leaks dies by itself. The same scheme Jitsi and BigBlueButton use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

TURN_SCHEMES = ("turn:", "turns:", "stun:")


@dataclass(frozen=True)
class TurnCredentials:
    username: str
    credential: str
    expires: int  # Unix time


def mint(secret: str, who: str, ttl_seconds: float, now: float | None = None) -> TurnCredentials:
    """coturn's REST-API credentials for `who`, valid for `ttl_seconds` from `now`."""
    if not secret:
        raise ValueError("a TURN shared secret is needed to mint credentials")
    expires = int((time.time() if now is None else now) + ttl_seconds)
    username = f"{expires}:{who}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return TurnCredentials(username, base64.b64encode(digest).decode("ascii"), expires)


def check_url(url: str) -> str:
    if not url.startswith(TURN_SCHEMES):
        raise ValueError(f"a TURN URL starts with turn:, turns: or stun: (got {url!r})")
    return url


def browser_ice_servers(
    secret: str, urls: tuple[str, ...], who: str, ttl_seconds: float,
    stun_urls: tuple[str, ...] = (), now: float | None = None,
) -> list[dict[str, Any]]:
    """The `iceServers` of one participant's RTCPeerConnection: the TURN URLs with fresh
    credentials (when a secret is configured), and any credential-free STUN servers."""
    servers: list[dict[str, Any]] = []
    if secret and urls:
        c = mint(secret, who, ttl_seconds, now)
        servers.append({"urls": list(urls), "username": c.username, "credential": c.credential})
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    return servers
