"""A real nginx (Debian's) running deploy/nginx/pod-tls.conf on loopback, for the tests:
its own temp prefix, free ports, started once per test session, as root or not."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT, free_port

EXAMPLE = ROOT / "deploy" / "nginx" / "pod-tls.conf"


@dataclass
class Nginx:
    https_port: int
    http_port: int
    pod_port: int
    prefix: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


def site_config(cert: Path, key: Path, https_port: int, http_port: int, pod_port: int) -> str:
    """The shipped example with only its deployment values replaced (IPv4 loopback only)."""
    text = EXAMPLE.read_text()
    replacements = {
        "server 127.0.0.1:8080;": f"server 127.0.0.1:{pod_port};",
        "listen 443 ssl http2;": f"listen 127.0.0.1:{https_port} ssl http2;",
        "listen 80;": f"listen 127.0.0.1:{http_port};",
        "/etc/ssl/courtroom/fullchain.pem": str(cert),
        "/etc/ssl/courtroom/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in text, f"{EXAMPLE} no longer has {old!r}: update the test"
        text = text.replace(old, new)
    return "\n".join(line for line in text.splitlines() if "listen [::]" not in line) + "\n"


def _wait(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {log.read_text(errors='replace') if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError("nginx did not listen")


@contextlib.contextmanager
def nginx(prefix: Path, cert: Path, key: Path) -> Iterator[Nginx]:
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(binary).exists(), "nginx is installed by `make setup` (Debian package nginx)"
    prefix.mkdir(parents=True, exist_ok=True)
    https_port, http_port, pod_port = free_port(), free_port(), free_port()
    (prefix / "pod-tls.conf").write_text(site_config(cert, key, https_port, http_port, pod_port))
    temp = "\n".join(f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    # As root, nginx's workers would switch to `nobody`, who cannot use this private prefix.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (prefix / "nginx.conf").write_text(
        f"{user}worker_processes 1;\ndaemon off;\npid {prefix / 'nginx.pid'};\nerror_log {prefix / 'error.log'} info;\n"
        f"events {{ worker_connections 128; }}\nhttp {{\n    access_log {prefix / 'access.log'};\n{temp}\n"
        f"    include {prefix / 'pod-tls.conf'};\n}}\n"
    )
    check = subprocess.run([binary, "-t", "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen([binary, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(prefix / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(https_port, proc, prefix / "error.log")
        yield Nginx(https_port, http_port, pod_port, prefix)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
