"""Evidence (证据): exhibits of a hearing, numbered per side, stored by content, deposited in the ledger.

An exhibit's file lives at DATA/evidence/<sha256> (content-addressed: the same bytes are
one file however often they are filed); its row in `exhibits` carries the hearing, who
filed it, the side's number (原告证据1, 被告证据1, 法庭证据1 ...), the display name the
uploader's file had (text only, never a path) and the media type sniffed from its bytes.
Filing an exhibit is one transaction: the row, its ledger entry (kind `exhibit`) and the
`evidence.upload` event.

SQL runs on the database thread (`Database.run`); pypdfium2 is not thread-safe, so every
use of it goes through the one `PDFIUM` thread.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .events import Event
from .ledger import Ledger
from .participants import Participant
from .procedure import ActionRefused, HearingState
from .roles import Role
from .sniff import EXTENSIONS, PRESENTABLE
from .storage import NotFound

if TYPE_CHECKING:
    from .storage import Store

SIDES = ("plaintiff", "defendant", "court")
SIDE_LABELS = {"plaintiff": "原告证据", "defendant": "被告证据", "court": "法庭证据"}
SIDE_NAMES = {"plaintiff": "原告", "defendant": "被告", "court": "法庭"}
VIEW_FIELDS = ("authenticity", "relevance", "lawfulness")  # 真实性, 关联性, 合法性
VIEW_VALUES = ("admit", "dispute")
_VIEW_NAMES = {"authenticity": "真实性", "relevance": "关联性", "lawfulness": "合法性"}
_VALUE_NAMES = {"admit": "认可", "dispute": "有异议"}
MAX_FILENAME = 120
MAX_DESCRIPTION = 100

# One thread for every pypdfium2 call in the process (page counts here, pages rendered in
# signaling/exhibits.py): pdfium must not be entered from two threads at once.
PDFIUM = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdfium")


class Unreadable(Exception):
    """The bytes look like a PDF or a picture but cannot be opened as one."""


class Duplicate(Exception):
    def __init__(self, exhibit: Exhibit) -> None:
        super().__init__(f"this file is already {exhibit.label}")
        self.exhibit = exhibit


@dataclass(frozen=True)
class Exhibit:
    id: str
    hearing_id: str
    owner: str  # participant id, or "clerk" for the clerk's key
    side: str  # plaintiff | defendant | court
    number: int  # per side: 原告证据<number>
    label: str  # 原告证据1, or 原告证据1：<the uploader's description>
    filename: str  # display text only
    media_type: str
    sha256: str
    size: int
    pages: int  # a PDF's page count; 1 for a picture; 0 for sound or video
    created_at: float

    @property
    def presentable(self) -> bool:
        return self.media_type in PRESENTABLE

    @property
    def short_label(self) -> str:
        return numbered_label(self.side, self.number)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hearing_id": self.hearing_id,
            "label": self.label,
            "number": self.number,
            "side": self.side,
            "owner": self.owner,
            "filename": self.filename,
            "media_type": self.media_type,
            "sha256": self.sha256,
            "size": self.size,
            "pages": self.pages,
            "presentable": self.presentable,
            "created_at": self.created_at,
        }


def side_of(role: Role, side: str | None) -> str:
    """Whose exhibit: the party's side (an agent's is the side it acts for), else the court's."""
    if role in (Role.PLAINTIFF, Role.DEFENDANT):
        return role.value
    if role is Role.AGENT and side in ("plaintiff", "defendant"):
        return side
    return "court"


def numbered_label(side: str, number: int) -> str:
    return f"{SIDE_LABELS[side]}{number}"


def display_name(raw: str | None, media_type: str) -> str:
    """The uploader's file name as display text: no folders, no control characters, bounded."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"))
    name = " ".join(name.split()).strip(" .")
    if not name:
        name = "exhibit" + EXTENSIONS.get(media_type, "")
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1].rstrip() + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def evidence_dir(data_dir: Path) -> Path:
    return data_dir / "evidence"


def upload_dir(data_dir: Path) -> Path:
    """Uploads in progress; a file here is always removed when its request ends."""
    return data_dir / "evidence" / "tmp"


def file_path(data_dir: Path, sha256: str) -> Path:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError("not a sha256")
    return evidence_dir(data_dir) / sha256


# -- inspecting a file (in the PDFIUM thread) ----------------------------------------------


def count_pages(path: Path, media_type: str) -> int:
    """A PDF's pages, 1 for a picture that opens, 0 for sound and video. Raises Unreadable."""
    if media_type == "application/pdf":
        import pypdfium2 as pdfium

        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError as e:
            raise Unreadable(f"the PDF cannot be opened ({e})") from None
        try:
            pages = len(pdf)
        finally:
            pdf.close()
        if pages < 1:
            raise Unreadable("the PDF has no pages")
        return pages
    if media_type in ("image/png", "image/jpeg"):
        from PIL import Image

        try:
            with Image.open(path) as image:
                if image.width * image.height > 100_000_000:
                    raise Unreadable("the picture is too large")
                image.verify()
        except Unreadable:
            raise
        except Exception as e:  # noqa: BLE001 - Pillow raises many kinds for a bad file
            raise Unreadable(f"the picture cannot be opened ({type(e).__name__})") from None
        return 1
    return 0


async def inspect(path: Path, media_type: str) -> int:
    return await asyncio.get_running_loop().run_in_executor(PDFIUM, count_pages, path, media_type)


# -- the exhibits table ----------------------------------------------------------------------


class EvidenceStore:
    """The exhibits of every hearing. Synchronous: call through `Database.run`."""

    def __init__(self, store: Store, ledger: Ledger) -> None:
        self.store = store
        self.rows = store.exhibits
        self.ledger = ledger

    def add(
        self,
        hearing_id: str,
        owner: str,
        side: str,
        description: str,
        filename: str,
        media_type: str,
        sha256: str,
        size: int,
        pages: int,
        event: Event,
    ) -> Exhibit:
        """File one exhibit: its row, its ledger deposit and `event` (data filled in here), at once.

        Raises ActionRefused(409) once the hearing is closed, Duplicate when the same bytes
        are already an exhibit of this hearing.
        """
        if side not in SIDES:
            raise ValueError(f"side must be one of {SIDES}")
        with self.ledger.transaction():
            if self.store.hearings.get_hearing(hearing_id).state is HearingState.CLOSED:
                raise ActionRefused(409, "invalid_state", "the hearing is closed: no more evidence")
            existing = self.rows.with_sha256(hearing_id, sha256)
            if existing:
                raise Duplicate(existing[0])
            number = self.rows.next_number(hearing_id, side)  # in the write transaction: unique per side
            label = numbered_label(side, number)
            if description:
                label = f"{label}：{description}"
            exhibit = Exhibit(
                id=uuid.uuid4().hex[:12], hearing_id=hearing_id, owner=owner, side=side, number=number,
                label=label, filename=filename, media_type=media_type, sha256=sha256, size=size,
                pages=pages, created_at=event.wall_time,
            )
            self.rows.insert(exhibit)
            # The ledger keeps the numbered label only: no uploader's text in an entry that can never be removed.
            entry = self.ledger.deposit("exhibit", hearing_id, exhibit.short_label, sha256, size)
            event.subject = exhibit.id
            event.data.update(
                label=label, side=side, number=number, sha256=sha256, size=size, media_type=media_type,
                pages=pages, ledger_seq=entry.seq,
            )
            self.store.hearings.append_event(event)
        return exhibit

    def get(self, hearing_id: str, exhibit_id: str) -> Exhibit:
        found = self.rows.get(hearing_id, exhibit_id)
        if found is None:
            raise NotFound(f"no exhibit {exhibit_id} in this hearing")
        return found

    def list(self, hearing_id: str) -> list[Exhibit]:
        exhibits = self.rows.of_hearing(hearing_id)
        order = {s: i for i, s in enumerate(SIDES)}
        return sorted(exhibits, key=lambda e: (order.get(e.side, 9), e.number))

    def referenced(self, sha256: str) -> bool:
        return self.rows.referenced(sha256)


# -- views (质证) and the record ----------------------------------------------------------------


def clean_view(body: dict[str, Any]) -> dict[str, str]:
    """The view fields of a request body; raises ValueError with a message for the client."""
    view: dict[str, str] = {}
    for name in VIEW_FIELDS:
        value = body.get(name)
        if value is None:
            continue
        if value not in VIEW_VALUES:
            raise ValueError(f"{name} must be one of: {', '.join(VIEW_VALUES)}")
        view[name] = str(value)
    if not view:
        raise ValueError(f"state at least one of {', '.join(VIEW_FIELDS)} (admit or dispute)")
    return view


def view_text(view: dict[str, Any]) -> str:
    parts = [f"{_VIEW_NAMES[k]}{_VALUE_NAMES[view[k]]}" for k in VIEW_FIELDS if view.get(k) in _VALUE_NAMES]
    text = "，".join(parts)
    comment = view.get("comment")
    if comment:
        text += f"。意见：{comment}"
    return text


def record_notes(
    events: Iterable[Event], participants: Sequence[Participant], exhibits: Sequence[Exhibit]
) -> list[Any]:
    """Lines for the hearing record (courtroom.record.Note): exhibits shown, views stated."""
    from .record import Note, role_title

    people = {p.id: p for p in participants}
    by_id = {e.id: e for e in exhibits}
    notes = []
    for event in events:
        exhibit = by_id.get(event.subject or "")
        if exhibit is None or event.kind not in ("evidence.present", "evidence.view"):
            continue
        who_p = people.get(event.actor or "")
        who = f"{role_title(who_p.role, who_p.side)}{who_p.name}" if who_p else "法庭"
        if event.kind == "evidence.present":
            page = event.data.get("page", 1)
            pages = f"第{page}页" if exhibit.pages > 1 else ""
            notes.append(Note(event.hearing_time, f"（{who}出示{exhibit.label}{'，' + pages if pages else ''}）", event.kind))
        else:
            notes.append(Note(event.hearing_time, f"（{who}对{exhibit.label}发表质证意见：{view_text(event.data)}）", event.kind))
    return notes
