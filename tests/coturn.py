"""A real coturn on loopback in the TURN REST-API mode (`use-auth-secret`), for the tests.

Started once per test session by a fixture; `no_udp=True` closes its UDP listener, as a
firewall that lets only TCP through would.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

REALM = "court.test"


@dataclass
class Coturn:
    port: int
    secret: str
    log: Path
    udp: bool

    def urls(self) -> tuple[str, ...]:
        """What the pod is configured with: UDP and TCP (the TLS `turns:` URL is production's)."""
        return (f"turn:127.0.0.1:{self.port}?transport=udp", f"turn:127.0.0.1:{self.port}?transport=tcp")

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"coturn did not listen on 127.0.0.1:{port}")


@contextlib.contextmanager
def coturn(folder: Path, secret: str, *, no_udp: bool = False, relay_ports: tuple[int, int] = (49310, 49400)) -> Iterator[Coturn]:
    binary = shutil.which("turnserver")
    assert binary, "coturn is installed by `make setup` (Debian package coturn)"
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = folder / f"turnserver-{port}.log"
    args = [binary, "-n", "--listening-ip=127.0.0.1", "--relay-ip=127.0.0.1", f"--listening-port={port}",
            f"--min-port={relay_ports[0]}", f"--max-port={relay_ports[1]}",
            "--use-auth-secret", f"--static-auth-secret={secret}", f"--realm={REALM}",
            "--no-tls", "--no-dtls", "--no-cli", "--allow-loopback-peers",  # loopback: tests only
            "--no-multicast-peers", "--fingerprint", "--verbose", f"--log-file={log}", "--simple-log",
            f"--pidfile={folder / f'turnserver-{port}.pid'}"]
    if no_udp:
        args.append("--no-udp")
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_listening(port)
        yield Coturn(port, secret, log, udp=not no_udp)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
