"""Credentials: join tokens, secret files, the clerk's key."""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path

import pytest

from courtroom.auth import (
    AuthError,
    TokenSigner,
    admin_key,
    new_nonce,
    read_or_create_secret,
    same_secret,
)
from courtroom.court import Actor

SECRET = "test-secret-0123456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _flip(text: str, index: int) -> str:
    ch = text[index]
    return text[:index] + ("A" if ch != "A" else "B") + text[index + 1 :]


@pytest.fixture
def signer() -> TokenSigner:
    return TokenSigner(SECRET, ttl=3600)


def test_round_trip(signer: TokenSigner) -> None:
    before = time.time()
    token = signer.issue("h1", "p1", "judge", "n1")
    claims = signer.verify(token)
    assert (claims.hearing_id, claims.participant_id, claims.role, claims.nonce) == ("h1", "p1", "judge", "n1")
    assert before + 3600 - 1 <= claims.expires <= time.time() + 3600
    # URL-safe: it travels in a link fragment and a query string.
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    # Unicode ids survive.
    assert signer.verify(signer.issue("庭审", "张三", "plaintiff", "ñ")).participant_id == "张三"


def test_same_secret_same_tokens_across_instances() -> None:
    token = TokenSigner(SECRET, 60).issue("h", "p", "clerk", "n")
    assert TokenSigner(SECRET, 1).verify(token).hearing_id == "h"


def _code(signer: TokenSigner, token: str, now: float | None = None) -> str:
    with pytest.raises(AuthError) as e:
        signer.verify(token, now=now)
    assert e.value.message
    return e.value.code


def test_forged_signature(signer: TokenSigner) -> None:
    token = signer.issue("h1", "p1", "plaintiff", "n1")
    payload, signature = token.split(".")
    assert _code(signer, payload + "." + _flip(signature, 3)) == "bad_token"
    assert _code(signer, payload + "." + _b64(b"\0" * 32)) == "bad_token"
    assert _code(signer, payload + ".") == "bad_token"
    # A party promoting itself to judge, keeping the old signature.
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["r"] = "judge"
    forged = _b64(json.dumps(data, separators=(",", ":")).encode())
    assert _code(signer, forged + "." + signature) == "bad_token"
    # Or extending its own expiry.
    data["r"], data["e"] = "plaintiff", data["e"] + 10**6
    forged = _b64(json.dumps(data, separators=(",", ":")).encode())
    assert _code(signer, forged + "." + signature) == "bad_token"


def test_truncated(signer: TokenSigner) -> None:
    token = signer.issue("h1", "p1", "plaintiff", "n1")
    for cut in (1, 2, 5, len(token) // 2, len(token) - 1):
        assert _code(signer, token[:-cut]) == "bad_token", cut
    assert _code(signer, token.split(".")[0]) == "bad_token"  # the payload alone


@pytest.mark.parametrize(
    "garbage",
    ["", ".", "..", "a.b.c", "not a token", "x" * 3000, "%%%.%%%", "张三.李四", "\x00.\x00", "=.=",
     "eyJ9.e30", " . "],
)
def test_garbage(signer: TokenSigner, garbage: str) -> None:
    assert _code(signer, garbage) == "bad_token"


def test_signed_but_malformed_payloads_are_bad_tokens(signer: TokenSigner) -> None:
    # A valid signature over a payload that is not a token must not crash the check.
    for payload in [b"[]", b"{}", b"null", b"\xff\xfe", b'{"h":"h"}', b'{"h":1,"p":2,"r":3,"n":4,"e":"soon"}']:
        token = _b64(payload) + "." + _b64(signer._sign(payload))
        assert _code(signer, token) == "bad_token", payload


def test_wrong_secret(signer: TokenSigner) -> None:
    token = TokenSigner("another-secret", 3600).issue("h1", "p1", "judge", "n1")
    assert _code(signer, token) == "bad_token"


def test_expired(signer: TokenSigner) -> None:
    assert _code(TokenSigner(SECRET, -1), TokenSigner(SECRET, -1).issue("h", "p", "judge", "n")) == "token_expired"
    token = signer.issue("h", "p", "judge", "n", now=1000.0)
    assert signer.verify(token, now=1000.0 + 3599).participant_id == "p"
    assert _code(signer, token, now=1000.0 + 3601) == "token_expired"
    # A bad signature is reported as such even when the token has expired too.
    assert _code(signer, _flip(token, len(token) - 2), now=10**10) == "bad_token"


def test_same_secret_and_nonces() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", "")
    assert same_secret("张三", "张三")
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100 and all(len(n) >= 16 for n in nonces)


# --- secret files --------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_secret_file_is_0600_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "secret.key"
    first = read_or_create_secret(path)
    assert len(first) >= 32
    assert _mode(path) == 0o600
    assert read_or_create_secret(path) == first
    assert path.read_text().strip() == first
    # An empty file is replaced by a fresh secret, still 0600.
    path.write_text("\n")
    second = read_or_create_secret(path)
    assert second and second != first and _mode(path) == 0o600


def test_secret_file_mode_ignores_umask(tmp_path: Path) -> None:
    import os

    old = os.umask(0)
    try:
        read_or_create_secret(tmp_path / "s.key")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "s.key") == 0o600


def test_admin_key_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURTROOM_ADMIN_KEY", raising=False)
    key = admin_key(tmp_path)
    assert key and _mode(tmp_path / "admin.key") == 0o600
    assert admin_key(tmp_path) == key


def test_env_overrides_admin_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "admin.key").write_text("from-the-file\n")
    monkeypatch.setenv("COURTROOM_ADMIN_KEY", "from-the-environment")
    assert admin_key(tmp_path) == "from-the-environment"
    assert (tmp_path / "admin.key").read_text() == "from-the-file\n"  # left alone
    other = tmp_path / "fresh"
    assert admin_key(other) == "from-the-environment"
    assert not (other / "admin.key").exists()  # no key file is made when the environment has one
    monkeypatch.setenv("COURTROOM_ADMIN_KEY", "")  # empty means unset
    assert admin_key(tmp_path) == "from-the-file"


# --- tokens against the store (Court.authenticate) --------------------------------------------------


async def test_authenticate(court) -> None:
    clerk = Actor.clerk()
    a = await court.create_hearing({"case_number": "A"}, clerk)
    b = await court.create_hearing({"case_number": "B"}, clerk)
    judge, judge_token = await court.add_participant(a.id, {"role": "judge", "name": "王法官"}, clerk)
    party, party_token = await court.add_participant(a.id, {"role": "plaintiff", "name": "张三"}, clerk)
    hearing, who = await court.authenticate(party_token)
    assert (hearing.id, who.id, who.role.value) == (a.id, party.id, "plaintiff")

    async def code(token: str) -> str:
        with pytest.raises(AuthError) as e:
            await court.authenticate(token)
        return e.value.code

    signer = court.signer
    # Well signed, but naming things that do not exist or do not belong together.
    assert await code(signer.issue(a.id, "nobody", "judge", "n")) == "bad_token"
    assert await code(signer.issue("nohearing", party.id, "plaintiff", party.token_nonce)) == "bad_token"
    assert await code(signer.issue(b.id, party.id, "plaintiff", party.token_nonce)) == "bad_token"
    assert await code(signer.issue(a.id, party.id, "plaintiff", "stale-nonce")) == "bad_token"
    # The role in the token is not trusted: the stored role is.
    _, who = await court.authenticate(signer.issue(a.id, party.id, "judge", party.token_nonce))
    assert who.role.value == "plaintiff"
    # Removal kills the token for good.
    await court.act(a.id, clerk, "open")
    await court.act(a.id, Actor(judge.id, judge.role, judge), "remove", party.id)
    assert await code(party_token) == "removed"
    assert (await court.authenticate(judge_token))[1].id == judge.id


# --- the real server's key files -------------------------------------------------------------------


async def test_server_key_files_and_env_override(server_factory, api_factory) -> None:
    # First start without COURTROOM_ADMIN_KEY: the server makes DIR/admin.key (0600) and uses it.
    server = await server_factory(admin_key=None)
    key_file = server.data_dir / "admin.key"
    assert _mode(key_file) == 0o600 and _mode(server.data_dir / "secret.key") == 0o600
    file_key = key_file.read_text().strip()
    assert server.admin_key == file_key
    api = api_factory(server)
    assert (await api.request("GET", "/api/hearings", file_key)).status == 200
    assert (await api.request("GET", "/api/hearings", file_key + "x")).status == 401
    await server.stop()

    # Started again with the environment variable: it wins, and the file's key no longer works.
    server.key_in_env, server.admin_key = True, "environment-key-" + file_key[:8]
    await server.start()
    assert (await api.request("GET", "/api/hearings", server.admin_key)).status == 200
    assert (await api.request("GET", "/api/hearings", file_key)).status == 401
    assert key_file.read_text().strip() == file_key  # the file is left as it was
