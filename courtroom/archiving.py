"""The court's bucket keeps a copy of every deposited file, under its digest.

A pod writes record files to its own disk first (a recording must never wait on the network);
once they are deposited in the ledger they are copied to the court's object store as
`ledger/<sha256>`, checked on the way in, and the local copy stays. Nothing is lost when a
copy fails: the next mirror pass (at the next deposit, or when a pod starts) tries again.
`check_bucket` is the other half of `courtroom ledger check` in a multi-pod court: every
deposited file must be in the bucket and still hash to its digest.

Blocking: run in a thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .blobs import BlobCorrupt, BlobError, BlobMissing, BlobStore
from .ledger import EVENTS, MERKLE_ROOT, LedgerEntry, events_jsonl, file_digest

# Ledger entries that stand for no file of their own under `ledger/`. A check-in's pictures
# (`identity`) are personal data under retention, not court files: for the court only, on the
# pod that took them and (in a court of pods) under the bucket's own `identity/` prefix, and
# deleted from both after their retention period (docs/identity.md). The ledger keeps only
# their digests, so neither the mirror nor `ledger check` expects them.
FILELESS = frozenset({MERKLE_ROOT, "identity"})


def ledger_key(sha256: str) -> str:
    return f"ledger/{sha256}"


@dataclass
class MirrorReport:
    stored: list[str] = field(default_factory=list)  # digests copied now
    present: list[str] = field(default_factory=list)  # already in the bucket
    missing: list[LedgerEntry] = field(default_factory=list)  # no local copy found to send

    @property
    def ok(self) -> bool:
        return not self.missing


def _files(folders: Iterable[Path]) -> Iterable[Path]:
    for folder in folders:
        if folder.is_file():
            yield folder
        elif folder.is_dir():
            yield from (p for p in sorted(folder.rglob("*")) if p.is_file())


def mirror(blobs: BlobStore, entries: Sequence[LedgerEntry], folders: Iterable[Path],
           contents: Iterable[bytes] = ()) -> MirrorReport:
    """Copy into the bucket every deposited file of `entries` that it lacks, finding each one
    among the files under `folders` (by size, then digest) or among `contents`."""
    report = MirrorReport()
    wanted: dict[str, LedgerEntry] = {}
    for entry in entries:
        if entry.kind in FILELESS or entry.sha256 in wanted:
            continue
        if blobs.exists(ledger_key(entry.sha256)):
            report.present.append(entry.sha256)
        else:
            wanted[entry.sha256] = entry
    for data in contents:
        sha = hashlib.sha256(data).hexdigest()
        if sha in wanted:
            blobs.put_bytes(ledger_key(sha), data)
            report.stored.append(sha)
            del wanted[sha]
    sizes = {e.size for e in wanted.values()}
    for path in _files(folders):
        if not wanted:
            break
        try:
            if path.stat().st_size not in sizes:
                continue
            sha, _ = file_digest(path)
        except OSError:
            continue
        if sha in wanted:
            info = blobs.put_file(ledger_key(sha), path)
            if info.sha256 != sha:  # the file changed while it was read: try again next pass
                continue
            report.stored.append(sha)
            del wanted[sha]
    report.missing = list(wanted.values())
    return report


def event_logs(entries: Sequence[LedgerEntry], events: Sequence[object]) -> list[bytes]:
    """The hearing's event logs as each `events` deposit saw them. The log is append-only and
    the file on disk holds only the latest, so earlier ones are rebuilt from the stored
    events: the prefix whose size matches the deposit."""
    wanted = {(e.size, e.sha256) for e in entries if e.kind == EVENTS}
    out: list[bytes] = []
    if not wanted:
        return out
    sizes = {size for size, _ in wanted}
    lines = [events_jsonl([e]) for e in events]
    total = 0
    for n, line in enumerate(lines, start=1):
        total += len(line)
        if total in sizes:
            data = b"".join(lines[:n])
            if (total, hashlib.sha256(data).hexdigest()) in wanted:
                out.append(data)
    return out


def check_bucket(blobs: BlobStore, entries: Sequence[LedgerEntry]) -> list[str]:
    """One line per deposited file that the bucket lacks or that no longer matches."""
    problems: list[str] = []
    seen: set[str] = set()
    for entry in entries:
        if entry.kind in FILELESS or entry.sha256 in seen:
            continue
        seen.add(entry.sha256)
        key = ledger_key(entry.sha256)
        try:
            actual = blobs.info(key).sha256
        except BlobMissing:
            problems.append(f"entry {entry.seq} ({entry.kind} {entry.name} of hearing {entry.hearing_id}): "
                            f"{key} is missing from {blobs.url}")
            continue
        except (BlobCorrupt, BlobError) as exc:
            problems.append(f"entry {entry.seq} ({entry.kind} {entry.name}): {exc}")
            continue
        if actual != entry.sha256:
            problems.append(f"entry {entry.seq} ({entry.kind} {entry.name} of hearing {entry.hearing_id}): "
                            f"{key} changed: expected sha256 {entry.sha256}, found {actual}")
    return problems
