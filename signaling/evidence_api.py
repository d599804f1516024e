"""Evidence over HTTP: file an exhibit, list and download them, present a page, state views (质证).

Uploads are streamed: each chunk of the multipart part is hashed and written to a temporary
file under DATA/evidence/tmp, never held whole in memory; the finished file is renamed to
DATA/evidence/<sha256>. Whatever goes wrong, the temporary file is removed.

Who may do what (roles.py): filing needs UPLOAD_EVIDENCE (parties, agents, judge, clerk,
mediator; the clerk's API key too), presenting PRESENT_EVIDENCE (parties, agents, judge,
mediator) while the hearing is in session, views STATE_VIEW (parties and agents) on an
exhibit of the other side or of the court, never on their own side's. The exhibits are
seen by the court, the parties and their agents at any time, by anyone else of the
hearing only while they receive the hearing (a witness once called).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from aiohttp import BodyPartReader, web

from courtroom.archiving import ledger_key
from courtroom.blobs import BlobCorrupt, BlobError, BlobMissing, BlobStore
from courtroom.court import Actor, Change, Court, clean_text
from courtroom.events import Event
from courtroom.evidence import (
    Duplicate,
    EvidenceStore,
    Exhibit,
    Unreadable,
    clean_view,
    display_name,
    file_path,
    inspect,
    record_notes,
    side_of,
    upload_dir,
)
from courtroom.hearing import Hearing
from courtroom.keyed import LockTable
from courtroom.ledger import Ledger
from courtroom.participants import Participant, receives_hearing
from courtroom.procedure import LIVE, HearingState
from courtroom.roles import Permission, may
from courtroom.sniff import HEAD_BYTES, sniff

from . import exhibits
from .access import caller, require_hearing
from .checked_file import ChangedFile, checked
from .errors import ApiError, read_json
from .pod import HUB, POD, ROOMS, Pod, pod_of
from .validation import BodyPace, EdgeError

log = logging.getLogger("courtroom.evidence")

CHUNK = 64 * 1024
WRITE_BATCH = 1024 * 1024  # bytes gathered before one write in a worker thread
MULTIPART_SLACK = 64 * 1024  # multipart headers and boundaries on top of the file itself
MAX_TEXT_FIELD = 4096
UPLOAD_IDLE_SECONDS = 10.0  # an upload may pause this long; after that long it must average ...
UPLOAD_MIN_RATE = 4096.0  # ... 4 KiB/s (32 kbit/s: a poor mobile link still makes it)
MAX_COMMENT = 2000


# -- receiving a file -------------------------------------------------------------------------


@dataclass
class Upload:
    """One received file: hashed, measured, and (when asked) on disk at `path`."""

    sha256: str
    size: int
    head: bytes
    filename: str | None
    fields: dict[str, str] = field(default_factory=dict)
    path: Path | None = None

    def discard(self) -> None:
        if self.path is not None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self.path = None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "too_large", f"the file is larger than the limit of {limit} bytes")


def _malformed(detail: str = "the multipart body is malformed or incomplete") -> ApiError:
    return ApiError(400, "malformed_multipart", detail)


async def receive_upload(
    request: web.Request, limit: int, into: Path | None, text_fields: frozenset[str] = frozenset()
) -> Upload:
    """Stream the multipart part `file` through SHA-256 (and into a temp file under `into`).

    Other parts named in `text_fields` are read as short UTF-8 text; any other part is
    refused. 400 for a malformed or truncated body or no file, 413 past `limit` bytes.
    """
    if request.content_type != "multipart/form-data":
        raise ApiError(400, "not_multipart", "send the file as multipart/form-data, in a field named file")
    if request.content_length is not None and request.content_length > limit + MULTIPART_SLACK:
        raise _too_large(limit)
    digest = hashlib.sha256()
    size = 0
    head = b""
    filename: str | None = None
    fields: dict[str, str] = {}
    got_file = False
    path: Path | None = None
    out: Any = None
    pending: list[bytes] = []
    pending_bytes = 0
    ok = False
    pace = BodyPace.for_request(request, UPLOAD_IDLE_SECONDS, UPLOAD_MIN_RATE)  # a body that stalls or trickles: 408
    try:
        try:
            reader = await request.multipart()
        except (ValueError, AssertionError, KeyError):
            raise _malformed("the multipart body has no valid boundary") from None
        while True:
            part = await pace.read(reader.next())
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise _malformed("nested multipart bodies are not accepted")
            encoding = part.headers.get("Content-Transfer-Encoding", "binary").lower()
            if encoding not in ("binary", "8bit", "7bit") or part.headers.get("Content-Encoding", "identity").lower() != "identity":
                raise _malformed("send the file as it is, without a transfer or content encoding")
            if part.name == "file" and not got_file:
                got_file = True
                filename = _filename(part.filename)
                if into is not None:
                    path = into / f"{uuid.uuid4().hex}.part"
                    out = await asyncio.to_thread(_open_new, path)
                while True:
                    chunk = await pace.read(part.read_chunk(CHUNK))
                    if not chunk:
                        break
                    size += len(chunk)
                    pace.check(size)
                    if size > limit:
                        raise _too_large(limit)
                    digest.update(chunk)
                    if len(head) < HEAD_BYTES:
                        head += chunk[: HEAD_BYTES - len(head)]
                    if out is not None:
                        pending.append(chunk)
                        pending_bytes += len(chunk)
                        if pending_bytes >= WRITE_BATCH:
                            await asyncio.to_thread(out.write, b"".join(pending))
                            pending, pending_bytes = [], 0
            elif part.name in text_fields and part.name not in fields:
                raw = b""
                while chunk := await pace.read(part.read_chunk(CHUNK)):
                    raw += chunk
                    pace.check(len(raw) + size)
                    if len(raw) > MAX_TEXT_FIELD:
                        raise ApiError(400, "invalid_field", f"{part.name} is too long")
                try:
                    fields[part.name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(400, "invalid_field", f"{part.name} must be UTF-8 text") from None
            else:
                raise ApiError(400, "invalid_field", f"unexpected part {part.name!r}: send one file (and {', '.join(sorted(text_fields)) or 'nothing else'})")
        if not got_file:
            raise ApiError(400, "missing_file", "no file: send it in a multipart field named file")
        if out is not None:
            if pending:
                await asyncio.to_thread(out.write, b"".join(pending))
            await asyncio.to_thread(_sync_close, out)
            out = None
        ok = True
    except (ApiError, EdgeError):
        raise
    except (ValueError, AssertionError, ConnectionError, asyncio.IncompleteReadError, EOFError) as e:
        raise _malformed() from e
    except Exception as e:
        # aiohttp reports a body cut short in several ways (payload errors, EofStream).
        if type(e).__module__.startswith("aiohttp"):
            raise _malformed() from e
        raise
    finally:
        if out is not None:
            with contextlib.suppress(OSError):
                out.close()
        if not ok and path is not None:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    return Upload(digest.hexdigest(), size, head, filename, fields, path)


def _filename(raw: str | None) -> str | None:
    """The part's file name: browsers send it as raw UTF-8, some clients percent-encode it."""
    if raw and "%" in raw:
        try:
            return urllib.parse.unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return raw
    return raw


def _open_new(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "xb")


def _sync_close(f: Any) -> None:
    f.flush()
    os.fsync(f.fileno())
    f.close()


def _store_file(tmp: Path, final: Path) -> None:
    """Move a finished upload to its content address. The same bytes may already be there:
    replacing them is atomic, and puts right a copy that was damaged on disk."""
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, final)
    fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- the service ------------------------------------------------------------------------------


@dataclass
class Presenting:
    exhibit: Exhibit
    page: int
    by: str
    since: float

    def to_dict(self) -> dict[str, Any]:
        return {"exhibit": self.exhibit.id, "label": self.exhibit.label, "page": self.page,
                "pages": self.exhibit.pages, "by": self.by, "since": self.since, "side": self.exhibit.side}


class EvidenceService:
    """What the evidence routes share: the ledger, the exhibits, what each hearing shows."""

    def __init__(self, pod: Pod) -> None:
        self.pod = pod
        self.ledger = Ledger(pod.court.store, pod.config.data_dir)
        self.store = EvidenceStore(pod.court.store, self.ledger)
        self.presenting: dict[str, Presenting] = {}
        self.locks: LockTable[str] = LockTable()  # kept only while in use
        self.altered: set[tuple[str, str]] = set()  # (exhibit, found sha256) already reported
        self.fetching: LockTable[str] = LockTable()  # one download per file, however many ask

    @property
    def court(self) -> Court:
        return self.pod.court

    def lock(self, hearing_id: str) -> asyncio.Lock:
        return self.locks[hearing_id]

    async def all_exhibits(self, hearing_id: str) -> list[Exhibit]:
        return await self.pod.db.run(self.store.list, hearing_id)

    async def get(self, hearing_id: str, exhibit_id: str) -> Exhibit:
        return await self.pod.db.run(self.store.get, hearing_id, exhibit_id)

    async def local_file(self, exhibit: Exhibit) -> Path:
        """The exhibit's file on this pod's disk. In a multi-pod court the pod that took the
        exhibit in may be another: a pod without the file fetches it from the court's bucket
        (`ledger/<sha256>`, checked against the deposited digest) before serving or showing it.
        A file the bucket lacks stays missing (the caller answers 410); an altered copy raises
        ChangedFile; an unreachable bucket, BlobError."""
        path = file_path(self.pod.config.data_dir, exhibit.sha256)
        blobs = self.pod.blobs
        if blobs is None or path.exists():
            return path
        async with self.fetching[exhibit.sha256]:
            if not path.exists():
                await asyncio.to_thread(_fetch_deposited, blobs, exhibit.sha256, path)
        return path

    async def seal(self, hearing_id: str) -> Any:
        """Deposit the hearing's event log and Merkle root (see Ledger.seal)."""
        return await self.pod.db.run(self.ledger.seal, hearing_id)

    async def notes(self, hearing_id: str) -> list[Any]:
        """Exhibits shown and views stated, as lines of the hearing record (a transcript NoteSource)."""
        events = await self.court.events(hearing_id)
        people = await self.court.participants(hearing_id)
        return record_notes(events, people, await self.all_exhibits(hearing_id))

    async def on_record_confirmed(self, confirmed: Any) -> None:
        """A transcript hook: deposit the confirmed hearing record (庭审笔录) once, then seal again.

        `confirmed` is a courtroom.transcript.RecordConfirmed; the record's canonical text is
        deposited as UTF-8 (kind `transcript`, name `record.txt`) when the first decision
        seals it, and the hearing is sealed again then and once every party has decided.
        """
        hearing_id: str = confirmed.hearing_id
        data = str(confirmed.text).encode("utf-8")
        sha = hashlib.sha256(data).hexdigest()
        ledger = self.ledger

        def deposit() -> None:
            with ledger.transaction():
                done = any(e.kind == "transcript" and e.sha256 == sha for e in ledger.leaves(hearing_id))
                if not done:
                    ledger.deposit("transcript", hearing_id, "record.txt", sha, len(data))
            if not done or confirmed.complete:
                ledger.seal(hearing_id)

        await self.pod.db.run(deposit)
        archiver = self.pod.services.get("archiver")
        if archiver is not None:
            await archiver.mirror_hearing(hearing_id, (data,))

    async def restore(self, room: Any) -> None:
        """A room (re)started mid-hearing shows again what was last presented: the events are
        the record of it, so a server restart does not clear the exhibit area."""
        hearing = room.hearing
        if hearing.state is not HearingState.IN_SESSION:
            return
        last = None
        for event in await self.court.events(hearing.id):
            if event.kind == "evidence.present":
                last = event
            elif event.kind == "evidence.withdraw":
                last = None
        if last is None or not last.subject:
            return
        try:
            exhibit = await self.get(hearing.id, last.subject)
            page = int(last.data.get("page", 1))
            path = await self.local_file(exhibit)
            image = await exhibits.render(path, exhibit.media_type, page)
        except Exception:  # noqa: BLE001 - an exhibit that cannot be shown again is left out, not fatal
            log.exception("could not show exhibit %s again in hearing %s", last.subject, hearing.id)
            return
        room.exhibit = image
        room.show_exhibit_area = True
        self.presenting[hearing.id] = Presenting(exhibit, page, last.actor or "", last.wall_time)

    async def on_change(self, change: Change) -> None:
        hearing = change.hearing
        if hearing.state is HearingState.CLOSED:
            self.presenting.pop(hearing.id, None)
        if change.action == "close":
            try:
                await self.seal(hearing.id)
            except Exception:  # noqa: BLE001 - the hearing is closed either way; the seal can be redone
                log.exception("sealing hearing %s in the ledger failed", hearing.id)


EVIDENCE = web.AppKey("evidence", EvidenceService)


def add_routes(app: web.Application) -> None:
    service = EvidenceService(app[POD])
    app[EVIDENCE] = service
    service.court.add_listener(service.on_change)
    app.on_startup.append(_join_the_record)
    base = "/api/hearings/{hearing_id}/evidence"
    app.router.add_post(base, upload)
    app.router.add_get(base, list_exhibits)
    app.router.add_post(base + "/withdraw", withdraw)
    app.router.add_get(base + "/{exhibit_id}", get_exhibit)
    app.router.add_get(base + "/{exhibit_id}/file", download)
    app.router.add_post(base + "/{exhibit_id}/present", present)
    app.router.add_post(base + "/{exhibit_id}/views", state_view)
    app.router.add_get(base + "/{exhibit_id}/views", list_views)
    from . import verify_api

    verify_api.add_routes(app)


async def _join_the_record(app: web.Application) -> None:
    """Exhibits shown and views stated become lines of the hearing record; the confirmed
    record is deposited in the ledger; a room started mid-hearing shows the exhibit again.
    (At start-up: the transcript service and the rooms are made after the routes.)"""
    from .pod import ROOMS
    from .transcript_api import TRANSCRIPT

    service = app[EVIDENCE]
    app[ROOMS].on_start.append(service.restore)
    transcript = app[TRANSCRIPT]
    transcript.note_sources.append(service.notes)
    transcript.on_confirmed.append(service.on_record_confirmed)


# -- who sees what ----------------------------------------------------------------------------


def sees_evidence(participant: Participant | None, state: HearingState) -> bool:
    """The clerk's key, the court and the parties always; anyone else only while in the
    hearing: the disclosure rule's answer (`Disclosure.sees_exhibits`)."""
    from courtroom.disclosure import Disclosure, Viewer
    from courtroom.procedure import ProcedureKind

    people = [participant] if participant is not None else []
    hearing = Hearing(participant.hearing_id if participant else "", "", "", ProcedureKind.SIMPLE, False, state=state)
    return Disclosure(hearing, people).sees_exhibits(Viewer.of(participant))


async def _caller_for(request: web.Request) -> tuple[EvidenceService, Actor, Hearing]:
    pod = pod_of(request)
    hearing_id = request.match_info["hearing_id"]
    actor = await caller(request, pod.court, pod.admin_key)
    require_hearing(actor, hearing_id)
    hearing = await pod.court.get_hearing(hearing_id)
    return request.app[EVIDENCE], actor, hearing


def _require(actor: Actor, permission: Permission, doing: str) -> None:
    if not may(actor.role, permission):
        raise ApiError(403, "forbidden", f"a {actor.role.value} may not {doing}")


def _require_sees(actor: Actor, hearing: Hearing) -> None:
    if not sees_evidence(actor.participant, hearing.state):
        raise ApiError(403, "forbidden", "you do not see this hearing's evidence now")


def broadcast(app: web.Application, hearing: Hearing, message: dict[str, Any]) -> None:
    """Send to every socket of the hearing whose participant sees its evidence."""
    hub = app[HUB]
    for session in list(hub.sessions.get(hearing.id, {}).values()):
        if sees_evidence(session.participant, hearing.state):
            session.send(message)


async def _announce(request: web.Request, service: EvidenceService, hearing: Hearing) -> None:
    exhibits_now = await service.all_exhibits(hearing.id)
    broadcast(request.app, hearing, {"type": "evidence", "exhibits": [e.to_dict() for e in exhibits_now]})


# -- handlers ---------------------------------------------------------------------------------


async def upload(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require(actor, Permission.UPLOAD_EVIDENCE, "file evidence")
    if hearing.state is HearingState.CLOSED:
        raise ApiError(409, "invalid_state", "the hearing is closed: no more evidence")
    config = service.pod.config
    received = await receive_upload(
        request, config.evidence_max_bytes, upload_dir(config.data_dir), frozenset({"label"})
    )
    try:
        if received.size == 0:
            raise ApiError(400, "empty_file", "the file is empty")
        media_type = sniff(received.head)
        if media_type is None:
            raise ApiError(
                415, "unsupported_media_type",
                "evidence must be a PDF, PNG or JPEG document, or WAV, MP3, MP4/M4A, WebM/Matroska or Ogg sound or video "
                "(decided from the file's content, not its name)",
            )
        description = clean_text(received.fields.get("label"), "label", 100, required=False)
        assert received.path is not None
        try:
            pages = await inspect(received.path, media_type)
        except Unreadable as e:
            raise ApiError(415, "unreadable", str(e)) from None
        final = file_path(config.data_dir, received.sha256)
        await asyncio.to_thread(_store_file, received.path, final)
        received.path = None
        event = Event(hearing.id, "evidence.upload", actor.id, None, {}, service.court.hearing_time(hearing), time.time())
        try:
            exhibit = await service.pod.db.run(
                service.store.add, hearing.id, actor.id, side_of(actor.role, actor.participant.side if actor.participant else None),
                description, display_name(received.filename, media_type), media_type, received.sha256,
                received.size, pages, event,
            )
        except Duplicate as dup:
            return web.json_response(
                {"error": "duplicate", "message": f"this file is already {dup.exhibit.label} of this hearing",
                 "exhibit": dup.exhibit.to_dict()},
                status=409,
            )
        except Exception:
            if not await service.pod.db.run(service.store.referenced, received.sha256):
                with contextlib.suppress(FileNotFoundError):
                    final.unlink()
            raise
    finally:
        received.discard()
    service.court.announce_event(event)  # the officers' events tab lists the upload at once
    archiver = service.pod.services.get("archiver")
    if archiver is not None:  # a multi-pod court: the deposited exhibit goes to the bucket now, tracked
        hid = hearing.id
        service.court.effects.submit(hid, "archive.exhibit", lambda: archiver.mirror_hearing(hid))
    await _announce(request, service, hearing)
    return web.json_response(exhibit.to_dict(), status=201)


async def list_exhibits(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require_sees(actor, hearing)
    found = await service.all_exhibits(hearing.id)
    current = service.presenting.get(hearing.id)
    return web.json_response({
        "exhibits": [e.to_dict() for e in found],
        "presenting": current.to_dict() if current else None,
    })


async def get_exhibit(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require_sees(actor, hearing)
    exhibit = await service.get(hearing.id, request.match_info["exhibit_id"])
    return web.json_response(exhibit.to_dict())


def _fetch_deposited(blobs: BlobStore, sha256: str, path: Path) -> None:
    # Into a temporary name first: a reader never sees half a file under the digest's name.
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        blobs.download(ledger_key(sha256), temporary, sha256)
        os.replace(temporary, path)
    except BlobMissing:
        log.warning("exhibit file %s is neither on this pod nor in %s", sha256, blobs.url)
    except BlobCorrupt as exc:
        raise ChangedFile(path, sha256, exc.actual or "unknown") from None
    finally:
        temporary.unlink(missing_ok=True)


def content_disposition(name: str) -> str:
    """attachment; an ASCII fallback name and the exact name percent-encoded (RFC 6266 / 5987)."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "exhibit"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{urllib.parse.quote(name, safe='')}"


async def download(request: web.Request) -> web.StreamResponse:
    service, actor, hearing = await _caller_for(request)
    _require_sees(actor, hearing)
    exhibit = await service.get(hearing.id, request.match_info["exhibit_id"])
    try:
        path = await service.local_file(exhibit)
        return await checked(request, path, exhibit.sha256, {
            "Content-Type": exhibit.media_type,
            "Content-Disposition": content_disposition(exhibit.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "private, max-age=3600",
        })
    except FileNotFoundError:
        raise ApiError(410, "gone", "the exhibit's file is missing from this pod and the court's bucket") from None
    except BlobError as exc:
        raise ApiError(503, "store_unavailable", f"the exhibit's file cannot be fetched now: {exc}") from None
    except ChangedFile as exc:
        # Once per changed file and process: the court is told, the log is not flooded.
        if (exhibit.id, exc.actual) not in service.altered:
            service.altered.add((exhibit.id, exc.actual))
            log.error("exhibit %s of hearing %s was changed on disk: %s", exhibit.id, hearing.id, exc)
            await service.court.record_event(hearing.id, "evidence.altered", "system", exhibit.id,
                                             label=exhibit.label, expected_sha256=exc.expected, actual_sha256=exc.actual)
        raise ApiError(409, "exhibit_altered", f"{exhibit.label}'s file no longer has its deposited SHA-256; "
                       "the court has been told") from None


async def _in_hearing(service: EvidenceService, actor: Actor, hearing: Hearing) -> None:
    """A presenting party must be seated in the hearing, not waiting outside it (the bench need not)."""
    if actor.participant is None or may(actor.role, Permission.ACT_ON_OTHERS):
        return
    people = {p.id: p for p in await service.court.participants(hearing.id)}
    p = people.get(actor.participant.id)
    if p is None or not receives_hearing(p, hearing.state):
        raise ApiError(403, "not_in_hearing", "only someone seated in the hearing may show evidence")


def _page(body: dict[str, Any], exhibit: Exhibit) -> int:
    page = body.get("page", 1)
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise ApiError(400, "invalid_field", "page must be a whole number from 1")
    if page > exhibit.pages:
        raise ApiError(400, "invalid_page", f"{exhibit.label} has {exhibit.pages} page{'s' if exhibit.pages != 1 else ''}")
    return page


async def present(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require(actor, Permission.PRESENT_EVIDENCE, "present evidence")
    body = await read_json(request, service.pod.config.max_json_bytes) if request.can_read_body else {}
    exhibit = await service.get(hearing.id, request.match_info["exhibit_id"])
    async with service.lock(hearing.id):
        hearing = await service.court.get_hearing(hearing.id)
        if hearing.state is not HearingState.IN_SESSION:
            raise ApiError(409, "invalid_state", "evidence is presented while the hearing is in session")
        await _in_hearing(service, actor, hearing)
        if not exhibit.presentable:
            raise ApiError(400, "not_presentable", f"{exhibit.media_type} cannot be shown in the exhibit area; download it instead")
        page = _page(body, exhibit)
        try:
            path = await service.local_file(exhibit)
            image: np.ndarray = await exhibits.render(path, exhibit.media_type, page)
        except (Unreadable, IndexError, FileNotFoundError, ChangedFile) as e:
            raise ApiError(409, "not_presentable", f"the page cannot be shown ({e})") from None
        except BlobError as e:
            raise ApiError(503, "store_unavailable", f"the exhibit's file cannot be fetched now: {e}") from None
        people = await service.court.participants(hearing.id)
        room = await request.app[ROOMS].room_for(hearing, people)
        if room is not None:
            room.exhibit = image
            room.show_exhibit_area = True
        showing = service.presenting[hearing.id] = Presenting(exhibit, page, actor.id, time.time())
        await service.court.record_event(hearing.id, "evidence.present", actor.id, exhibit.id, page=page, label=exhibit.label)
    broadcast(request.app, hearing, {"type": "exhibit", "presenting": showing.to_dict()})
    await request.app[HUB].refresh(hearing.id)  # the picture's layout now has the exhibit area
    return web.json_response({"presenting": showing.to_dict()})


async def withdraw(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require(actor, Permission.PRESENT_EVIDENCE, "withdraw evidence")
    async with service.lock(hearing.id):
        hearing = await service.court.get_hearing(hearing.id)
        if hearing.state not in LIVE:
            raise ApiError(409, "invalid_state", "the hearing is not live")
        await _in_hearing(service, actor, hearing)
        room = request.app[ROOMS].rooms.get(hearing.id)
        if room is not None:
            room.exhibit = None
            room.show_exhibit_area = False
        was = service.presenting.pop(hearing.id, None)
        if was is not None:
            await service.court.record_event(hearing.id, "evidence.withdraw", actor.id, was.exhibit.id)
    broadcast(request.app, hearing, {"type": "exhibit", "presenting": None})
    await request.app[HUB].refresh(hearing.id)  # the exhibit area is gone from the picture
    return web.json_response({"presenting": None})


async def state_view(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    if actor.participant is None:
        raise ApiError(403, "forbidden", "views are stated by a party or an agent with their own token")
    _require(actor, Permission.STATE_VIEW, "state a view on evidence")
    body = await read_json(request, service.pod.config.max_json_bytes)
    exhibit = await service.get(hearing.id, request.match_info["exhibit_id"])
    if hearing.state is HearingState.CLOSED:
        raise ApiError(409, "invalid_state", "the hearing is closed")
    own = side_of(actor.role, actor.participant.side)
    if exhibit.side == own:
        raise ApiError(403, "own_exhibit", "views are stated on the other side's evidence and the court's, not your own")
    try:
        view: dict[str, Any] = clean_view(body)
    except ValueError as e:
        raise ApiError(400, "invalid_field", str(e)) from None
    comment = clean_text(body.get("comment"), "comment", MAX_COMMENT, required=False)
    if comment:
        view["comment"] = comment
    event = await service.court.record_event(hearing.id, "evidence.view", actor.id, exhibit.id, side=own, **view)
    out = _view_dict(event, {actor.participant.id: actor.participant})
    # Each socket gets the view with the author named as the disclosure rule lets it see them
    # (a role label for whoever the author is screened from).
    from courtroom.disclosure import Viewer

    hub = request.app[HUB]
    rule = await hub.disclosure(hearing.id)
    for session in list(hub.sessions.get(hearing.id, {}).values()):
        if sees_evidence(session.participant, hearing.state):
            name = rule.name_of(Viewer.of(session.participant), actor.participant)
            session.send({"type": "evidence_view", "exhibit": exhibit.id, "view": {**out, "name": name}})
    return web.json_response(out, status=201)


def _view_dict(event: Event, people: dict[str, Participant]) -> dict[str, Any]:
    p = people.get(event.actor or "")
    return {
        "exhibit": event.subject,
        "participant": event.actor,
        "name": p.name if p else None,
        "role": p.role.value if p else None,
        "side": event.data.get("side"),
        **{k: event.data.get(k) for k in ("authenticity", "relevance", "lawfulness")},
        "comment": event.data.get("comment", ""),
        "hearing_time": round(event.hearing_time, 3),
        "wall_time": event.wall_time,
        "seq": event.seq,
    }


async def list_views(request: web.Request) -> web.Response:
    service, actor, hearing = await _caller_for(request)
    _require_sees(actor, hearing)
    exhibit = await service.get(hearing.id, request.match_info["exhibit_id"])
    events = [e for e in await service.court.events(hearing.id) if e.kind == "evidence.view" and e.subject == exhibit.id]
    from courtroom.disclosure import Disclosure, Viewer

    # Whoever is screened from the caller is named by role (the disclosure rule).
    rule = Disclosure(hearing, await service.court.participants(hearing.id))
    people = {p.id: p for p in rule.record_people(Viewer.of(actor.participant))}
    return web.json_response({"exhibit": exhibit.id, "label": exhibit.label, "views": [_view_dict(e, people) for e in events]})
