"""Identity at join over HTTP: the check-in, the officers' view, the images, the device flag.

    POST /api/hearings/{id}/check-in                      the participant's own token; multipart
                                                          `snapshot` (camera still), `document`?
                                                          (ID photo page), `device`? (browser id)
    GET  /api/hearings/{id}/identity                      officers: everyone's identity status
    GET  /api/hearings/{id}/identity/{pid}/{snapshot|document}   officers: the latest image
    POST /api/hearings/{id}/identity/device               the participant's own token: {"device"}

The images are written to DATA/identity/<hearing>/<sha256> (never under a public route),
hashed into the ledger (kind `identity`) with the `identity.check_in` event, and deleted
after `identity_retention_days` (`identity.images_deleted`). With an object store (a court
of pods) each is also put in the bucket as `identity/<hearing>/<sha256>`, so that an officer
on any pod sees it: a pod without the picture reads it from there, checked against its
digest. The verdict and the re-check request are procedure actions (`verify_identity`,
`recheck_identity`); admission waits for a verified identity where the configuration
requires it. See docs/identity.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import BodyPartReader, web

from courtroom import identity as ident
from courtroom.blobs import BlobCorrupt, BlobError, BlobMissing
from courtroom.court import Actor, Change
from courtroom.disclosure import COURT_OFFICERS, Viewer
from courtroom.face_check import FaceCheck, FaceChecker, ImageTooLarge, NotAnImage, decode
from courtroom.hearing import Hearing
from courtroom.identity import IdentityCheck, IdentityStatus, image_path, status_of
from courtroom.ledger import Ledger, write_atomic
from courtroom.participants import Participant
from courtroom.procedure import ActionRefused, HearingState

from .access import caller, require_hearing
from .errors import ApiError, read_json
from .pod import HUB, POD, Pod, pod_of

log = logging.getLogger("courtroom.identity")

_RETRY = frozenset({"no_face", "several_faces", "not_frontal", "face_too_small", "no_face_on_document"})
_PUSHED_ON = frozenset({"connect", "invite", "admit", "verify_identity", "recheck_identity", "remove"})


class IdentityService:
    def __init__(self, pod: Pod, app: web.Application) -> None:
        self.pod = pod
        self.app = app
        self.store = pod.court.store.identities
        self.ledger = Ledger(pod.court.store, pod.config.data_dir)
        self.checker = FaceChecker(pod.config.face_model_dir, pod.config.face_check)
        self._loading: asyncio.Task[None] | None = None
        self.locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.held: dict[str, frozenset[str]] = {}  # hearing → people an admission check refuses now
        self.altered: set[tuple[str, str]] = set()  # (picture, found sha256) already reported

    @property
    def config(self) -> Any:
        return self.pod.config

    async def face_check(self, snapshot: np.ndarray, document: np.ndarray | None) -> FaceCheck:
        # Loaded on the first check-in, then kept: a pod that never checks identity never pays for it.
        if self._loading is None:
            self._loading = asyncio.ensure_future(self.checker.load())
        await asyncio.shield(self._loading)
        return await self.checker.check(snapshot, document)

    # -- status ---------------------------------------------------------------------------------
    async def statuses(self, hearing_id: str) -> list[IdentityStatus]:
        people = await self.pod.court.participants(hearing_id)
        registered = await self.pod.db.run(self.store.registered, hearing_id)
        checks = await self.pod.db.run(self.store.checks, hearing_id)
        events = await self.pod.court.events(hearing_id)
        roles = self.config.identity_required_roles
        return [status_of(p, registered.get(p.id), checks, events, roles) for p in people]

    async def status(self, hearing_id: str, participant_id: str) -> IdentityStatus:
        for s in await self.statuses(hearing_id):
            if s.participant_id == participant_id:
                return s
        raise ApiError(404, "not_found", f"no participant {participant_id} in this hearing")

    async def admission_check(self, hearing: Hearing, p: Participant) -> None:
        """The court asks before letting anyone in: a required identity must be verified."""
        status = await self.status(hearing.id, p.id)
        if status.required and not status.verified:
            raise ActionRefused(
                409, "identity_not_verified",
                f"{p.name}'s identity is {status.state.replace('_', ' ')}: verify it before admitting",
            )

    # -- telling people -------------------------------------------------------------------------
    async def held_at_door(self, hearing_id: str) -> frozenset[str]:
        """Who the admission check refuses now (the hub's controls), as of the last status push.
        Not known yet for this hearing: a push is started (it sends fresh controls if anyone is
        held), and the state goes out now: it is not held up by reading every status (a state
        message comes before the record so far), and the server refuses an admit meanwhile."""
        held = self.held.get(hearing_id)
        if held is None:
            self.held[hearing_id] = frozenset()
            task = asyncio.get_running_loop().create_task(self._push_later(hearing_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return frozenset()
        return held

    async def push(self, hearing_id: str) -> None:
        """Officers get everyone's status; each participant only its own (no scores, no images).
        When who is held at the door changes, everyone gets fresh controls."""
        group = self.app[HUB].sessions.get(hearing_id)
        if not group:
            self.held.pop(hearing_id, None)
            return
        statuses = {s.participant_id: s for s in await self.statuses(hearing_id)}
        held = _held(statuses.values())
        if held != self.held.get(hearing_id, frozenset()):
            self.held[hearing_id] = held
            await self.app[HUB].refresh(hearing_id)
        everyone = [s.to_dict() for s in statuses.values()]
        for session in list(group.values()):
            if Viewer.of(session.participant).officer:  # the court's, as the disclosure rule says
                session.send({"type": "identity", "participants": everyone})
            elif session.id in statuses:
                session.send({"type": "identity", "you": statuses[session.id].own_dict()})

    def on_change(self, change: Change) -> None:
        if change.action == "close":
            self.held.pop(change.hearing.id, None)  # nobody is let in any more
            return
        # In a task of its own: the hub's state messages and the media room are not held up.
        if change.action in _PUSHED_ON:
            task = asyncio.get_running_loop().create_task(self._push_later(change.hearing.id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _push_later(self, hearing_id: str) -> None:
        try:
            await self.push(hearing_id)
        except Exception:  # noqa: BLE001 - telling is best effort; the state is stored
            log.exception("pushing identity status failed")

    # -- check-in -------------------------------------------------------------------------------
    async def check_in(
        self, hearing: Hearing, p: Participant, snapshot: bytes, document: bytes | None, device: str
    ) -> tuple[IdentityCheck, FaceCheck]:
        try:
            pictures = await asyncio.to_thread(_decode_both, snapshot, document)
        except (NotAnImage, ImageTooLarge) as e:
            await self.refused(hearing, p, str(e))
            raise ApiError(413 if isinstance(e, ImageTooLarge) else 415,
                           "too_large" if isinstance(e, ImageTooLarge) else "not_an_image", str(e)) from None
        result = await self.face_check(*pictures)
        check = IdentityCheck(
            id=uuid.uuid4().hex[:12], hearing_id=hearing.id, participant_id=p.id,
            snapshot_sha256=hashlib.sha256(snapshot).hexdigest(), snapshot_size=len(snapshot),
            document_sha256=hashlib.sha256(document).hexdigest() if document is not None else None,
            document_size=len(document) if document is not None else None,
            device=_device_hash(device), result=result.to_dict(), created_at=time.time(),
        )
        root = self.config.data_dir
        await asyncio.to_thread(_write_image, image_path(root, hearing.id, check.snapshot_sha256), snapshot)
        if document is not None and check.document_sha256 is not None:
            await asyncio.to_thread(_write_image, image_path(root, hearing.id, check.document_sha256), document)
        store, ledger = self.store, self.ledger

        def write() -> None:
            with ledger.transaction():
                store.add_check(check)
                ledger.deposit("identity", hearing.id, f"identity/{check.id}/snapshot", check.snapshot_sha256, check.snapshot_size)
                if check.document_sha256 is not None and check.document_size is not None:
                    ledger.deposit("identity", hearing.id, f"identity/{check.id}/document", check.document_sha256, check.document_size)

        await self.pod.db.run(write)
        # To the bucket after the row: a picture there that no kept check-in names is an
        # orphan the retention pass may delete at once, so it must never arrive first.
        await self.to_bucket(hearing.id, check.snapshot_sha256, snapshot)
        if document is not None and check.document_sha256 is not None:
            await self.to_bucket(hearing.id, check.document_sha256, document)
        face = {k: result.to_dict()[k] for k in ("available", "ok", "faces", "reasons", "distance", "match")}
        await self.pod.court.record_event(
            hearing.id, ident.CHECK_IN, p.id, p.id, check=check.id, snapshot_sha256=check.snapshot_sha256,
            document_sha256=check.document_sha256, face=face,
        )
        await self.push(hearing.id)
        return check, result

    async def refused(self, hearing: Hearing, p: Participant, message: str) -> None:
        """A check-in that could not be taken: the officers are told too."""
        await self.pod.court.record_event(hearing.id, ident.REFUSED, p.id, p.id, message=message)
        await self.push(hearing.id)

    async def device_seen(self, hearing: Hearing, p: Participant, device: str) -> bool:
        """Record a browser device the first time it joins; True when the participant came
        before from another one (flagged to the officers)."""
        hashed = _device_hash(device)
        async with self.locks.setdefault(hearing.id, asyncio.Lock()):
            seen = [e for e in await self.pod.court.events(hearing.id) if e.kind == ident.DEVICE and e.subject == p.id]
            if any(e.data.get("device") == hashed for e in seen):
                return False
            new = bool(seen)
            await self.pod.court.record_event(hearing.id, ident.DEVICE, p.id, p.id, device=hashed, new=new)
        if new:
            await self.push(hearing.id)
        return new

    # -- the court's bucket ---------------------------------------------------------------------
    async def _kept(self, hearing_id: str, sha: str) -> bool:
        return bool(await self.pod.db.run(self.store.still_used, hearing_id, sha))

    async def to_bucket(self, hearing_id: str, sha: str, data: bytes) -> bool:
        """Put a picture in the court's bucket (checked on the way in, off the event loop).
        A bucket that cannot be reached loses nothing: the picture is on this pod's disk and
        the next retention pass sends it. True when it is there now."""
        blobs = self.pod.blobs
        if blobs is None:
            return False
        key = ident.bucket_key(hearing_id, sha)
        try:
            await asyncio.to_thread(blobs.put_bytes, key, data)
            # Deleted by another pod's retention pass while it travelled: it stays deleted.
            if not await self._kept(hearing_id, sha):
                await asyncio.to_thread(blobs.delete, key)
                return False
        except BlobError as exc:
            log.error("hearing %s: a check-in picture could not be put in %s (sent again later): %s",
                      hearing_id, blobs.url, exc)
            return False
        return True

    async def picture(self, hearing_id: str, sha: str) -> bytes:
        """The picture's bytes: from this pod's disk or, in a court of pods, from the bucket,
        checked against the digest the check-in stored. What is read from the bucket is served
        and not kept here: personal data under retention is on the pod that took it and in the
        bucket, nowhere else. Raises FileNotFoundError (absent), BlobCorrupt (altered) or
        BlobError (the bucket cannot be reached)."""
        path = image_path(self.config.data_dir, hearing_id, sha)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            if self.pod.blobs is None:
                raise
        # No check-in picture is larger than the upload limit: a bigger object is refused unread.
        key, limit = ident.bucket_key(hearing_id, sha), self.config.identity_max_bytes
        try:
            return bytes(await asyncio.to_thread(self.pod.blobs.get_bytes, key, sha, limit))
        except BlobMissing:
            raise FileNotFoundError(path) from None

    async def _forget(self, hearing_id: str, sha: str) -> None:
        """Delete a picture no kept check-in points at, from the disk and the bucket."""
        with contextlib.suppress(FileNotFoundError):
            await asyncio.to_thread(image_path(self.config.data_dir, hearing_id, sha).unlink)
        blobs = self.pod.blobs
        if blobs is not None:
            try:
                await asyncio.to_thread(blobs.delete, ident.bucket_key(hearing_id, sha))
            except BlobError as exc:  # the bucket's orphan pass deletes it next time
                log.warning("hearing %s: a picture could not be deleted from %s yet: %s", hearing_id, blobs.url, exc)

    # -- retention ------------------------------------------------------------------------------
    async def sweep(self, now: float | None = None) -> int:
        """Delete the images of check-ins older than the retention period (from this pod's disk
        and the court's bucket); each deletion is an event."""
        cutoff = (now or time.time()) - self.config.identity_retention_days * 86400
        expired = await self.pod.db.run(self.store.expired, cutoff)
        for check in expired:
            await self.pod.db.run(self.store.mark_deleted, check.id, time.time())
            for sha in (check.snapshot_sha256, check.document_sha256):
                if sha and not await self._kept(check.hearing_id, sha):
                    await self._forget(check.hearing_id, sha)
            await self.pod.court.record_event(
                check.hearing_id, ident.DELETED, "system", check.participant_id, check=check.id,
                retention_days=self.config.identity_retention_days,
            )
        # In a court of pods another pod may have marked this pod's pictures deleted: any file
        # here that no kept check-in points at goes too; a kept one the bucket missed is sent.
        for hearing_id, sha, path, settled in await asyncio.to_thread(_stored_images, self.config.data_dir):
            if await self._kept(hearing_id, sha):
                if self.pod.blobs is not None and not await self._in_bucket(hearing_id, sha):
                    await self._send_again(hearing_id, sha, path)
            elif settled:
                with contextlib.suppress(FileNotFoundError):
                    await asyncio.to_thread(path.unlink)
        await self._sweep_bucket()
        return len(expired)

    async def _send_again(self, hearing_id: str, sha: str, path: Path) -> None:
        data = await asyncio.to_thread(_read_if_intact, path, sha)
        if data is not None:
            await self.to_bucket(hearing_id, sha, data)

    async def _in_bucket(self, hearing_id: str, sha: str) -> bool:
        assert self.pod.blobs is not None
        try:
            return bool(await asyncio.to_thread(self.pod.blobs.exists, ident.bucket_key(hearing_id, sha)))
        except BlobError:
            return True  # not reachable now: try again next pass

    async def _sweep_bucket(self) -> None:
        """Pictures in the bucket that no kept check-in points at (a pod stopped between marking
        a check-in deleted and deleting its pictures) are deleted. Safe against a check-in on
        its way in: its pictures reach the bucket only after its row."""
        blobs = self.pod.blobs
        if blobs is None:
            return
        try:
            keys = await asyncio.to_thread(blobs.keys, ident.BUCKET_PREFIX)
        except BlobError as exc:
            log.warning("the check-in pictures in %s cannot be listed now: %s", blobs.url, exc)
            return
        for key in keys:
            found = ident.parse_bucket_key(key)
            if found is not None and not await self._kept(*found):
                await self._forget(*found)

    @property
    def sweep_interval(self) -> float:
        return min(3600.0, max(0.5, self.config.identity_retention_days * 86400 / 4))


def _decode_both(snapshot: bytes, document: bytes | None) -> tuple[np.ndarray, np.ndarray | None]:
    first = decode(snapshot)
    try:
        second = decode(document) if document is not None else None
    except (NotAnImage, ImageTooLarge) as e:
        raise type(e)(f"the ID document's picture: {e}") from None
    return first, second


def _stored_images(data_dir: Path, settled: float = 60.0) -> list[tuple[str, str, Path, bool]]:
    """The pictures on this pod's disk, each with whether it is older than `settled` seconds (a
    check-in writes its pictures a moment before its row: a younger file may be one on its way in)."""
    root = data_dir / "identity"
    if not root.is_dir():
        return []
    before = time.time() - settled
    out = []
    for p in root.glob("*/*"):
        with contextlib.suppress(FileNotFoundError):
            if p.is_file() and len(p.name) == 64 and ident.parse_bucket_key(f"{ident.BUCKET_PREFIX}{p.parent.name}/{p.name}"):
                out.append((p.parent.name, p.name, p, p.stat().st_mtime < before))
    return out


def _read_if_intact(path: Path, sha: str) -> bytes | None:
    """The picture's bytes when they still hash to `sha`: a copy changed on this disk is not
    spread to the bucket."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if hashlib.sha256(data).hexdigest() != sha:
        log.error("the check-in picture %s on this pod's disk no longer has its digest: not sent", path)
        return None
    return data


def _held(statuses: Iterable[IdentityStatus]) -> frozenset[str]:
    return frozenset(s.participant_id for s in statuses if s.required and not s.verified)


def _device_hash(device: str) -> str:
    return hashlib.sha256(device.encode("utf-8")).hexdigest()[:16] if device else ""


def _write_image(path: Path, data: bytes) -> None:
    if not path.exists():
        write_atomic(path, data)
        os.chmod(path, 0o600)


IDENTITY = web.AppKey("identity", IdentityService)


def add_routes(app: web.Application) -> None:
    service = IdentityService(app[POD], app)
    app[IDENTITY] = service
    service.pod.court.add_listener(service.on_change)
    service.pod.court.add_admission_check(service.admission_check)
    app.cleanup_ctx.append(_retention)
    app.on_startup.append(_join_the_record)
    base = "/api/hearings/{hearing_id}"
    app.router.add_post(base + "/check-in", check_in)
    app.router.add_get(base + "/identity", list_identity)
    app.router.add_post(base + "/identity/device", device)
    app.router.add_get(base + "/identity/{participant_id}/snapshot", image)
    app.router.add_get(base + "/identity/{participant_id}/document", image)


async def _join_the_record(app: web.Application) -> None:
    """Verdicts and re-check requests become lines of the hearing record (庭审笔录)."""
    from courtroom.identity_record import identity_note_source

    from .transcript_api import TRANSCRIPT

    court = app[POD].court
    app[TRANSCRIPT].note_sources.append(lambda hearing_id: identity_note_source(court, hearing_id))


async def _retention(app: web.Application) -> AsyncIterator[None]:
    service = app[IDENTITY]

    async def loop() -> None:
        while True:
            try:
                await service.sweep()
            except Exception:  # noqa: BLE001 - try again next time
                log.exception("deleting expired identity images failed")
            await asyncio.sleep(service.sweep_interval)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    service.checker.close()


# -- handlers ---------------------------------------------------------------------------------


async def _participant(request: web.Request) -> tuple[IdentityService, Hearing, Participant]:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    if actor.participant is None:
        raise ApiError(403, "forbidden", "a participant checks in with their own join link, not the clerk's key")
    hearing = await pod.court.get_hearing(hearing_id)
    if hearing.state is HearingState.CLOSED:
        raise ApiError(409, "invalid_state", "the hearing is closed")
    return request.app[IDENTITY], hearing, actor.participant


async def _officer(request: web.Request) -> tuple[IdentityService, Actor, str]:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id, COURT_OFFICERS)
    await pod.court.get_hearing(hearing_id)
    return request.app[IDENTITY], actor, hearing_id


async def check_in(request: web.Request) -> web.Response:
    service, hearing, p = await _participant(request)
    status = await service.status(hearing.id, p.id)
    limit = service.config.identity_max_check_ins
    if status.checks >= limit:
        raise ApiError(409, "too_many_check_ins", f"at most {limit} check-ins per participant: the court verifies by hand")
    try:
        parts = await _read_parts(request, service.config.identity_max_bytes)
        if not parts.get("snapshot"):
            raise ApiError(400, "missing_file", "send the camera's snapshot in a multipart field named snapshot")
    except ApiError as e:
        await service.refused(hearing, p, e.message)  # the officers are told too
        raise
    snapshot = parts["snapshot"]
    device_id = parts.get("device", b"").decode("utf-8", "replace")[:200]
    check, result = await service.check_in(hearing, p, snapshot, parts.get("document") or None, device_id)
    status = await service.status(hearing.id, p.id)
    return web.json_response({
        "check_in": check.id,
        "state": status.state,
        "face": {"available": result.available, "ok": result.ok, "reasons": result.reasons},
        "message": result.message,
        "retry": bool(set(result.reasons) & _RETRY),
    }, status=201)


async def _read_parts(request: web.Request, limit: int) -> dict[str, bytes]:
    """The check-in's parts, each at most `limit` bytes (413 past it), read into memory."""
    if request.content_type != "multipart/form-data":
        raise ApiError(400, "not_multipart", "send the pictures as multipart/form-data (snapshot, document)")
    if request.content_length is not None and request.content_length > 2 * limit + 64 * 1024:
        raise ApiError(413, "too_large", f"a check-in picture may be at most {limit} bytes")
    parts: dict[str, bytes] = {}
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "malformed_multipart", "nested multipart bodies are not accepted")
            name = part.name or ""
            if name not in ("snapshot", "document", "device") or name in parts:
                raise ApiError(400, "invalid_field", f"unexpected part {name!r}: send snapshot, document and device")
            cap = limit if name != "device" else 200
            data = bytearray()
            while chunk := await part.read_chunk(64 * 1024):
                data += chunk
                if len(data) > cap:
                    raise ApiError(413, "too_large", f"{name} is larger than {cap} bytes")
            parts[name] = bytes(data)
    except ApiError:
        raise
    except Exception as e:  # aiohttp reports a cut or malformed body in several ways
        if isinstance(e, ValueError | AssertionError | EOFError | ConnectionError) or type(e).__module__.startswith("aiohttp"):
            raise ApiError(400, "malformed_multipart", "the multipart body is malformed or incomplete") from None
        raise
    return parts


async def list_identity(request: web.Request) -> web.Response:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    service = request.app[IDENTITY]
    if actor.participant is not None and actor.role not in COURT_OFFICERS:
        # A participant sees only its own state: no scores, no images, nobody else.
        own = await service.status(hearing_id, actor.participant.id)
        return web.json_response({"you": own.own_dict()}, headers={"Cache-Control": "no-store"})
    await pod.court.get_hearing(hearing_id)
    statuses = await service.statuses(hearing_id)
    return web.json_response({
        "participants": [s.to_dict() for s in statuses],
        "face_check": {"available": service.checker.available, "error": service.checker.error},
    }, headers={"Cache-Control": "no-store"})


async def image(request: web.Request) -> web.Response:
    service, _, hearing_id = await _officer(request)
    which = request.path.rsplit("/", 1)[1]
    status = await service.status(hearing_id, request.match_info["participant_id"])
    check = status.check
    sha = None if check is None else (check.snapshot_sha256 if which == "snapshot" else check.document_sha256)
    if check is None or sha is None:
        raise ApiError(404, "not_found", f"no {which} for this participant")
    if check.deleted_at is not None:
        raise ApiError(410, "gone", "the picture was deleted at the end of its retention period")
    try:
        data = await service.picture(hearing_id, sha)
    except FileNotFoundError:
        where = "this pod or the court's bucket" if service.pod.blobs is not None else "this pod"
        raise ApiError(410, "gone", f"the picture is not on {where} (it was taken on another pod of the court "
                       "or deleted)") from None
    except BlobCorrupt as exc:
        # Once per altered picture and process: the court is told, the log is not flooded.
        if (sha, exc.actual) not in service.altered:
            service.altered.add((sha, exc.actual))
            log.error("hearing %s: a check-in picture was altered in the court's bucket: %s", hearing_id, exc)
            await service.pod.court.record_event(
                hearing_id, ident.ALTERED, "system", check.participant_id, check=check.id, picture=which,
                expected_sha256=sha, actual_sha256=exc.actual)
        raise ApiError(409, "picture_altered", f"the {which} in the court's bucket no longer has the SHA-256 "
                       "of the check-in: it is not served, and the court has been told") from None
    except BlobError as exc:
        raise ApiError(503, "store_unavailable", f"the {which} cannot be fetched now: {exc}") from None
    media = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/webp" if data[8:12] == b"WEBP" else "image/jpeg"
    return web.Response(body=data, content_type=media, headers={
        "Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox", "Referrer-Policy": "no-referrer",
    })


async def device(request: web.Request) -> web.Response:
    service, hearing, p = await _participant(request)
    body = await read_json(request, service.config.max_json_bytes)
    value = body.get("device")
    if not isinstance(value, str) or not 8 <= len(value) <= 200:
        raise ApiError(400, "invalid_field", "device must be the browser's id (8 to 200 characters)")
    return web.json_response({"new": await service.device_seen(hearing, p, value)})
