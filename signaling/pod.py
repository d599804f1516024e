"""The pod: what one running server holds, shared by every handler through the app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from courtroom.auth import TokenSigner, admin_key, read_or_create_secret
from courtroom.blobs import BlobStore, open_blob_store
from courtroom.config import Config
from courtroom.court import Court
from courtroom.database import Database, open_database

from .hub import Hub
from .metrics import Metrics
from .rooms import RoomManager


@dataclass
class Pod:
    config: Config
    db: Database
    court: Court
    admin_key: str
    blobs: BlobStore | None = None  # the court's bucket (a multi-pod court); None: local files only
    metrics: Metrics = field(default_factory=Metrics)
    services: dict[str, Any] = field(default_factory=dict)  # rooms, transcriber, hub, ...

    @classmethod
    def open(cls, config: Config) -> Pod:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        db = open_database(config.data_dir, config.database_url)
        signer = TokenSigner(read_or_create_secret(config.data_dir / "secret.key"), config.token_ttl_seconds)
        try:
            blobs = open_blob_store(config.object_store_url, config.data_dir) if config.object_store_url else None
        except BaseException:
            db.close()
            raise
        return cls(config, db, Court(config, db, signer), admin_key(config.data_dir), blobs)


POD = web.AppKey("pod", Pod)
HUB = web.AppKey("hub", Hub)
ROOMS = web.AppKey("rooms", RoomManager)


def pod_of(request: web.Request) -> Pod:
    return request.app[POD]
