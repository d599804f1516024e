"""Where the pod gathers ICE host candidates.

By default aioice offers every interface address but loopback. A pod may be told to offer
only some addresses: one interface of a multi-homed server, or 127.0.0.1 in tests so that
media never leaves the loopback interface.
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice


def restrict_host_addresses(addresses: Sequence[str]) -> None:
    allowed = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in allowed if (use_ipv6 if ":" in a else use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses
