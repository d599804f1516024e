"""Credentials: the clerk's API key and the participants' signed join tokens.

A join token is `payload.signature`, both base64url; the payload names the hearing, the
participant, the role, a nonce and an expiry. The signature is HMAC-SHA256 with a server
secret kept under the data folder. A token dies when it expires, and when the participant is
removed (the stored nonce is cleared, so the old token no longer matches). Secrets are
compared in constant time; tokens are never logged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path


class AuthError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class TokenClaims:
    hearing_id: str
    participant_id: str
    role: str
    nonce: str
    expires: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """A secret file (mode 0600) made once at first start and read from there later."""
    if path.exists():
        value = path.read_text().strip()
        if value:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # a key readable by others is tightened, not trusted as is
            return value
    value = secrets.token_urlsafe(nbytes)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.chmod(path, 0o600)
    return value


def admin_key(data_dir: Path) -> str:
    """The clerk's API key: COURTROOM_ADMIN_KEY when set, else DIR/admin.key."""
    env = os.environ.get("COURTROOM_ADMIN_KEY")
    if env:
        return env
    return read_or_create_secret(data_dir / "admin.key")


class TokenSigner:
    def __init__(self, secret: str, ttl: float) -> None:
        self._key = hashlib.sha256(b"courtroom-join-token\0" + secret.encode()).digest()
        self.ttl = ttl

    def issue(self, hearing_id: str, participant_id: str, role: str, nonce: str, now: float | None = None) -> str:
        expires = (time.time() if now is None else now) + self.ttl
        payload = json.dumps(
            {"h": hearing_id, "p": participant_id, "r": role, "n": nonce, "e": int(expires)},
            separators=(",", ":"),
        ).encode()
        return _b64(payload) + "." + _b64(self._sign(payload))

    def verify(self, token: str, now: float | None = None) -> TokenClaims:
        """Check the signature and the expiry. Whether the participant still exists and the
        nonce still matches is the caller's check against the store."""
        if not token or len(token) > 2048 or token.count(".") != 1:
            raise AuthError("bad_token", "the token is malformed")
        payload_text, signature_text = token.split(".")
        try:
            payload = _unb64(payload_text)
            signature = _unb64(signature_text)
        except (ValueError, TypeError):
            raise AuthError("bad_token", "the token is malformed") from None
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise AuthError("bad_token", "the token's signature is not valid")
        try:
            data = json.loads(payload)
            claims = TokenClaims(str(data["h"]), str(data["p"]), str(data["r"]), str(data["n"]), float(data["e"]))
        except (ValueError, KeyError, TypeError):
            raise AuthError("bad_token", "the token is malformed") from None
        if claims.expires < (time.time() if now is None else now):
            raise AuthError("token_expired", "this join link has expired")
        return claims

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def new_nonce() -> str:
    return secrets.token_urlsafe(12)
