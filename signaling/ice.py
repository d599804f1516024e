"""Where the pod gathers ICE host candidates.

By default aioice offers every interface address but loopback. A pod may be told to offer
only some addresses: one interface of a multi-homed server, or 127.0.0.1 in tests so that
media never leaves the loopback interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aioice.ice

from courtroom.config import Config
from courtroom.turn import browser_ice_servers


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    allowed = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses


def ice_servers_message(config: Config, participant_id: str) -> dict[str, Any]:
    """What a participant's socket receives first, before it makes its peer: the ICE servers
    for its RTCPeerConnection, with TURN credentials minted for this socket (a reconnect gets
    fresh ones). STUN servers of `--ice-server` without credentials are passed on too; a
    configured TURN password is never sent to a page."""
    stun = tuple(s.urls for s in config.ice_servers if s.urls.startswith("stun:") and not s.credential)
    servers = browser_ice_servers(config.turn_secret, config.turn_urls, participant_id, config.turn_ttl_seconds, stun)
    return {"type": "ice_servers", "ice_servers": servers}
