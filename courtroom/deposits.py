"""Where each deposited file lives on disk, and whether it still has the bytes the ledger holds.

The chain (`courtroom/ledger.py`) proves the ledger's rows were not changed; this module
proves the files they speak of were not: every deposit that should exist as a file (an
exhibit, an archive part, the replay and its captions, the sealed event log, any other file
a hearing lists with its hash: record files, record versions) is found and hashed again.
`ledger check`, `hearing export` and `verify FILE` all ask it, so the rule lives here once.

Synchronous: run it on the database thread (`Database.run` / `Database.call`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ledger import EVENTS, MERKLE_ROOT, Ledger, LedgerEntry, file_digest

if TYPE_CHECKING:
    from .storage import Store


@dataclass(frozen=True)
class DepositedFile:
    """A ledger entry and the file that should hold its bytes."""

    seq: int
    kind: str
    hearing_id: str
    name: str
    path: Path
    sha256: str  # what the ledger holds
    size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"path": str(self.path)}


@dataclass(frozen=True)
class FileProblem:
    file: DepositedFile
    problem: str  # "missing" | "changed"
    actual_sha256: str | None
    actual_size: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.file.to_dict(), "problem": self.problem, "expected_sha256": self.file.sha256,
                "actual_sha256": self.actual_sha256, "actual_size": self.actual_size}

    def describe(self) -> str:
        f = self.file
        if self.problem == "missing":
            return f"{f.path}: missing (entry {f.seq}, {f.kind} of hearing {f.hearing_id}, expected sha256 {f.sha256})"
        return (f"{f.path}: changed (entry {f.seq}, {f.kind} of hearing {f.hearing_id}): "
                f"expected sha256 {f.sha256}, actual {self.actual_sha256} ({self.actual_size} bytes, expected {f.size})")


def _listed_files(extra: dict[str, Any], data_dir: Path) -> dict[str, list[Path]]:
    """sha256 → paths of every file a hearing lists with its hash (`record_files`,
    `transcript_files`, and any later list of the same shape)."""
    out: dict[str, list[Path]] = {}
    for value in extra.values():
        if not isinstance(value, list):
            continue
        for item in value:
            if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("sha256"), str):
                raw = item["path"]
                path = Path(raw) if os.path.isabs(raw) else data_dir / raw
                out.setdefault(item["sha256"], []).append(path)
    return out


def expected_files(store: Store, data_dir: Path, hearing_id: str | None = None) -> list[DepositedFile]:
    """Every deposit that should exist as a file, with its path. A deposit with no file of its
    own (the confirmed record's text, kept in the store; a superseded event log) is left out."""
    from .evidence import file_path

    ledger = Ledger(store, data_dir)
    entries = [e for e in ledger.entries(hearing_id) if e.kind != MERKLE_ROOT]
    extras: dict[str, dict[str, list[Path]]] = {}
    for hid, extra_text in store.hearings.extras().items():
        try:
            extra = json.loads(extra_text) if extra_text else {}
        except ValueError:
            extra = {}
        extras[hid] = _listed_files(extra if isinstance(extra, dict) else {}, data_dir)
    last_log: dict[str, LedgerEntry] = {}
    for e in entries:
        if e.kind == EVENTS:
            last_log[e.hearing_id] = e  # the file is rewritten at each seal: only the last one is on disk
    out: list[DepositedFile] = []
    seen: set[tuple[str, Path]] = set()

    def add(e: LedgerEntry, path: Path) -> None:
        if (e.sha256, path) not in seen:
            seen.add((e.sha256, path))
            out.append(DepositedFile(e.seq, e.kind, e.hearing_id, e.name, path, e.sha256, e.size))

    for e in entries:
        if e.kind == "exhibit":
            add(e, file_path(data_dir, e.sha256))
        elif e.kind == EVENTS:
            if last_log.get(e.hearing_id) is e:
                add(e, data_dir / "records" / e.hearing_id / "events.jsonl")
        else:
            for path in extras.get(e.hearing_id, {}).get(e.sha256, []):
                add(e, path)
    return out


def check_file(f: DepositedFile) -> FileProblem | None:
    try:
        sha, size = file_digest(f.path)
    except FileNotFoundError:
        return FileProblem(f, "missing", None, None)
    except OSError as e:
        return FileProblem(f, f"unreadable: {e.strerror or e}", None, None)
    if sha != f.sha256 or size != f.size:
        return FileProblem(f, "changed", sha, size)
    return None


def check_files(store: Store, data_dir: Path, hearing_id: str | None = None,
                shared: bool = False) -> tuple[int, list[FileProblem]]:
    """How many deposited files were hashed again, and each one that is missing or changed.

    `shared`: the court's database is shared by several pods (PostgreSQL), so a file may
    rightly be on another pod's disk (the court's bucket holds them all and is checked there):
    a file missing here is not a problem, a file here that changed is."""
    files = expected_files(store, data_dir, hearing_id)
    problems = [p for f in files if (p := check_file(f)) is not None and not (shared and p.problem == "missing")]
    return len(files), problems


def nearest(files: list[DepositedFile], path: Path) -> DepositedFile | None:
    """The deposit whose file is this path, else the one with the same name, else the one
    sharing the longest stretch of the path: what a changed file most likely was."""
    target = path.resolve()
    for f in files:
        if f.path.resolve() == target:
            return f
    same_name = [f for f in files if f.path.name == target.name]
    pool = same_name or files

    def shared(f: DepositedFile) -> int:
        n = 0
        for a, b in zip(f.path.resolve().parts, target.parts, strict=False):
            if a != b:
                break
            n += 1
        return n

    best = max(pool, key=shared, default=None)
    if best is None or (not same_name and shared(best) <= 1):
        return None
    return best
