"""`make run` on an address other than loopback, reached from another machine: a second network
namespace (a veth pair) runs Debian's Chromium, which opens a party's join link over HTTPS,
trusts the pod's self-signed certificate by its key (as a person who imported it would), and
gets the camera and the microphone: the page is a secure context, which plain HTTP off
loopback is not."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

import tests.browser_helpers as helpers
from tests.browser_helpers import CHROMIUM, chromium, open_page, screenshot
from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.timeout(150)


@pytest.fixture
def namespace(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A namespace joined to this one by a veth pair: (name, our address, its address)."""
    assert os.geteuid() == 0, "network namespaces need root (the CI runs the tests as root)"
    tag = secrets.token_hex(3)
    name, outer, inner = f"crh{tag}", f"crho{tag}", f"crhi{tag}"
    octet = 16 + int(tag, 16) % 200
    here, there = f"10.218.{octet}.1", f"10.218.{octet}.2"

    def sh(*args: str) -> None:
        subprocess.run(list(args), check=True, capture_output=True)

    sh("ip", "netns", "add", name)
    try:
        sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
        sh("ip", "link", "set", inner, "netns", name)
        sh("ip", "addr", "add", f"{here}/24", "dev", outer)
        sh("ip", "link", "set", outer, "up")
        for args in (("ip", "addr", "add", f"{there}/24", "dev", inner), ("ip", "link", "set", inner, "up"),
                     ("ip", "link", "set", "lo", "up")):
            sh("ip", "netns", "exec", name, *args)
        yield name, here, there
    finally:
        subprocess.run(["ip", "link", "del", outer], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def spki_hash(cert: Path) -> str:
    key = x509.load_pem_x509_certificate(cert.read_bytes()).public_key()
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.fixture
def make_run(namespace: tuple[str, str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`make run` itself on our veth address, its set-up step taken as done (`-o setup`: this
    checkout is set up): (what it printed, its data folder)."""
    _, here, _ = namespace
    port, data = free_port(), tmp_path / "data"
    log = tmp_path / "make-run.log"
    with open(log, "wb") as out:
        make = subprocess.Popen(
            ["make", "-o", "setup", "run", f"HOST={here}", f"PORT={port}", f"DATA={data}",
             f"ARGS=--asr-engine off --ice-address {here}"],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while "public     gallery" not in (text := log.read_text(errors="replace")):
            assert make.poll() is None and time.monotonic() < deadline, text[-3000:]
            time.sleep(0.2)
        yield text, data
    finally:
        os.killpg(make.pid, signal.SIGTERM)
        try:
            make.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            make.wait(5)


async def test_make_run_is_reached_over_https_from_another_namespace(
    namespace: tuple[str, str, str], make_run: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    name, here, _ = namespace
    text, data = make_run
    assert "Made a self-signed certificate" in text and "update-ca-certificates" in text, text
    link = re.search(r"plaintiff\s+\S+\s+(https://\S+)", text)
    assert link and link.group(1).startswith(f"https://{here}:"), text
    cert = data / "tls" / "cert.pem"

    # Chromium in the other namespace, trusting exactly this certificate's key.
    wrapper = tmp_path / "chromium-in-netns"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {name} {CHROMIUM} "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setattr(helpers, "CHROMIUM", str(wrapper))
    async with chromium(extra=(f"--ignore-certificate-errors-spki-list={spki_hash(cert)}",)) as browser:
        _, page, watch = await open_page(browser, link.group(1), "party-in-netns")
        assert await page.evaluate("window.isSecureContext") is True
        assert await page.evaluate("location.protocol") == "https:"
        await page.wait_for_function("() => document.querySelector('#check-preview').videoWidth > 0",
                                     timeout=20000, polling=200)
        tracks = await page.evaluate(
            "() => { const s = document.querySelector('#check-preview').srcObject;"
            " return s ? s.getTracks().map((t) => t.kind + ':' + t.readyState) : []; }")
        assert "video:live" in tracks and "audio:live" in tracks, tracks
        await screenshot(page, "party-https-from-netns")
        watch.assert_clean()
