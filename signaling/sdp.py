"""Small SDP checks and rewrites the server needs around aiortc."""

from __future__ import annotations

import ipaddress
import re

MAX_SDP_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # all but tab, CR, LF


class SdpError(ValueError):
    pass


def check_offer(sdp: object) -> str:
    """Reject what is obviously not an SDP offer before aiortc sees it."""
    if not isinstance(sdp, str) or not sdp:
        raise SdpError("sdp must be a non-empty string")
    if len(sdp) > MAX_SDP_BYTES:
        raise SdpError(f"sdp is larger than {MAX_SDP_BYTES} bytes")
    if _CONTROL.search(sdp):
        raise SdpError("sdp contains control characters")
    if not sdp.startswith("v=0"):
        raise SdpError("sdp must start with v=0")
    if "\nm=" not in sdp:
        raise SdpError("sdp has no media section")
    return sdp


def announce_address(sdp: str, public_ip: str) -> str:
    """Replace the address of host candidates with the public one (1:1 NAT, e.g. a cloud VM).

    The port stays: with 1:1 NAT the public address forwards the same port.
    """
    ipaddress.ip_address(public_ip)  # raises ValueError on a bad address
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("a=candidate:") and " typ host" in line:
            parts = line.split(" ")
            if len(parts) > 5:
                parts[4] = public_ip
                line = " ".join(parts)
        lines.append(line)
    return "\r\n".join(lines)
