"""`courtroom tls self-signed`: what `make run` calls on an address other than loopback."""

from __future__ import annotations

import ipaddress
import shlex
import socket
import sys

from .config import Config
from .tls import self_signed, trust_hint

WILDCARDS = ("0.0.0.0", "::", "")


def machine_addresses() -> list[str]:
    """This machine's addresses (loopback last): what a certificate for 0.0.0.0 must name."""
    import ifaddr  # aioice's own dependency: lists interfaces without parsing `ip` output

    found: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and ip.ip not in found:
                found.append(ip.ip)
    return sorted(found, key=lambda a: ipaddress.ip_address(a).is_loopback)


def self_signed_command(config: Config, hosts: list[str], port: int) -> int:
    names: list[str] = []
    for host in hosts:
        for name in (machine_addresses() + [socket.gethostname(), "localhost"] if host in WILDCARDS else [host]):
            if name not in names:
                names.append(name)
    cert, key, made = self_signed(config.data_dir / "tls", names)
    print(("Made " if made else "Using ") + trust_hint(cert), file=sys.stderr)
    first = names[0]
    url_host = f"[{first}]" if ":" in first else first
    flags = ["--tls-cert", str(cert), "--tls-key", str(key), "--public-url", f"https://{url_host}:{port}"]
    print(" ".join(shlex.quote(f) for f in flags))
    return 0
