"""Where a court keeps its files: a local folder (one pod) or an S3 bucket (a multi-pod court).

Keys are relative paths (`hearings/ID/archive.mp4`). Every stored blob carries its SHA-256:
it is checked when the blob is stored (S3 also checks the transfer with Content-MD5) and again
when it is read, so a changed file is an error, never a quiet success. Methods are blocking:
callers run them in a thread, as they do file I/O.

The S3 side uses boto3, the maintained AWS SDK, which speaks to any S3-compatible store
(SeaweedFS here; MinIO, Ceph or a cloud bucket in production).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

CHUNK = 1 << 20


class BlobError(Exception):
    """A blob store that cannot be reached or used; the message names it."""


class BlobMissing(BlobError):
    pass


class BlobCorrupt(BlobError):
    """A blob whose bytes no longer hash to the digest it was stored with."""

    def __init__(self, message: str, expected: str = "", actual: str = "") -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


@dataclass(frozen=True)
class BlobInfo:
    key: str
    sha256: str
    size: int


class BlobStore(Protocol):
    url: str

    def put_file(self, key: str, path: Path) -> BlobInfo: ...
    def put_bytes(self, key: str, data: bytes) -> BlobInfo: ...
    def get_bytes(self, key: str, sha256: str | None = None, max_bytes: int | None = None) -> bytes: ...
    def download(self, key: str, dest: Path, sha256: str | None = None) -> BlobInfo: ...
    def info(self, key: str) -> BlobInfo: ...
    def exists(self, key: str) -> bool: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str = "") -> list[str]: ...


def clean_key(key: str) -> str:
    """A relative key without `..`, empty parts or a leading slash."""
    parts = key.split("/") if isinstance(key, str) else []
    if not key or any(p in ("", ".", "..") or "\x00" in p for p in parts):
        raise ValueError(f"not a blob key: {key!r}")
    return key


def _digest_file(path: Path) -> tuple[str, int, str]:
    sha, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            md5.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size, base64.b64encode(md5.digest()).decode()


def _check_size(key: str, size: int, max_bytes: int | None) -> None:
    # Refused before the bytes are read: an object larger than anything the caller stores is not its own.
    if max_bytes is not None and size > max_bytes:
        raise BlobCorrupt(f"{key}: {size} bytes, more than the {max_bytes} expected", "", "")


def _check(key: str, data_sha: str, expected: str | None) -> None:
    if expected is not None and data_sha != expected:
        raise BlobCorrupt(f"{key}: stored with sha256 {expected}, reads as {data_sha}", expected, data_sha)


class LocalBlobStore:
    """Blobs as files under one folder; the digest is kept beside each file (`.sha256`)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = root.as_uri()

    def _path(self, key: str) -> Path:
        return self.root / clean_key(key)

    def _write(self, key: str, source: Path | bytes) -> BlobInfo:
        target = self._path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                if isinstance(source, bytes):
                    out.write(source)
                else:
                    with open(source, "rb") as f:
                        while chunk := f.read(CHUNK):
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            sha, size, _ = _digest_file(Path(tmp))
            if not isinstance(source, bytes):
                source_sha, _, _ = _digest_file(source)
                _check(key, sha, source_sha)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        Path(f"{target}.sha256").write_text(sha)
        return BlobInfo(clean_key(key), sha, size)

    def put_file(self, key: str, path: Path) -> BlobInfo:
        return self._write(key, path)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        return self._write(key, data)

    def _stored_sha(self, key: str) -> str | None:
        side = Path(f"{self._path(key)}.sha256")
        return side.read_text().strip() if side.exists() else None

    def get_bytes(self, key: str, sha256: str | None = None, max_bytes: int | None = None) -> bytes:
        path = self._path(key)
        try:
            _check_size(key, path.stat().st_size, max_bytes)
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobMissing(f"{key}: not in {self.url}") from None
        actual = hashlib.sha256(data).hexdigest()
        _check(key, actual, self._stored_sha(key))
        _check(key, actual, sha256)
        return data

    def download(self, key: str, dest: Path, sha256: str | None = None) -> BlobInfo:
        data = self.get_bytes(key, sha256)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        return BlobInfo(clean_key(key), hashlib.sha256(data).hexdigest(), len(data))

    def info(self, key: str) -> BlobInfo:
        path = self._path(key)
        if not path.exists():
            raise BlobMissing(f"{key}: not in {self.url}")
        sha, size, _ = _digest_file(path)
        return BlobInfo(clean_key(key), sha, size)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)
        Path(f"{self._path(key)}.sha256").unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.exists():
            return []
        out = []
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if path.is_file() and not rel.endswith(".sha256") and not path.name.startswith(".upload-"):
                if rel.startswith(prefix):
                    out.append(rel)
        return sorted(out)


class S3BlobStore:
    """Blobs in an S3 bucket; the SHA-256 travels as object metadata (`x-amz-meta-sha256`)."""

    def __init__(self, bucket: str, endpoint: str | None, region: str = "us-east-1",
                 access_key: str | None = None, secret_key: str | None = None, url: str = "") -> None:
        import boto3
        from botocore.config import Config as BotoConfig

        self.bucket = bucket
        self.url = url or f"s3://{bucket}"
        access_key = access_key or os.environ.get("AWS_ACCESS_KEY_ID")
        secret_key = secret_key or os.environ.get("AWS_SECRET_ACCESS_KEY")
        config = BotoConfig(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=60,
                            s3={"addressing_style": "path"})
        if not (access_key and secret_key):
            from botocore import UNSIGNED

            config = config.merge(BotoConfig(signature_version=UNSIGNED))
        self.client: Any = boto3.client(
            "s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, config=config,
        )

    def _errors(self) -> tuple[type[BaseException], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    def ensure_bucket(self) -> None:
        """Check the bucket answers (create it when missing); a clear error when it cannot."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return
        except self._errors() as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
            if code not in ("404", "NoSuchBucket", "NotFound"):
                raise BlobError(f"cannot reach the object store {self.url}: {exc}") from exc
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except self._errors() as exc:
            raise BlobError(f"cannot create the bucket {self.url}: {exc}") from exc

    def put_file(self, key: str, path: Path) -> BlobInfo:
        key = clean_key(key)
        sha, size, md5 = _digest_file(path)
        try:
            with open(path, "rb") as f:
                self.client.put_object(Bucket=self.bucket, Key=key, Body=f, ContentMD5=md5,
                                       ContentLength=size, Metadata={"sha256": sha})
        except self._errors() as exc:
            raise BlobError(f"cannot store {key} in {self.url}: {exc}") from exc
        return BlobInfo(key, sha, size)

    def put_bytes(self, key: str, data: bytes) -> BlobInfo:
        key = clean_key(key)
        sha = hashlib.sha256(data).hexdigest()
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        try:
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=md5,
                                   Metadata={"sha256": sha})
        except self._errors() as exc:
            raise BlobError(f"cannot store {key} in {self.url}: {exc}") from exc
        return BlobInfo(key, sha, len(data))

    def _get(self, key: str) -> Any:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=clean_key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise BlobMissing(f"{key}: not in {self.url}") from None
            raise BlobError(f"cannot read {key} from {self.url}: {exc}") from exc
        except self._errors() as exc:
            raise BlobError(f"cannot read {key} from {self.url}: {exc}") from exc

    def get_bytes(self, key: str, sha256: str | None = None, max_bytes: int | None = None) -> bytes:
        response = self._get(key)
        _check_size(key, int(response.get("ContentLength", 0)), max_bytes)
        data = response["Body"].read()
        actual = hashlib.sha256(data).hexdigest()
        _check(key, actual, response.get("Metadata", {}).get("sha256"))
        _check(key, actual, sha256)
        return bytes(data)

    def download(self, key: str, dest: Path, sha256: str | None = None) -> BlobInfo:
        response = self._get(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".download-")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in response["Body"].iter_chunks(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            _check(key, digest.hexdigest(), response.get("Metadata", {}).get("sha256"))
            _check(key, digest.hexdigest(), sha256)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return BlobInfo(clean_key(key), digest.hexdigest(), size)

    def info(self, key: str) -> BlobInfo:
        """The digest of the bytes as stored now (read and hashed, not taken from metadata)."""
        response = self._get(key)
        digest, size = hashlib.sha256(), 0
        for chunk in response["Body"].iter_chunks(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        return BlobInfo(clean_key(key), digest.hexdigest(), size)

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=clean_key(key))
            return True
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise BlobError(f"cannot reach {self.url}: {exc}") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=clean_key(key))
        except self._errors() as exc:
            raise BlobError(f"cannot delete {key} from {self.url}: {exc}") from exc

    def keys(self, prefix: str = "") -> list[str]:
        out: list[str] = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                out.extend(obj["Key"] for obj in page.get("Contents", []))
        except self._errors() as exc:
            raise BlobError(f"cannot list {self.url}: {exc}") from exc
        return sorted(out)


def open_blob_store(url: str, data_dir: Path) -> BlobStore:
    """`s3://bucket?endpoint=http://host:port[&region=..]` or, when empty, DATA/objects."""
    if not url:
        return LocalBlobStore(data_dir / "objects")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalBlobStore(Path(parts.path))
    if parts.scheme != "s3" or not parts.netloc:
        raise BlobError(f"an object store URL is s3://bucket?endpoint=... or file:///folder (got {url!r})")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    store = S3BlobStore(parts.netloc, query.get("endpoint"), query.get("region", "us-east-1"),
                        query.get("access_key"), query.get("secret_key"), url=url.split("&secret_key")[0])
    store.ensure_bucket()
    return store
