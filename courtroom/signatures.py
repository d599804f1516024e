"""The pod's signing key and the signed statements on the hearing record.

The pod holds an Ed25519 key (`DIR/signing.key`, PKCS#8 PEM, mode 0600, created at first start
beside `admin.key` and `secret.key`). Every confirmation, objection, answer and judge's or
clerk's signature is a *statement* — who, in which role, on which version (its SHA-256), when —
as canonical JSON, signed by the pod. Anyone with the public key (`GET /public/signing-key`,
and `signatures/public-key.json` in every bundle) checks them offline: `verify_statement`.

Crypto is the `cryptography` package's Ed25519 (OpenSSL underneath), never our own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "signing.key"
STATEMENT_FORMAT = "courtroom-record-statement/1"
ALGORITHM = "Ed25519"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_BYTES = 512 * 1024


def canonical_json(data: dict[str, Any]) -> str:
    """The one text of a statement: sorted keys, no spaces, UTF-8 kept (what is signed)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def public_key_info(public: Ed25519PublicKey) -> dict[str, str]:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"algorithm": ALGORITHM, "public_key": _b64(raw), "key_id": hashlib.sha256(raw).hexdigest()[:16]}


def load_public_key(info: dict[str, Any]) -> Ed25519PublicKey:
    if info.get("algorithm") != ALGORITHM:
        raise ValueError(f"not an {ALGORITHM} key")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(str(info.get("public_key", "")), validate=True))


@dataclass
class PodSigner:
    """The pod's Ed25519 key."""

    key: Ed25519PrivateKey

    @classmethod
    def open(cls, data_dir: Path) -> PodSigner:
        """Read DIR/signing.key, or create it (0600) at first start."""
        path = data_dir / KEY_FILE
        if path.exists():
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 private key")
            return cls(key)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return cls(key)

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    def info(self) -> dict[str, str]:
        return public_key_info(self.public)

    def sign(self, data: dict[str, Any]) -> tuple[str, str]:
        """(the statement's canonical JSON, its base64 signature)."""
        text = canonical_json({"format": STATEMENT_FORMAT, "key_id": self.info()["key_id"], **data})
        return text, _b64(self.key.sign(text.encode("utf-8")))


def verify_statement(public: Ed25519PublicKey, statement: str, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), statement.encode("utf-8"))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def decode_image(value: object) -> bytes:
    """A handwritten signature from a canvas: a PNG as base64 or a `data:image/png;base64,` URL."""
    if not isinstance(value, str) or not value:
        raise ValueError("signature_image must be a PNG as base64 or a data: URL")
    text = value.split(",", 1)[1] if value.startswith("data:") else value
    if len(text) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ValueError(f"signature_image is larger than {MAX_IMAGE_BYTES} bytes")
    try:
        png = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("signature_image is not valid base64") from None
    if not png.startswith(PNG_MAGIC):
        raise ValueError("signature_image is not a PNG")
    return png


# -- in a hearing's bundle ---------------------------------------------------------------------

BUNDLE_FORMAT = "courtroom-record-signatures/1"
BUNDLE_DIR = "signatures"
PUBLIC_KEY_FILE = f"{BUNDLE_DIR}/public-key.json"
STATEMENTS_FILE = f"{BUNDLE_DIR}/statements.json"


async def bundle_files(court: Any, hearing_id: str) -> list[tuple[str, bytes]]:
    """The record's versions, its signed statements, the handwritten signatures and the pod's
    public key, as (bundle path, bytes): what `verify_bundle_signatures` checks offline."""
    records = court.store.records

    def read() -> tuple[list[Any], list[Any], dict[str, bytes]]:
        statements = records.statements(hearing_id)
        images = {}
        for s in statements:
            if s.image_sha256:
                png = records.get_image(s.image_sha256)
                if png is not None:
                    images[s.image_sha256] = png
        return records.versions(hearing_id), statements, images

    versions, statements, images = await court.db.run(read)
    if not versions and not statements:
        return []
    signer = PodSigner.open(court.config.data_dir)
    files: list[tuple[str, bytes]] = [(PUBLIC_KEY_FILE, _json_bytes(signer.info()))]
    doc: dict[str, Any] = {"format": BUNDLE_FORMAT, "hearing_id": hearing_id, "versions": [], "statements": []}
    for v in versions:
        path = f"{BUNDLE_DIR}/versions/record-v{v.number}.txt"
        files.append((path, v.text.encode("utf-8")))
        doc["versions"].append({"number": v.number, "sha256": v.sha256, "path": path, "reason": v.reason})
    for s in statements:
        item: dict[str, Any] = {"id": s.id, "kind": s.kind, "version": s.version, "statement": s.statement,
                                "signature": s.signature}
        if s.image_sha256 in images:
            item["image"] = f"{BUNDLE_DIR}/images/{s.image_sha256}.png"
        doc["statements"].append(item)
    for sha, png in images.items():
        files.append((f"{BUNDLE_DIR}/images/{sha}.png", png))
    files.append((STATEMENTS_FILE, _json_bytes(doc)))
    return files


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def verify_bundle_signatures(read: Any, names: set[str], hearing_id: str | None) -> tuple[list[str], list[str]]:
    """Check the signed statements of a bundle offline: each signature against the bundled
    public key, each version's text against the SHA-256 its statements name, each handwritten
    signature against its hash. `read(name) -> bytes`. Returns (problems, notes)."""
    if STATEMENTS_FILE not in names:
        return [], ["the bundle holds no signed statements on the record"]
    problems: list[str] = []
    try:
        public = load_public_key(json.loads(read(PUBLIC_KEY_FILE)))
    except (KeyError, ValueError, OSError, binascii.Error) as e:
        return [f"{PUBLIC_KEY_FILE}: not a usable public key ({e})"], []
    key_id = public_key_info(public)["key_id"]
    doc = json.loads(read(STATEMENTS_FILE))
    versions: dict[int, str] = {}
    for v in doc.get("versions", []):
        number, path = int(v["number"]), str(v["path"])
        if path not in names:
            problems.append(f"record version {number}: {path} is missing")
            continue
        actual = hashlib.sha256(read(path)).hexdigest()
        if actual != v.get("sha256"):
            problems.append(f"record version {number} ({path}): altered — its text does not match the SHA-256 "
                            f"{v.get('sha256')} that its signatures name")
        versions[number] = str(v.get("sha256"))
    checked = 0
    for item in doc.get("statements", []):
        label = f"statement {item.get('id')} ({item.get('kind')} on version {item.get('version')})"
        statement, signature = str(item.get("statement", "")), str(item.get("signature", ""))
        if not verify_statement(public, statement, signature):
            problems.append(f"{label}: the signature does not verify (the statement or its signature was altered)")
            continue
        data = json.loads(statement)
        label = f"statement {item.get('id')} ({data.get('decision')} by {data.get('title_zh', '')} {data.get('name', '')}, version {data.get('version')})"
        if data.get("key_id") != key_id:
            problems.append(f"{label}: signed with another key ({data.get('key_id')})")
        if hearing_id is not None and data.get("hearing_id") != hearing_id:
            problems.append(f"{label}: made in another hearing ({data.get('hearing_id')})")
        if versions.get(int(data.get("version", 0))) != data.get("version_sha256"):
            problems.append(f"{label}: names version sha256 {data.get('version_sha256')}, which is not the bundled version")
        image = item.get("image")
        if data.get("image_sha256"):
            if not isinstance(image, str) or image not in names:
                problems.append(f"{label}: its handwritten signature image is missing")
            elif hashlib.sha256(read(image)).hexdigest() != data["image_sha256"]:
                problems.append(f"{label}: its handwritten signature image ({image}) was altered")
        checked += 1
    return problems, [f"{checked} signed statement(s) on the record verified with key {key_id}"]
