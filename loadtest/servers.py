"""The server under test: started as a subprocess (the pod or the relay baseline) or found
already running on a loopback port; its CPU and memory read from /proc; its API."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ipaddress
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def courtroom_command() -> list[str]:
    exe = Path(sys.executable).parent / "courtroom"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("courtroom")
    return [found] if found else [sys.executable, "-m", "courtroom"]


def is_loopback_url(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- /proc ---------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def process_tree(pid: int) -> list[int]:
    """pid and all its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of the processes (every thread), in seconds."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            f = _stat_fields(pid)
            total += int(f[11]) + int(f[12])
    return total / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
                        break
    return total


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    total = sum(values[:8])
    return (total - idle) / CLK_TCK, total / CLK_TCK


def find_listening_pid(port: int) -> int | None:
    """The process listening on a local TCP port (needs permission to read its fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
    if not inodes:
        return None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{entry}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{entry}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        return int(entry)
    return None


@dataclass
class Usage:
    """CPU and memory of a process tree over a window."""

    pid: int
    cpu0: float = 0.0
    t0: float = 0.0
    rss_max: float = 0.0
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.cpu0 = cpu_seconds(process_tree(self.pid))
        self.t0 = time.monotonic()
        self.rss_max = rss_mb(process_tree(self.pid))
        self._task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            self.rss_max = max(self.rss_max, rss_mb(process_tree(self.pid)))

    def stop(self) -> tuple[float, float]:
        """(CPU in cores over the window, max RSS in MB)."""
        if self._task is not None:
            self._task.cancel()
        cpu = cpu_seconds(process_tree(self.pid)) - self.cpu0
        elapsed = max(1e-6, time.monotonic() - self.t0)
        return cpu / elapsed, max(self.rss_max, rss_mb(process_tree(self.pid)))


# --- the server ----------------------------------------------------------------------------


@dataclass
class Server:
    """A pod or relay server under test; `proc` is None for one that was already running."""

    url: str
    admin_key: str
    pid: int | None
    design: str
    proc: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None
    log_path: Path | None = None
    command: list[str] = field(default_factory=list)

    def log_tail(self, chars: int = 3000) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")[-chars:]

    async def stop(self, grace: float = 8.0) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(proc.wait, grace)
        # Its own process group: whatever it started goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(2)


def die_with_parent() -> None:
    """In a child before exec: SIGTERM it when the load test dies, even by SIGKILL, so no
    server or worker outlives a run (Linux prctl PR_SET_PDEATHSIG)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _spawn(cmd: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent)


async def start_server(
    design: str,
    work: Path,
    *,
    width: int,
    height: int,
    fps: int,
    asr_engine: str,
    extra: list[str],
    cpus: list[int] | None,
    timeout: float = 90.0,
) -> Server:
    """`courtroom serve` (design pod) or `python -m loadtest.relay_server` (design relay) on
    a free loopback port, media on 127.0.0.1 only; returns once /healthz answers."""
    port = free_port()
    key = secrets.token_urlsafe(24)
    data = work / f"{design}-data"
    data.mkdir(parents=True, exist_ok=True)
    if design == "pod":
        cmd = [*courtroom_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data", str(data),
               "--ice-address", "127.0.0.1", "--video-size", f"{width}x{height}", "--fps", str(fps),
               "--asr-engine", asr_engine, *extra]
    else:
        cmd = [sys.executable, "-m", "loadtest.relay_server", "--host", "127.0.0.1", "--port", str(port),
               "--ice-address", "127.0.0.1", *extra]
    env = dict(os.environ)
    env["COURTROOM_ADMIN_KEY"] = key
    env.pop("COURTROOM_DATA", None)
    env.setdefault("PYTHONUNBUFFERED", "1")
    log_path = work / f"{design}-server.log"
    proc = _spawn(cmd, env, log_path)
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(proc.pid, cpus)
    server = Server(f"http://127.0.0.1:{port}", key, proc.pid, design, proc, data, log_path, cmd)
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the {design} server exited with {proc.returncode}:\n{server.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with session.get(server.url + "/healthz") as r:
                    if r.status == 200:
                        return server
            if time.monotonic() > deadline:
                await server.stop()
                raise RuntimeError(f"the {design} server gave no /healthz within {timeout:.0f} s:\n{server.log_tail()}")
            await asyncio.sleep(0.1)


def attach_server(url: str, admin_key: str, pid: int | None, design: str) -> Server:
    """A server that is already running (on loopback: the load test sends nothing elsewhere)."""
    if not is_loopback_url(url):
        raise ValueError(f"--url must be a loopback address (127.0.0.1, ::1, localhost), got {url}")
    if pid is None:
        port = urlparse(url).port or 80
        pid = find_listening_pid(port)
    return Server(url.rstrip("/"), admin_key, pid, design)


# --- the API -------------------------------------------------------------------------------


class Api:
    """The part of the hearing API the load test uses, with the clerk's key."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        await self.session.close()

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.server.admin_key}"}
        async with self.session.request(method, self.server.url + path, json=body, headers=headers) as r:
            data = await r.json(content_type=None)
            if r.status >= 400:
                raise RuntimeError(f"{method} {path}: {r.status} {data}")
            return data

    async def create_hearing(self, number: int, run_id: str) -> dict[str, Any]:
        body = {
            "case_number": f"(2026)京0491民初{run_id}-{number}号",
            "title": f"负载测试 Load test hearing {number}",
            "procedure": "simple",
            "public": True,
        }
        return dict(await self._call("POST", "/api/hearings", body))

    async def add(self, hearing_id: str, role: str, name: str, side: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"role": role, "name": name}
        if side:
            body["side"] = side
        return dict(await self._call("POST", f"/api/hearings/{hearing_id}/participants", body))

    async def stats(self, hearing_id: str) -> dict[str, Any] | None:
        try:
            return dict(await self._call("GET", f"/api/hearings/{hearing_id}/stats"))
        except (RuntimeError, aiohttp.ClientError, TimeoutError, ValueError):
            return None

    async def close_hearing(self, hearing_id: str) -> None:
        with contextlib.suppress(RuntimeError, aiohttp.ClientError, TimeoutError, ValueError):
            await self._call("POST", f"/api/hearings/{hearing_id}/actions", {"action": "close"})
