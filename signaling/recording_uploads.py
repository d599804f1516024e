"""Archive parts to the court's bucket as each part closes (a multi-pod court only).

A part is written on this pod's disk first (a recording never waits on the network) and
queued here when it closes. One worker uploads it off the event loop, reads the bucket's
copy back and compares its SHA-256 with the file's, and only then records `archive.uploaded`
(the digest every later reader checks) and, if the court so decides, removes the local copy.
An unreachable bucket is retried with backoff, the local part untouched meanwhile; a full
queue or a crash leaves the part on disk for the sweep at the pod's next start.

A pod that needs a part it did not write (the hearing moved to it after its first pod died)
fetches it from the bucket, checked against the digest recorded at upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from courtroom.blobs import BlobCorrupt, BlobError, BlobMissing, BlobStore, clean_key
from courtroom.court import Court
from courtroom.ledger import file_digest

log = logging.getLogger("courtroom.uploads")

UPLOADED = "archive.uploaded"  # event: a part is in the bucket, with the digest read back
RETRYING = "archive.upload_retrying"  # event: the bucket refused a part; it stays local and is retried
PART_LISTS = ("archive_parts", "public_parts")  # the hearing's `extra` lists of parts


def part_key(hearing_id: str, path: str | Path) -> str:
    """A part's stable key: `hearings/<id>/archive/<name>`, the public picture's record under
    `.../archive/public/<name>` (the folder layout of `recordings/<id>/`)."""
    p = Path(path)
    rel = f"public/{p.name}" if p.parent.name == "public" else p.name
    return clean_key(f"hearings/{hearing_id}/archive/{rel}")


@dataclass(frozen=True)
class _Part:
    hearing_id: str
    path: Path
    key: str


class PartUploads:
    """The upload queue (bounded), its one worker, the start-up sweep and the fetch back."""

    def __init__(self, court: Court, blobs: BlobStore, *, keep_local: bool = True, max_pending: int = 64,
                 first_retry: float = 1.0, max_retry: float = 60.0) -> None:
        self.court = court
        self.blobs = blobs
        self.keep_local = keep_local
        self.first_retry = first_retry
        self.max_retry = max_retry
        self.writing: set[Path] = set()  # parts open for writing on this pod: never swept
        self.uploaded = 0
        self.retries = 0
        self._queue: asyncio.Queue[_Part] = asyncio.Queue(max_pending)
        self._queued: set[str] = set()  # keys queued or in flight: one upload per part
        self._worker: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._worker is None or self._worker.done():
            self._worker = asyncio.get_running_loop().create_task(self._run(), name="part-uploads")

    async def stop(self, timeout: float = 30.0) -> None:
        """Give the queue `timeout` seconds to empty, then stop; what is left stays on disk for
        the next start's sweep."""
        if self._worker is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout)
        self._worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._worker
        if self._queued:
            log.warning("%d archive parts not yet in %s: they stay on disk for the next start", len(self._queued),
                        self.blobs.url)

    async def idle(self, timeout: float) -> bool:
        """True once nothing is queued or in flight (within `timeout` seconds)."""
        try:
            await asyncio.wait_for(self._queue.join(), timeout)
        except TimeoutError:
            return False
        return True

    def submit(self, hearing_id: str, path: Path) -> bool:
        """Queue a closed part; never blocks. False when the queue is full (the part stays
        local and the next start's sweep sends it) or it is queued already."""
        key = part_key(hearing_id, path)
        if key in self._queued:
            return False
        try:
            self._queue.put_nowait(_Part(hearing_id, Path(path), key))
        except asyncio.QueueFull:
            log.error("upload queue full: %s stays on disk until the next sweep", path)
            return False
        self._queued.add(key)
        return True

    async def _run(self) -> None:
        while True:
            part = await self._queue.get()
            try:
                await self._upload(part)
            except Exception:  # noqa: BLE001 - one part's trouble must not stop the others
                log.exception("uploading %s failed", part.path)
            finally:
                self._queued.discard(part.key)
                self._queue.task_done()

    async def _upload(self, part: _Part) -> None:
        delay, told = self.first_retry, False
        while True:
            try:
                sha, size = await asyncio.to_thread(self._put, part)
                break
            except FileNotFoundError:
                log.warning("%s is gone from this pod's disk: nothing to upload", part.path)
                return
            except (BlobError, OSError) as exc:
                self.retries += 1
                log.warning("%s: upload to %s failed (%s); again in %.0f s", part.key, self.blobs.url, exc, delay)
                if not told:  # the officers hear of it once per part; the log has every attempt
                    told = await self._event(part.hearing_id, RETRYING, name=part.path.name, key=part.key,
                                             reason=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_retry)
        # The digest on record is what every later reader checks: stored before the local
        # copy may go, retried while the database is away.
        while not await self._event(part.hearing_id, UPLOADED, name=part.path.name, key=part.key,
                                    sha256=sha, size=size):
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_retry)
        self.uploaded += 1
        if not self.keep_local:
            await asyncio.to_thread(part.path.unlink, True)
        log.info("hearing %s: %s in %s (%d bytes)", part.hearing_id, part.key, self.blobs.url, size)

    def _put(self, part: _Part) -> tuple[str, int]:
        """Blocking: store the part, then read the bucket's copy back; confirmed only when
        both hash to the file's digest."""
        sha, size = file_digest(part.path)
        self.blobs.put_file(part.key, part.path)
        back = self.blobs.info(part.key)
        if back.sha256 != sha:
            raise BlobCorrupt(f"{part.key}: the bucket holds sha256 {back.sha256}, the part is {sha}")
        return sha, size

    async def _event(self, hearing_id: str, kind: str, **data: Any) -> bool:
        try:
            await self.court.record_event(hearing_id, kind, "system", **data)
        except Exception as exc:  # noqa: BLE001 - a database away: the caller retries or goes on
            log.warning("hearing %s: cannot record %s: %s", hearing_id, kind, exc)
            return False
        return True

    async def digests(self, hearing_id: str) -> dict[str, str]:
        """Each uploaded part's key and the digest read back at its upload (the latest wins)."""
        out: dict[str, str] = {}
        for event in await self.court.events(hearing_id):
            if event.kind == UPLOADED and isinstance(event.data.get("key"), str):
                out[event.data["key"]] = str(event.data.get("sha256", ""))
        return out

    async def sweep(self) -> int:
        """At the pod's start: queue every part on this pod's disk that no `archive.uploaded`
        names (a crash cut it, or the pod stopped before the upload). Returns how many."""
        queued = 0
        try:
            hearings = await self.court.list_hearings()
        except Exception:  # noqa: BLE001 - the parts stay on disk for the next start
            log.exception("sweep: the hearings cannot be listed")
            return 0
        for hearing in hearings:
            parts = [p for name in PART_LISTS for p in hearing.extra.get(name, []) if isinstance(p, dict)]
            if not parts:
                continue
            try:
                done: dict[str, str] | None = None
                for part in parts:
                    path = Path(str(part.get("path", "")))
                    if path in self.writing or not await asyncio.to_thread(_nonempty, path):
                        continue
                    if done is None:
                        done = await self.digests(hearing.id)
                    if part_key(hearing.id, path) not in done and self.submit(hearing.id, path):
                        queued += 1
            except Exception:  # noqa: BLE001 - one hearing's trouble must not stop the others
                log.exception("sweep: the parts of hearing %s", hearing.id)
        if queued:
            log.info("sweep: %d archive parts left un-uploaded are queued for %s", queued, self.blobs.url)
        return queued

    async def local_copy(self, hearing_id: str, path: str | Path, folder: Path) -> Path | None:
        """The part on this pod's disk: where it was written, or fetched from the bucket into
        the hearing's `folder` (its place under `recordings/<id>/`) and checked against the digest recorded at its upload. None when
        neither has it; BlobCorrupt when the bucket's copy does not match (never used)."""
        p = Path(path)
        if await asyncio.to_thread(_nonempty, p):
            return p
        key = part_key(hearing_id, p)
        expected = (await self.digests(hearing_id)).get(key)
        dest = folder / key.split("/archive/", 1)[1]
        fetched = await asyncio.to_thread(_nonempty, dest)
        if fetched and expected and (await asyncio.to_thread(file_digest, dest))[0] == expected:
            return dest  # fetched before
        try:
            await asyncio.to_thread(self.blobs.download, key, dest, expected or None)
        except BlobMissing:
            return None
        return dest


def _nonempty(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size > 0
    except OSError:
        return False
