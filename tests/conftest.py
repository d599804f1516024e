"""Shared fixtures: a real courtroom server on a loopback port, an HTTP helper, an in-process Court.

Server fixtures
    server_factory            async, function scope: ``await server_factory(*extra_args, data_dir=None,
                              port=None, admin_key=<random>, env=None, asr_engine="off")`` starts
                              ``courtroom serve`` as a subprocess and returns a started `CourtroomServer`;
                              every server it made is stopped at teardown. Extra args go after
                              the defaults (e.g. "--video-size", "640x360", "--config", FILE);
                              admin_key=None leaves COURTROOM_ADMIN_KEY unset (DATA/admin.key is used).
    server                    async, function scope: ``await server_factory()``.
    module_server             sync, module scope: one server shared by a test module (faster;
                              never kill or restart it).
Server object (`CourtroomServer`)
    .url .host .port .data_dir .admin_key .proc .args .log_path .alive
    kill()                    SIGKILL, wait for the process
    await stop()              SIGTERM, then SIGKILL after 5 s (sync: terminate())
    await restart()           stop if still running, start again on the same data folder and port
    await start(within=30) / start_sync()   start and wait for /healthz
    signer(ttl)               a TokenSigner over the server's secret.key (forge expired tokens)
    log()                     the server's output so far
HTTP helpers
    api                       async, function scope: `Api` bound to `server`
    shared_api                async, function scope: `Api` bound to `module_server`
    api_factory               async, function scope: ``api_factory(server) -> Api``
Api
    await request(method, path, token, json=..., data=..., headers=None) -> Reply
                              Reply: .status .json .text .headers; unpacks as `status, body = reply`
    await create_hearing(**body) -> hearing JSON (asserts 201)
    await add(hearing_id, role, name, side=None) -> participant JSON with token (asserts 201)
    await act(hearing_id, action, token=None, participant=None, **extra) -> Reply
    await get_hearing(hearing_id, token=None) -> Reply
    await events(hearing_id, token=None) -> list of event dicts (asserts 200)
    await hearing_with(*people, **body) -> (hearing, [participant, ...]); people are
                              (role, name) or (role, name, side) tuples
    token=None means the clerk's key (except in `request`, where None sends no credentials).
Other
    court                     async, function scope: an in-process `Court` on a fresh data folder
    assert_error(reply, status, code=None)  the JSON error shape, no traceback
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json as jsonlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
_RANDOM_KEY: Any = object()  # sentinel: make up an admin key
_NO_JSON: Any = object()


def courtroom_command() -> list[str]:
    """How to run the `courtroom` command from this checkout."""
    exe = ROOT / ".venv" / "bin" / "courtroom"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("courtroom")
    if found:
        return [found]
    return [sys.executable, "-m", "courtroom"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerError(RuntimeError):
    pass


@dataclass
class CourtroomServer:
    """A `courtroom serve` subprocess on 127.0.0.1."""

    data_dir: Path
    port: int
    admin_key: str | None
    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    asr_engine: str | None = "off"
    log_path: Path | None = None
    host: str = "127.0.0.1"
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    key_in_env: bool = True  # False: the server keeps its key in DIR/admin.key

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def command(self) -> list[str]:
        cmd = [*courtroom_command(), "serve", "--host", self.host, "--port", str(self.port),
               "--data", str(self.data_dir)]
        if self.asr_engine is not None:
            cmd += ["--asr-engine", self.asr_engine]
        return cmd + list(self.args)

    def _environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("COURTROOM_DATA", None)
        env.pop("COURTROOM_ADMIN_KEY", None)
        if self.key_in_env and self.admin_key is not None:
            env["COURTROOM_ADMIN_KEY"] = self.admin_key
        env.update(self.env)
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    def _spawn(self) -> None:
        if self.alive:
            raise ServerError("the server is already running")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or self.data_dir.parent / f"server-{self.port}.log"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(log_path, "ab") as log:
            log.write(f"\n--- start {self.starts}: {' '.join(self.command())}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                self.command(),
                cwd=str(ROOT),
                env=self._environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _after_start(self) -> None:
        if not self.key_in_env:  # no COURTROOM_ADMIN_KEY: the server made DIR/admin.key
            self.admin_key = (self.data_dir / "admin.key").read_text().strip()

    def _check_alive(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            raise ServerError(f"the server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")

    async def start(self, within: float = START_TIMEOUT) -> CourtroomServer:
        """Start and wait until /healthz answers (at most `within` seconds)."""
        self._spawn()
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                self._check_alive()
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    async with session.get(self.url + "/healthz") as r:
                        if r.status == 200:
                            break
                if time.monotonic() > deadline:
                    self.kill()
                    raise ServerError(f"no /healthz within {within} s:\n{self.log()[-4000:]}")
                await asyncio.sleep(0.05)
        self._after_start()
        return self

    def start_sync(self, timeout: float = START_TIMEOUT) -> CourtroomServer:
        self._spawn()
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            with contextlib.suppress(urllib.error.URLError, OSError):
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            if time.monotonic() > deadline:
                self.kill()
                raise ServerError(f"no /healthz within {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.05)
        self._after_start()
        return self

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up (a power cut, an OOM kill)."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def terminate(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL when it has not exited after `timeout` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Anything it started in its own process group goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        return self.proc.returncode

    async def stop(self, grace: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns the exit code."""
        return await asyncio.to_thread(self.terminate, grace)

    async def restart(self, within: float = START_TIMEOUT) -> CourtroomServer:
        """Stop it if it still runs, then start it again on the same data folder and port."""
        if self.alive:
            await self.stop()
        return await self.start(within)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def secret(self) -> str:
        return (self.data_dir / "secret.key").read_text().strip()

    def signer(self, ttl: float = 3600.0) -> Any:
        from courtroom.auth import TokenSigner

        return TokenSigner(self.secret(), ttl)


def make_server(
    base: Path,
    *args: str,
    data_dir: Path | None = None,
    port: int | None = None,
    admin_key: Any = _RANDOM_KEY,
    env: dict[str, str] | None = None,
    asr_engine: str | None = "off",
) -> CourtroomServer:
    """A server description (not started). `admin_key=None` leaves COURTROOM_ADMIN_KEY unset."""
    key = secrets.token_urlsafe(24) if admin_key is _RANDOM_KEY else admin_key
    return CourtroomServer(
        data_dir=Path(data_dir) if data_dir is not None else base / "data",
        port=port or free_port(),
        admin_key=key,
        key_in_env=key is not None,
        args=tuple(args),
        env=dict(env or {}),
        asr_engine=asr_engine,
        log_path=base / f"server-{secrets.token_hex(3)}.log",
    )


ServerFactory = Callable[..., Awaitable[CourtroomServer]]


@pytest.fixture
async def server_factory(tmp_path: Path) -> AsyncIterator[ServerFactory]:
    made: list[CourtroomServer] = []
    counter = itertools.count()

    async def factory(*args: str, **kwargs: Any) -> CourtroomServer:
        n = next(counter)
        base = tmp_path if n == 0 else tmp_path / f"server{n}"
        server = make_server(base, *args, **kwargs)
        made.append(server)
        return await server.start()

    yield factory
    await asyncio.gather(*(s.stop() for s in made))


@pytest.fixture
async def server(server_factory: ServerFactory) -> CourtroomServer:
    return await server_factory()


@pytest.fixture(scope="module")
def module_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CourtroomServer]:
    server = make_server(tmp_path_factory.mktemp("module_server"))
    server.start_sync()
    try:
        yield server
    finally:
        server.terminate()


# --- HTTP -----------------------------------------------------------------------------------


@dataclass
class Reply:
    """A response: `status, body = reply` unpacks like a pair."""

    status: int
    json: Any
    text: str = ""
    headers: Any = None

    def __iter__(self) -> Iterator[Any]:
        return iter((self.status, self.json))


def assert_error(reply: Reply, status: int, code: str | None = None) -> dict[str, Any]:
    """An HTTP error at the edge: `{"error": code, "message": text}` JSON, never a traceback."""
    assert reply.status == status, (reply.status, reply.text)
    assert "Traceback" not in reply.text
    assert isinstance(reply.json, dict), reply.text
    assert set(reply.json) == {"error", "message"}, reply.json
    assert isinstance(reply.json["error"], str) and reply.json["error"]
    assert isinstance(reply.json["message"], str) and reply.json["message"]
    if code is not None:
        assert reply.json["error"] == code, reply.json
    if reply.headers is not None:
        assert reply.headers.get("Content-Type", "").startswith("application/json")
    return reply.json


_case_numbers = itertools.count(1)


class Api:
    """The hearing API over HTTP, as a client would call it."""

    def __init__(self, session: aiohttp.ClientSession, server: CourtroomServer) -> None:
        self.session = session
        self.server = server

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin_key(self) -> str:
        assert self.server.admin_key is not None
        return self.server.admin_key

    async def request(
        self,
        method: str,
        path: str,
        token: str | None,
        json: Any = _NO_JSON,
        data: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """`token=None` sends no credentials at all."""
        hdrs = dict(headers or {})
        if token is not None:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        kwargs: dict[str, Any] = {"headers": hdrs}
        if json is not _NO_JSON:
            kwargs["json"] = json
        if data is not None:
            kwargs["data"] = data
        async with self.session.request(method, self.url + path, **kwargs) as r:
            text = await r.text(errors="replace")
            try:
                body = jsonlib.loads(text) if text else None
            except ValueError:
                body = None
            return Reply(r.status, body, text, r.headers)

    def _key(self, token: str | None) -> str:
        return self.admin_key if token is None else token

    async def create_hearing(self, **body: Any) -> dict[str, Any]:
        body.setdefault("case_number", f"(2026)京0491民初{next(_case_numbers)}号")
        body.setdefault("procedure", "simple")
        r = await self.request("POST", "/api/hearings", self.admin_key, json=body)
        assert r.status == 201, r.text
        return r.json

    async def add(self, hearing_id: str, role: str, name: str, side: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"role": role, "name": name}
        if side is not None:
            body["side"] = side
        r = await self.request("POST", f"/api/hearings/{hearing_id}/participants", self.admin_key, json=body)
        assert r.status == 201, r.text
        return r.json

    async def act(
        self,
        hearing_id: str,
        action: str,
        token: str | None = None,
        participant: str | dict[str, Any] | None = None,
        **extra: Any,
    ) -> Reply:
        body: dict[str, Any] = {"action": action, **extra}
        if participant is not None:
            body["participant"] = participant["id"] if isinstance(participant, dict) else participant
        return await self.request("POST", f"/api/hearings/{hearing_id}/actions", self._key(token), json=body)

    async def get_hearing(self, hearing_id: str, token: str | None = None) -> Reply:
        return await self.request("GET", f"/api/hearings/{hearing_id}", self._key(token))

    async def events(self, hearing_id: str, token: str | None = None) -> list[dict[str, Any]]:
        r = await self.request("GET", f"/api/hearings/{hearing_id}/events", self._key(token))
        assert r.status == 200, r.text
        return r.json["events"]

    async def hearing_with(self, *people: tuple[str, ...], **body: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        hearing = await self.create_hearing(**body)
        added = [await self.add(hearing["id"], *person) for person in people]
        return hearing, added


ApiFactory = Callable[[CourtroomServer], Api]


@pytest.fixture
async def api_factory() -> AsyncIterator[ApiFactory]:
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
    try:
        yield lambda server: Api(session, server)
    finally:
        await session.close()


@pytest.fixture
async def api(server: CourtroomServer, api_factory: ApiFactory) -> Api:
    return api_factory(server)


@pytest.fixture
async def shared_api(module_server: CourtroomServer, api_factory: ApiFactory) -> Api:
    return api_factory(module_server)


# --- in-process domain ------------------------------------------------------------------------


@pytest.fixture
async def court(tmp_path: Path) -> AsyncIterator[Any]:
    """A Court on a fresh data folder, without any HTTP (closed at teardown)."""
    from courtroom.admin import open_court
    from courtroom.config import Config

    c = open_court(Config(data_dir=tmp_path / "court-data"))
    try:
        yield c
    finally:
        c.db.close()


# --- The court's services, started once per test session (localcourt/services.py) -----------

@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A private PostgreSQL cluster on loopback (a database per test: `.database_url(name)`)."""
    import tempfile

    from localcourt.services import Postgres

    # Not under pytest's folder: the `postgres` user must be able to enter it.
    cluster = Postgres(Path(tempfile.mkdtemp(prefix="courtroom-pg-"))).start()
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """SeaweedFS with its S3 gateway on loopback (`.bucket_url(name)`)."""
    from localcourt.services import Seaweed

    store = Seaweed(tmp_path_factory.mktemp("seaweedfs")).start()
    try:
        yield store
    finally:
        store.stop()


@pytest.fixture
def gate(seaweed: Any) -> Iterator[Any]:
    """A TCP gate in front of SeaweedFS's S3 port that a test shuts and opens (tests/bucket_gate.py)."""
    from tests.bucket_gate import Gate

    g = Gate(seaweed.s3_port)
    try:
        yield g
    finally:
        g.close()
