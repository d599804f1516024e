"""Copies each hearing's deposited files into the court's bucket (a multi-pod court only).

Runs after the deposits at close and after the record's deposit, off the event loop; when a
copy fails the officers' event log says so and the next pass (the next deposit, or the pod's
start) sends what is still missing. The local files stay where they are.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from courtroom.archiving import event_logs, mirror
from courtroom.blobs import BlobError, BlobStore
from courtroom.court import Court
from courtroom.evidence import evidence_dir
from courtroom.ledger import Ledger

log = logging.getLogger("courtroom.archiver")


def replay_key(hearing_id: str, name: str) -> str:
    return f"hearings/{hearing_id}/replay/{name}"


class Archiver:
    def __init__(self, court: Court, blobs: BlobStore) -> None:
        self.court = court
        self.blobs = blobs
        self.ledger = Ledger(court.store, court.config.data_dir)
        self._lock = asyncio.Lock()  # one pass at a time: two would upload the same files

    def _folders(self, hearing_id: str) -> list[Path]:
        config = self.court.config
        return [config.recordings / hearing_id, config.data_dir / "records" / hearing_id,
                evidence_dir(config.data_dir)]

    async def mirror_hearing(self, hearing_id: str, contents: tuple[bytes, ...] = ()) -> bool:
        """Copy what the bucket lacks of this hearing's deposits; False when something is left."""
        async with self._lock:
            entries = await self.court.db.run(self.ledger.entries, hearing_id)
            logs = event_logs(entries, await self.court.events(hearing_id))
            try:
                report = await asyncio.to_thread(mirror, self.blobs, entries, self._folders(hearing_id),
                                                 (*contents, *logs))
            except (BlobError, OSError) as exc:
                log.error("hearing %s: copying to %s failed: %s", hearing_id, self.blobs.url, exc)
                await self.court.record_event(hearing_id, "archive.copy_failed", "system", reason=str(exc))
                return False
        if report.missing:
            names = ", ".join(f"{e.kind} {e.name}" for e in report.missing)
            log.warning("hearing %s: no local copy of %s to send to %s", hearing_id, names, self.blobs.url)
        else:
            log.info("hearing %s: %d files copied to %s (%d there already)", hearing_id, len(report.stored),
                     self.blobs.url, len(report.present))
        return report.ok

    async def publish_replay(self, hearing_id: str) -> None:
        """The replay's files, for any pod of the court to serve (and nginx to cache), under
        `hearings/<id>/replay/` in the bucket."""
        folder = self.court.config.recordings / hearing_id / "replay"

        def upload() -> int:
            files = sorted(p for p in folder.glob("*") if p.is_file()) if folder.is_dir() else []
            for path in files:
                self.blobs.put_file(replay_key(hearing_id, path.name), path)
            return len(files)

        try:
            count = await asyncio.to_thread(upload)
        except (BlobError, OSError) as exc:
            log.error("hearing %s: publishing the replay to %s failed: %s", hearing_id, self.blobs.url, exc)
            await self.court.record_event(hearing_id, "archive.copy_failed", "system", reason=str(exc))
            return
        log.info("hearing %s: replay published to %s (%d files)", hearing_id, self.blobs.url, count)

    async def sweep(self) -> None:
        """At start: send what an earlier run of this pod deposited but could not copy."""
        for hearing in await self.court.list_hearings():
            try:
                await self.mirror_hearing(hearing.id)
            except Exception:  # noqa: BLE001 - one hearing's trouble must not stop the others
                log.exception("mirroring hearing %s failed", hearing.id)
