"""A hearing's evidence bundle: every deposited file with its ledger entries and Merkle proofs.

`export` writes a folder (or a .zip) that `verify_bundle` checks anywhere, offline, with no
database: each file's SHA-256 against the manifest and against its ledger entry, each
entry's hash, the chain's links, and each entry's proof against the Merkle root.

    manifest.json      what is in the bundle: the hearing, the root, every file's sha256
    ledger.json        the hearing's ledger entries (each leaf with its Merkle proof), the
                       root, and the chain's links in between (seq and hashes only)
    events.jsonl       the hearing's event log as sealed
    exhibits/          the exhibits, named <side>-<number>.<ext>
    records/           the record files (recordings) listed in the hearing
    transcript/        the hearing record (庭审笔录) in each format, when there is one

See docs/ledger.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from .blobs import BlobStore
from .ledger import (
    EVENTS,
    MERKLE_ROOT,
    Ledger,
    LedgerEntry,
    events_jsonl,
    merkle_proof_of,
    merkle_root_of,
    verify_proof,
)

log = logging.getLogger("courtroom.bundle")

FORMAT = "courtroom-bundle/1"
MANIFEST = "manifest.json"
LEDGER = "ledger.json"
SUPPLEMENT = "supplement"  # a file that is not deposited (a rendering of the record, say)
UNANCHORED_KINDS = frozenset({"ledger", SUPPLEMENT})
_CHUNK = 1 << 20


class BundleError(Exception):
    pass


class TamperedFiles(BundleError):
    """A deposited file of the hearing is missing or no longer has its deposited hash: a
    bundle is never made of it."""


# -- export -----------------------------------------------------------------------------------


def _hash_copy(source: Path, target: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            dst.write(chunk)
    return digest.hexdigest(), size


def _write(target: Path, data: bytes) -> tuple[str, int]:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), len(data)


class _Files:
    """The files of a bundle being written, each matched with the ledger entry of its bytes."""

    def __init__(self, root: Path, leaves: list[LedgerEntry]) -> None:
        self.root = root
        self.leaves = leaves
        self.rows: list[dict[str, Any]] = []
        self.taken: set[str] = set()

    def _name(self, wanted: str) -> str:
        name = wanted
        stem, dot, ext = wanted.rpartition(".")
        n = 2
        while name.lower() in self.taken:
            name = f"{stem}-{n}.{ext}" if dot and "/" not in ext else f"{wanted}-{n}"
            n += 1
        self.taken.add(name.lower())
        return name

    def add(self, wanted: str, kind: str, source: Path | None = None, data: bytes | None = None, **info: Any) -> dict[str, Any]:
        name = self._name(wanted)
        target = self.root / name
        sha, size = _hash_copy(source, target) if source is not None else _write(target, data or b"")
        entry = self.match(sha, kind)
        row = {"path": name, "sha256": sha, "size": size, "kind": kind, "ledger_seq": entry.seq if entry else None, **info}
        if entry is None and kind not in UNANCHORED_KINDS:
            row["deposited"] = False
        self.rows.append(row)
        return row

    def match(self, sha: str, kind: str) -> LedgerEntry | None:
        same = [e for e in self.leaves if e.sha256 == sha]
        preferred = [e for e in same if e.kind == kind] or same
        return preferred[-1] if preferred else None


def _safe_basename(path: str, fallback: str) -> str:
    name = PurePosixPath(path.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '/\\:*?"<>|').strip(" .")
    return name[:120] or fallback


async def export(court: Any, hearing_id: str, out: Path, blobs: BlobStore | None = None) -> dict[str, Any]:
    """Write the bundle of one hearing to `out` (a new or empty folder, or a path ending .zip).

    `court` is a `courtroom.court.Court` (its database, store and configuration are used).
    `blobs`, the court's bucket in a multi-pod court: a deposited file another pod wrote is
    read from it (checked against its deposited digest), and the finished bundle is put there.
    Returns a summary: the bundle's path, how many files, the root, and what was skipped.
    """
    from .deposits import check_files
    from .evidence import EvidenceStore

    ledger = Ledger(court.store, court.config.data_dir)
    hearing = await court.get_hearing(hearing_id)
    shared = bool(getattr(court.config, "database_url", ""))  # a court of pods: files may be on another pod
    _, problems = await court.db.run(check_files, court.store, court.config.data_dir, hearing_id, shared)
    if problems:
        raise TamperedFiles("refused: " + "; ".join(p.describe() for p in problems))
    entries: list[LedgerEntry] = await court.db.run(ledger.entries, hearing_id)
    between: list[LedgerEntry] = await court.db.run(ledger.range, entries[0].seq, entries[-1].seq) if entries else []
    exhibits = await court.db.run(EvidenceStore(court.store, ledger).list, hearing_id)
    events_now = events_jsonl(await court.events(hearing_id))
    texts, skipped = await _record_texts(court, hearing_id)
    from .signatures import bundle_files

    plan = _Plan(court.config.data_dir, hearing, entries, between, exhibits, events_now, texts, skipped,
                 await bundle_files(court, hearing_id), blobs)
    summary = await asyncio.to_thread(_write_bundle, plan, out)
    if blobs is not None:
        summary["bucket"] = await asyncio.to_thread(_put_bundle, blobs, hearing_id, out)
    return summary


def bundle_key(hearing_id: str, name: str) -> str:
    return f"hearings/{hearing_id}/bundles/{name}"


def _put_bundle(blobs: BlobStore, hearing_id: str, out: Path) -> list[str]:
    """The bundle in the court's bucket, for any pod to hand out: a zip as one object, a folder
    file by file (each stored with its digest, checked as it goes in)."""
    if out.is_file():
        return [blobs.put_file(bundle_key(hearing_id, out.name), out).key]
    return [blobs.put_file(bundle_key(hearing_id, f"{out.name}/{p.relative_to(out).as_posix()}"), p).key
            for p in sorted(out.rglob("*")) if p.is_file()]


def _from_bucket(plan: _Plan, sha: object, what: str, skipped: list[str], tmp: Path) -> Path | None:
    """A deposited file this pod does not hold, from the bucket's `ledger/<sha256>`, checked
    against that digest: altered there, it is left out and named, never bundled."""
    if plan.blobs is None or not isinstance(sha, str) or not sha:
        return None
    from .archiving import ledger_key
    from .blobs import BlobCorrupt, BlobError, BlobMissing

    dest = tmp / sha
    try:
        plan.blobs.download(ledger_key(sha), dest, sha)
    except BlobCorrupt as exc:
        skipped.append(f"{what}: altered in the court's bucket ({exc})")
        return None
    except BlobMissing:
        return None
    except BlobError as exc:
        skipped.append(f"{what}: the court's bucket cannot be read ({exc})")
        return None
    return dest


@dataclass
class _Plan:
    data_dir: Path
    hearing: Any
    entries: list[LedgerEntry]
    between: list[LedgerEntry]  # the whole chain from the hearing's first entry to its last
    exhibits: list[Any]
    events_now: bytes
    record_texts: list[tuple[str, bytes]]  # transcript/<name>, the hearing record's renderings
    skipped: list[str]
    signatures: list[tuple[str, bytes]] = field(default_factory=list)
    blobs: BlobStore | None = None  # the court's bucket: deposited files another pod wrote


def _write_bundle(plan: _Plan, out: Path) -> dict[str, Any]:
    zipped = out.suffix.lower() == ".zip"
    if zipped:
        if out.exists():
            raise BundleError(f"{out} already exists")
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".bundle-", dir=out.parent))
    else:
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise BundleError(f"{out} exists and is not an empty folder")
        out.mkdir(parents=True, exist_ok=True)
        work = out
    fetched = Path(tempfile.mkdtemp(prefix=".bundle-fetch-", dir=out.parent))  # files read from the bucket
    try:
        return _fill(plan, work, out, zipped, fetched)
    finally:
        shutil.rmtree(fetched, ignore_errors=True)
        if zipped:
            shutil.rmtree(work, ignore_errors=True)


def _fill(plan: _Plan, work: Path, out: Path, zipped: bool, fetched: Path) -> dict[str, Any]:
    from .evidence import file_path

    data_dir, hearing, entries = plan.data_dir, plan.hearing, plan.entries
    hearing_id = hearing.id
    leaves = [e for e in entries if e.kind != MERKLE_ROOT]
    files = _Files(work, leaves)
    skipped = list(plan.skipped)

    for exhibit in plan.exhibits:
        source = file_path(data_dir, exhibit.sha256)
        if not source.exists():
            source = _from_bucket(plan, exhibit.sha256, f"exhibit {exhibit.label}", skipped, fetched) or source
        if not source.exists():
            skipped.append(f"exhibit {exhibit.label}: its file is missing from the pod")
            continue
        ext = Path(exhibit.filename).suffix[:10].lower()
        files.add(f"exhibits/{exhibit.side}-{exhibit.number}{ext}", "exhibit", source=source,
                  label=exhibit.label, display_name=exhibit.filename, media_type=exhibit.media_type)

    for key, folder, kind in (("record_files", "records", "record"), ("transcript_files", "transcript", "transcript")):
        listed = hearing.extra.get(key) or []
        for item in listed if isinstance(listed, list) else []:
            raw = item.get("path") if isinstance(item, dict) else None
            if not isinstance(raw, str) or not raw:
                continue
            source = Path(raw) if os.path.isabs(raw) else data_dir / raw
            if not source.is_file():
                source = _from_bucket(plan, item.get("sha256"), f"{key}: {raw}", skipped, fetched) or source
            if not source.is_file():
                skipped.append(f"{key}: {raw} is missing from the pod")
                continue
            named = item.get("kind")
            usable = isinstance(named, str) and named.isascii() and named.isidentifier() and named not in UNANCHORED_KINDS
            row_kind = named if usable and isinstance(named, str) else kind
            row = files.add(f"{folder}/{_safe_basename(raw, kind)}", row_kind, source=source)
            if isinstance(item.get("sha256"), str) and item["sha256"] != row["sha256"]:
                skipped.append(f"{key}: {raw} no longer has the sha256 the hearing recorded")

    sealed_log = data_dir / "records" / hearing_id / "events.jsonl"
    if sealed_log.is_file():
        files.add("events.jsonl", EVENTS, source=sealed_log)
    else:
        files.add("events.jsonl", SUPPLEMENT, data=plan.events_now)
        skipped.append("the event log was never sealed: events.jsonl is the log as it is now, not deposited")

    for name, data in plan.signatures:  # the record's versions and signed statements (signatures.py)
        files.add(name, SUPPLEMENT, data=data)

    for name, data in plan.record_texts:
        deposited = files.match(hashlib.sha256(data).hexdigest(), "transcript") is not None
        files.add(f"transcript/{name}", "transcript" if deposited else SUPPLEMENT, data=data)

    root = merkle_root_of([e.entry_hash for e in leaves])
    hashes = [e.entry_hash for e in leaves]
    index = {e.seq: i for i, e in enumerate(leaves)}
    ledger_entries = []
    for e in entries:
        d = e.to_dict()
        if e.seq in index:
            d["proof"] = merkle_proof_of(hashes, index[e.seq])
        ledger_entries.append(d)
    own = {e.seq for e in entries}
    links = [{"seq": e.seq, "prev_hash": e.prev_hash, "entry_hash": e.entry_hash} for e in plan.between if e.seq not in own]
    roots = [e for e in entries if e.kind == MERKLE_ROOT]
    root_seq = roots[-1].seq if roots and roots[-1].sha256 == root else None
    ledger_doc = {
        "format": FORMAT,
        "hearing_id": hearing_id,
        "root": root,
        "root_seq": root_seq,
        "merkle": "leaf = SHA-256(0x00 || entry_hash); node = SHA-256(0x01 || left || right); an odd level repeats its last node",
        "entries": ledger_entries,
        "links": links,
    }
    files.add(LEDGER, "ledger", data=json.dumps(ledger_doc, ensure_ascii=False, indent=1).encode("utf-8"))
    manifest = {
        "format": FORMAT,
        "created_at": time.time(),
        "hearing": {k: v for k, v in hearing.to_dict().items() if k != "extra"},
        "root": root,
        "root_seq": root_seq,
        "files": files.rows,
        "skipped": skipped,
    }
    (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    if zipped:
        _zip(work, out)
    return {"bundle": str(out), "hearing_id": hearing_id, "files": len(files.rows), "entries": len(entries),
            "root": root, "root_seq": root_seq, "skipped": skipped}


def _zip(folder: Path, out: Path) -> None:
    tmp = out.with_name(out.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            z.write(path, path.relative_to(folder).as_posix())
    os.replace(tmp, out)


async def _record_texts(court: Any, hearing_id: str) -> tuple[list[tuple[str, bytes]], list[str]]:
    """The hearing record in each format, when the transcript module is there; nothing if not."""
    try:
        from . import record, transcript
    except ImportError:
        return [], []
    texts: list[tuple[str, bytes]] = []
    try:
        service = transcript.TranscriptService(court)

        async def evidence_notes(hid: str) -> list[Any]:
            from .evidence import EvidenceStore, record_notes

            store = EvidenceStore(court.store, Ledger(court.store))
            return record_notes(await court.events(hid), await court.participants(hid), await court.db.run(store.list, hid))

        service.note_sources.append(evidence_notes)
        from .identity_record import identity_note_source

        service.note_sources.append(lambda hid: identity_note_source(court, hid))
        texts.append(("record-canonical.txt", (await service.canonical_text(hearing_id)).encode("utf-8")))
        for fmt in record.FORMATS:
            texts.append((f"record.{fmt}", (await service.export(hearing_id, fmt)).encode("utf-8")))
    except Exception as e:  # noqa: BLE001 - the bundle stands without the record's renderings
        log.warning("the hearing record was left out of the bundle: %s", e)
        return [], [f"the hearing record could not be exported ({type(e).__name__}: {e})"]
    return texts, []


# -- verify -----------------------------------------------------------------------------------


@dataclass
class BundleReport:
    ok: bool
    bundle: str
    hearing_id: str | None = None
    root: str | None = None
    root_seq: int | None = None
    files: int = 0
    entries: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Source:
    """A bundle folder or zip file, read by relative POSIX path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip: zipfile.ZipFile | None = None
        self.prefix = ""
        if path.is_dir():
            self._names = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
        elif zipfile.is_zipfile(path):
            self.zip = zipfile.ZipFile(path)
            names = [n for n in self.zip.namelist() if not n.endswith("/")]
            if MANIFEST not in names:
                tops = [n for n in names if n.endswith("/" + MANIFEST) and n.count("/") == 1]
                if len(tops) == 1:
                    self.prefix = tops[0][: -len(MANIFEST)]
            self._names = {n[len(self.prefix):] for n in names if n.startswith(self.prefix)}
        else:
            raise BundleError(f"{path} is neither a bundle folder nor a zip file")

    def names(self) -> set[str]:
        return set(self._names)

    @contextlib.contextmanager
    def open(self, name: str) -> Iterator[IO[bytes]]:
        if self.zip is not None:
            with self.zip.open(self.prefix + name) as f:
                yield f
        else:
            with open(self.path / name, "rb") as f:
                yield f

    def read(self, name: str, limit: int = 256 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise BundleError(f"{name} is too large")
        return data

    def sha256(self, name: str) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        with self.open(name) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
        return digest.hexdigest(), size

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()


def _safe_path(name: object) -> bool:
    if not isinstance(name, str) or not name or "\\" in name or name.startswith("/"):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def verify_bundle(path: Path) -> BundleReport:
    """Check a bundle offline. Every problem found is listed; `ok` only when there is none."""
    report = BundleReport(ok=False, bundle=str(path))
    try:
        source = _Source(path)
    except (BundleError, OSError, zipfile.BadZipFile) as e:
        report.problems.append(str(e))
        return report
    try:
        _verify(source, report)
    except (BundleError, OSError, zipfile.BadZipFile, ValueError, KeyError, TypeError) as e:
        report.problems.append(f"the bundle cannot be read: {type(e).__name__}: {e}")
    finally:
        source.close()
    report.ok = not report.problems
    return report


def _verify(source: _Source, report: BundleReport) -> None:
    problems = report.problems
    names = source.names()
    if MANIFEST not in names:
        raise BundleError("manifest.json is missing")
    manifest = json.loads(source.read(MANIFEST))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError(f"manifest.json is not a {FORMAT} manifest")
    report.hearing_id = (manifest.get("hearing") or {}).get("id")
    rows = manifest.get("files")
    if not isinstance(rows, list):
        raise BundleError("manifest.json lists no files")

    # 1. Every file is there, unaltered, and nothing else is.
    listed: dict[str, dict[str, Any]] = {}
    intact: set[str] = set()
    for row in rows:
        name = row.get("path") if isinstance(row, dict) else None
        if not _safe_path(name):
            problems.append(f"manifest.json lists an unsafe path: {name!r}")
            continue
        assert isinstance(name, str)
        listed[name] = row
        if name not in names:
            problems.append(f"{name}: missing from the bundle")
            continue
        sha, size = source.sha256(name)
        if sha != row.get("sha256") or size != row.get("size"):
            problems.append(f"{name}: altered (sha256 {sha}, size {size}; the manifest says {row.get('sha256')}, {row.get('size')})")
        else:
            intact.add(name)
    for name in sorted(names - set(listed) - {MANIFEST}):
        problems.append(f"{name}: not listed in the manifest")
    report.files = len(listed)

    # 2. The ledger entries: each hash, the chain, the Merkle root and every proof.
    if LEDGER not in listed:
        raise BundleError("ledger.json is not listed in the manifest")
    if LEDGER not in intact:
        return  # already reported; nothing below could be trusted
    doc = json.loads(source.read(LEDGER))
    entries = [LedgerEntry.from_dict(d) for d in doc.get("entries", [])]
    proofs = {int(d["seq"]): d.get("proof") for d in doc.get("entries", [])}
    report.entries = len(entries)
    root = doc.get("root")
    report.root, report.root_seq = root, doc.get("root_seq")
    if root != manifest.get("root"):
        problems.append("ledger.json and manifest.json name different Merkle roots")
    for e in entries:
        if e.hearing_id != report.hearing_id:
            problems.append(f"ledger entry {e.seq} belongs to another hearing ({e.hearing_id})")
        if e.computed_hash() != e.entry_hash:
            problems.append(f"ledger entry {e.seq} ({e.kind} {e.name}): altered, it does not match its hash")
    chain = sorted(
        [(e.seq, e.prev_hash, e.entry_hash) for e in entries]
        + [(int(d["seq"]), str(d["prev_hash"]), str(d["entry_hash"])) for d in doc.get("links", [])]
    )
    for (seq_a, _, hash_a), (seq_b, prev_b, _) in zip(chain, chain[1:], strict=False):
        if seq_b != seq_a + 1:
            problems.append(f"ledger entry {seq_a + 1} is missing from the chain")
        elif prev_b != hash_a:
            problems.append(f"ledger entry {seq_b} does not link to entry {seq_a}")
    leaves = [e for e in entries if e.kind != MERKLE_ROOT]
    if merkle_root_of([e.entry_hash for e in leaves]) != root:
        problems.append("the Merkle root does not match the ledger entries")
    for e in leaves:
        proof = proofs.get(e.seq)
        if not isinstance(proof, list) or not verify_proof(e.entry_hash, proof, str(root)):
            problems.append(f"ledger entry {e.seq}: its Merkle proof does not lead to the root")
    for e in entries:
        if e.kind == MERKLE_ROOT:
            before = [x.entry_hash for x in leaves if x.seq < e.seq]
            if e.size != len(before) or merkle_root_of(before) != e.sha256:
                problems.append(f"ledger entry {e.seq}: the deposited Merkle root does not match the entries before it")
    if report.root_seq is not None:
        anchored = next((e for e in entries if e.seq == report.root_seq), None)
        if anchored is None or anchored.kind != MERKLE_ROOT or anchored.sha256 != root:
            problems.append(f"ledger entry {report.root_seq} is not the deposited root the bundle names")
    else:
        report.notes.append("the root is not deposited in the ledger (the hearing was not sealed after its last deposit)")

    # 4. The signed statements on the record (signatures.py), offline, with the bundled key.
    from .signatures import verify_bundle_signatures

    signed_problems, signed_notes = verify_bundle_signatures(source.read, names, report.hearing_id)
    problems.extend(signed_problems)
    report.notes.extend(signed_notes)

    # 3. Every deposited file matches its ledger entry.
    by_seq = {e.seq: e for e in leaves}
    for name, row in listed.items():
        kind = row.get("kind")
        if kind in UNANCHORED_KINDS:
            if kind == SUPPLEMENT:
                report.notes.append(f"{name}: not deposited (checked against the manifest only)")
            continue
        seq = row.get("ledger_seq")
        entry = by_seq.get(seq) if isinstance(seq, int) else None
        if entry is None:
            problems.append(f"{name}: no ledger entry for it in the bundle")
        elif entry.sha256 != row.get("sha256") or entry.size != row.get("size"):
            problems.append(f"{name}: does not match ledger entry {seq} (sha256 {entry.sha256})")
