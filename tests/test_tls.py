"""HTTPS: `courtroom serve --tls-cert --tls-key` serves the pod over TLS and refuses a missing,
stale or mismatched certificate naming the file; `courtroom tls self-signed` (what `make run`
uses off loopback) makes a certificate once; the shipped nginx example (deploy/nginx/pod-tls.conf)
terminates TLS in front of a pod and carries the signaling WebSocket, run by a real nginx."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from courtroom.cli import main as cli_main
from courtroom.tls import TlsError, self_signed, server_context
from tests.conftest import ROOT, courtroom_command, make_server
from tests.nginx_proxy import Nginx, nginx

pytestmark = pytest.mark.timeout(120)


def client_context(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def expired_pair(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - dt.timedelta(days=30)).not_valid_after(now - dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "old.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "old.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "old.pem", folder / "old.key"


def serve_fails(tmp_path: Path, *args: str) -> str:
    result = subprocess.run([*courtroom_command(), "serve", "--data", str(tmp_path / "data"), "--asr-engine", "off", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    return result.stderr


def test_a_bad_certificate_stops_the_server_naming_the_file(tmp_path: Path, capsys: Any) -> None:
    good_cert, good_key, _ = self_signed(tmp_path / "good", ["127.0.0.1"])
    _, other_key, _ = self_signed(tmp_path / "other", ["127.0.0.1"])
    old_cert, old_key = expired_pair(tmp_path / "old")
    missing = tmp_path / "nowhere" / "cert.pem"
    # The real command, once: a stale certificate, exit status 2, the file named.
    err = serve_fails(tmp_path, "--tls-cert", str(old_cert), "--tls-key", str(old_key))
    assert str(old_cert) in err and "expired" in err, err
    # The same check, in-process, for the other faults.
    cases = [
        ((missing, good_key), str(missing), "cannot read"),
        ((good_cert, other_key), str(other_key), "does not fit"),
        ((good_cert, tmp_path / "no.key"), "no.key", "no such file"),
        ((good_key, good_key), str(good_key), "not a PEM certificate"),
    ]
    for (cert, key), name, why in cases:
        with pytest.raises(TlsError) as caught:
            server_context(cert, key)
        assert name in str(caught.value) and why in str(caught.value), caught.value
    with pytest.raises(SystemExit):
        cli_main(["serve", "--data", str(tmp_path / "data"), "--tls-cert", str(good_cert)])
    assert "--tls-key" in capsys.readouterr().err


def test_self_signed_is_made_once(tmp_path: Path) -> None:
    run = [*courtroom_command(), "tls", "self-signed", "--data", str(tmp_path), "--host", "127.0.0.1", "--port", "9443"]
    first = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    cert = tmp_path / "tls" / "cert.pem"
    assert first.stdout.split()[:2] == ["--tls-cert", str(cert)], first.stdout
    assert "https://127.0.0.1:9443" in first.stdout
    assert "Made a self-signed certificate" in first.stderr and "update-ca-certificates" in first.stderr, first.stderr
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0, "the key is private"
    before = cert.read_bytes()
    second = subprocess.run(run, capture_output=True, text=True, timeout=60, check=True)
    assert "Using a self-signed" in second.stderr and cert.read_bytes() == before, "made again"
    third = subprocess.run([*run, "--host", "court.test"], capture_output=True, text=True, timeout=60, check=True)
    assert "Made" in third.stderr and cert.read_bytes() != before, "a new name needs a new certificate"


async def first_messages(url: str, token: str, context: ssl.SSLContext, n: int = 2) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{url}/ws?token={token}", ssl=context) as ws:
        await ws.send_str(json.dumps({"type": "hello"}))
        return [json.loads((await ws.receive(timeout=10)).data) for _ in range(n)]


async def start_https(server: Any, context: ssl.SSLContext, within: float = 30.0) -> None:
    """The fixture's start, over HTTPS: spawn, then wait for /healthz."""
    server._spawn()
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while True:
            server._check_alive()
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                async with http.get(f"https://127.0.0.1:{server.port}/healthz", ssl=context) as reply:
                    if reply.status == 200:
                        return
            assert time.monotonic() < deadline, server.log()[-3000:]
            await asyncio.sleep(0.1)


async def test_serve_over_https(tmp_path: Path) -> None:
    cert, key, _ = self_signed(tmp_path / "tls", ["127.0.0.1"])
    server = make_server(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    await start_https(server, client_context(cert))
    try:
        api_key = server.admin_key
        async with aiohttp.ClientSession() as http:
            base = f"https://127.0.0.1:{server.port}"
            async with http.post(f"{base}/api/hearings", ssl=client_context(cert), headers={"Authorization": f"Bearer {api_key}"},
                                 json={"case_number": "(2026)京0491民初9号", "title": "t", "procedure": "simple"}) as reply:
                hearing = await reply.json()
            async with http.post(f"{base}/api/hearings/{hearing['id']}/participants", ssl=client_context(cert),
                                 headers={"Authorization": f"Bearer {api_key}"}, json={"name": "王法官", "role": "judge"}) as reply:
                judge = await reply.json()
            assert judge["join_url"].startswith(base + "/"), "join links are https by default"
            with pytest.raises(aiohttp.ClientError):  # plain HTTP is not served on the TLS port
                async with http.get(f"http://127.0.0.1:{server.port}/healthz") as reply:
                    pytest.fail(f"plain HTTP answered {reply.status}")
        messages = await first_messages(f"wss://127.0.0.1:{server.port}", judge["token"], client_context(cert))
        assert [m["type"] for m in messages] == ["ice_servers", "state"], messages
    finally:
        await server.stop()


@pytest.fixture(scope="session")
def tls_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Nginx, Path]]:
    folder = tmp_path_factory.mktemp("nginx")
    cert, key, _ = self_signed(folder / "tls", ["127.0.0.1", "localhost"])
    with nginx(folder / "prefix", cert, key) as proxy:
        yield proxy, cert


async def test_nginx_example_terminates_tls_and_proxies_the_socket(tls_proxy: tuple[Nginx, Path], tmp_path: Path,
                                                                  api_factory: Any) -> None:
    proxy, cert = tls_proxy
    server = make_server(tmp_path, port=proxy.pod_port)
    await server.start()
    try:
        api = api_factory(server)
        _, (judge,) = await api.hearing_with(("judge", "王法官"))
        context = client_context(cert)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{proxy.url}/healthz", ssl=context) as reply:
                assert reply.status == 200 and (await reply.json())["status"] == "ok"
            async with http.get(f"{proxy.url}/join/x", ssl=context) as reply:
                assert reply.status == 200 and reply.headers.get("Strict-Transport-Security")
            async with http.get(f"http://127.0.0.1:{proxy.http_port}/gallery", allow_redirects=False) as reply:
                assert reply.status == 301 and reply.headers["Location"].startswith("https://")
        messages = await first_messages(proxy.url.replace("https", "wss"), judge["token"], context)
        assert [m["type"] for m in messages] == ["ice_servers", "state"], messages
        assert messages[1]["you"]["id"] == judge["id"]
        # A socket held open past nginx's default 60 s read timeout would need real time; the
        # example sets an hour, which this checks instead of waiting.
        assert "proxy_read_timeout 3600s" in (ROOT / "deploy" / "nginx" / "pod-tls.conf").read_text()
    finally:
        await server.stop()
    assert "[emerg]" not in proxy.error_log()

