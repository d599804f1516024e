"""The tamper-evident ledger (存证): an append-only hash chain of deposits, with Merkle proofs.

Every deposit (an exhibit, a record file, the confirmed transcript, a hearing's event log)
is one row of the `ledger` table: `seq, kind, hearing_id, name, sha256, size, wall_time,
prev_hash, entry_hash`. `entry_hash` is SHA-256 over the canonical encoding of every other
field (`canonical`), `prev_hash` is the previous entry's `entry_hash` (64 zeros for the
first), so editing, reordering or deleting a row breaks the chain where it happened and
`Ledger.check` names that entry.

Per hearing, the entries form the leaves of a binary Merkle tree (`merkle_root_of`):
`seal` deposits the hearing's event log and then the tree's root as a final entry of kind
`merkle_root`, and `merkle_proof` gives the path that ties one entry to that root, which
`verify_proof` checks without any database. See docs/ledger.md.

Methods are synchronous and run on the database thread (`Database.run`); the rows are
read and written through the store (`courtroom/storage/ledger.py`). Nothing here edits or
deletes an entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .storage import Store

ZERO_HASH = "0" * 64
CANONICAL_TAG = "courtroom-ledger/1"
MERKLE_ROOT = "merkle_root"  # the kind of the entry that holds a hearing's Merkle root
EVENTS = "events"  # the kind of a hearing's event log
HEAD_FILE = "ledger.head"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KIND = re.compile(r"[a-z][a-z0-9_]{0,31}")
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read in 1 MiB pieces: the one way the pod hashes files."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class LedgerError(ValueError):
    pass


def canonical(
    seq: int, kind: str, hearing_id: str, name: str, sha256: str, size: int, wall_time: float, prev_hash: str
) -> bytes:
    """The bytes an entry's hash is taken over: a compact JSON array, UTF-8.

    `["courtroom-ledger/1", seq, kind, hearing_id, name, sha256, size, wall_time, prev_hash]`,
    with `wall_time` written as a string with exactly six decimals, so any language can
    rebuild the same bytes (no float formatting differences).
    """
    fields = [CANONICAL_TAG, seq, kind, hearing_id, name, sha256, size, f"{wall_time:.6f}", prev_hash]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def hash_entry(
    seq: int, kind: str, hearing_id: str, name: str, sha256: str, size: int, wall_time: float, prev_hash: str
) -> str:
    return hashlib.sha256(canonical(seq, kind, hearing_id, name, sha256, size, wall_time, prev_hash)).hexdigest()


@dataclass(frozen=True)
class LedgerEntry:
    seq: int
    kind: str
    hearing_id: str
    name: str
    sha256: str
    size: int
    wall_time: float
    prev_hash: str
    entry_hash: str

    def computed_hash(self) -> str:
        return hash_entry(
            self.seq, self.kind, self.hearing_id, self.name, self.sha256, self.size, self.wall_time, self.prev_hash
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LedgerEntry:
        return cls(
            seq=int(d["seq"]),
            kind=str(d["kind"]),
            hearing_id=str(d["hearing_id"]),
            name=str(d["name"]),
            sha256=str(d["sha256"]),
            size=int(d["size"]),
            wall_time=float(d["wall_time"]),
            prev_hash=str(d["prev_hash"]),
            entry_hash=str(d["entry_hash"]),
        )


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    entries: int  # how many entries were read
    first_bad_seq: int | None = None  # the first broken or missing entry
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- Merkle tree ---------------------------------------------------------------------------
# Leaves and inner nodes are hashed with different one-byte prefixes (as in RFC 6962), so an
# inner node can never pass for a leaf. A level with an odd number of nodes pairs its last
# node with itself.


def leaf_hash(entry_hash: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(entry_hash)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root_of(entry_hashes: Sequence[str]) -> str:
    """The root over entry hashes in order; the empty tree's root is SHA-256 of nothing."""
    if not entry_hashes:
        return hashlib.sha256(b"").hexdigest()
    level = [leaf_hash(h) for h in entry_hashes]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0].hex()


def merkle_proof_of(entry_hashes: Sequence[str], index: int) -> list[dict[str, str]]:
    """The sibling path from leaf `index` to the root: `[{"side": "left"|"right", "hash": hex}]`.

    `side` says where the sibling sits: "left" means hash(sibling + current).
    """
    if not 0 <= index < len(entry_hashes):
        raise IndexError(f"no leaf {index} among {len(entry_hashes)}")
    level = [leaf_hash(h) for h in entry_hashes]
    proof: list[dict[str, str]] = []
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        sibling = index ^ 1
        proof.append({"side": "left" if sibling < index else "right", "hash": level[sibling].hex()})
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
        index //= 2
    return proof


def verify_proof(entry_hash: str, proof: Sequence[dict[str, str]], root: str) -> bool:
    """Does `proof` tie the entry with this hash to `root`?"""
    try:
        current = leaf_hash(entry_hash)
        for step in proof:
            sibling = bytes.fromhex(step["hash"])
            if len(sibling) != 32 or step["side"] not in ("left", "right"):
                return False
            current = node_hash(sibling, current) if step["side"] == "left" else node_hash(current, sibling)
    except (ValueError, KeyError, TypeError):
        return False
    return current.hex() == root


def check_chain(entries: Sequence[LedgerEntry], start_prev: str = ZERO_HASH, start_seq: int = 1) -> CheckResult:
    """Walk entries in seq order: every seq present, every hash recomputed, every link held."""
    expected_seq, expected_prev = start_seq, start_prev
    leaves: dict[str, list[str]] = {}
    for e in entries:
        if e.seq != expected_seq:
            if e.seq > expected_seq:
                missing = f"entry {expected_seq} is missing" if e.seq == expected_seq + 1 else f"entries {expected_seq} to {e.seq - 1} are missing"
                return CheckResult(False, len(entries), expected_seq, f"{missing} (deleted?): the chain jumps to entry {e.seq}")
            return CheckResult(False, len(entries), e.seq, f"entry {e.seq} is out of order (expected {expected_seq})")
        if e.computed_hash() != e.entry_hash:
            return CheckResult(
                False, len(entries), e.seq,
                f"entry {e.seq} does not match its hash: it was edited or moved from another position",
            )
        if e.prev_hash != expected_prev:
            return CheckResult(
                False, len(entries), e.seq,
                f"entry {e.seq} does not link to entry {e.seq - 1}: an earlier entry was replaced, or rows were reordered",
            )
        if e.kind == MERKLE_ROOT:
            hashes = leaves.get(e.hearing_id, [])
            if e.size != len(hashes) or merkle_root_of(hashes) != e.sha256:
                return CheckResult(
                    False, len(entries), e.seq,
                    f"entry {e.seq} holds a Merkle root that does not match hearing {e.hearing_id}'s entries before it",
                )
        else:
            leaves.setdefault(e.hearing_id, []).append(e.entry_hash)
        expected_seq, expected_prev = e.seq + 1, e.entry_hash
    return CheckResult(True, len(entries))


def _clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise LedgerError("name must be a string")
    name = unicodedata.normalize("NFC", name.strip())
    if not name or len(name) > 500:
        raise LedgerError("name must be 1 to 500 characters")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co") for c in name):
        raise LedgerError("name contains control characters")
    return name


def events_jsonl(events: Sequence[Any]) -> bytes:
    """A hearing's event log as JSON lines, one event a line, keys sorted."""
    return b"".join(
        json.dumps(e.to_dict(), ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8") + b"\n"
        for e in events
    )


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Ledger:
    """The ledger over the court's store (`courtroom.storage.Store`).

    With `data_dir`, `seal` writes event logs under DATA/records and every deposit updates
    DATA/ledger.head (the last entry's seq and hash), so `check` also notices entries cut
    off the end of the chain.
    """

    def __init__(self, store: Store, data_dir: Path | None = None) -> None:
        self.store = store
        self.rows = store.ledger
        self.data_dir = data_dir
        self._pending_head: LedgerEntry | None = None

    @property
    def head_path(self) -> Path | None:
        return self.data_dir / HEAD_FILE if self.data_dir is not None else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction; nested uses join the outer one. The head file follows the commit."""
        if self.store.in_transaction:
            yield
            return
        try:
            with self.store.transaction():
                yield
        except BaseException:
            self._pending_head = None
            raise
        head, self._pending_head = self._pending_head, None
        if head is not None and self.head_path is not None:
            write_atomic(self.head_path, json.dumps({"seq": head.seq, "entry_hash": head.entry_hash}).encode() + b"\n")

    # writing
    def deposit(self, kind: str, hearing_id: str, name: str, sha256: str, size: int) -> LedgerEntry:
        """Append one entry and return it (read the last entry and insert after it in one
        write transaction: serialised across pods, so the chain stays one chain)."""
        if not isinstance(kind, str) or not _KIND.fullmatch(kind):
            raise LedgerError("kind must be a short lower-case word, e.g. exhibit")
        if not isinstance(hearing_id, str) or not hearing_id or len(hearing_id) > 64:
            raise LedgerError("hearing_id must be a non-empty string")
        if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
            raise LedgerError("sha256 must be 64 lower-case hex digits")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise LedgerError("size must be a non-negative integer")
        name = _clean_name(name)
        with self.transaction():
            last = self.rows.last()
            seq = last.seq + 1 if last else 1
            prev = last.entry_hash if last else ZERO_HASH
            wall_time = round(time.time(), 6)
            entry = LedgerEntry(
                seq, kind, hearing_id, name, sha256, size, wall_time, prev,
                hash_entry(seq, kind, hearing_id, name, sha256, size, wall_time, prev),
            )
            self.rows.insert(entry)
            self._pending_head = entry
        return entry

    def seal(self, hearing_id: str) -> LedgerEntry:
        """Deposit the hearing's event log (DATA/records/<hearing>/events.jsonl), then its Merkle root.

        Call it when the hearing closes, and again after anything deposited later (the
        record files, the confirmed transcript): each call whose leaves changed adds a new
        `merkle_root` entry over every entry of the hearing so far; otherwise it returns
        the last one.
        """
        if self.data_dir is None:
            raise LedgerError("sealing needs the data folder (Ledger(store, data_dir))")
        if not _SAFE_ID.fullmatch(hearing_id):
            raise LedgerError(f"not a hearing id: {hearing_id!r}")
        with self.transaction():
            log = events_jsonl(self.store.hearings.list_events(hearing_id))
            sha = hashlib.sha256(log).hexdigest()
            path = self.data_dir / "records" / hearing_id / "events.jsonl"
            if not path.exists() or path.read_bytes() != log:
                write_atomic(path, log)
            logs = [e for e in self.leaves(hearing_id) if e.kind == EVENTS]
            if not logs or logs[-1].sha256 != sha:
                self.deposit(EVENTS, hearing_id, "events.jsonl", sha, len(log))
            leaves = self.leaves(hearing_id)
            root = merkle_root_of([e.entry_hash for e in leaves])
            roots = self.roots(hearing_id)
            if roots and roots[-1].sha256 == root and roots[-1].size == len(leaves):
                return roots[-1]
            return self.deposit(MERKLE_ROOT, hearing_id, "merkle-root", root, len(leaves))

    # reading
    def last(self) -> LedgerEntry | None:
        return self.rows.last()

    def get(self, seq: int) -> LedgerEntry | None:
        return self.rows.get(seq)

    def find(self, sha256: str) -> list[LedgerEntry]:
        """Every entry that deposited a file with this hash."""
        return self.rows.with_sha256(sha256.lower())

    def entries(self, hearing_id: str | None = None) -> list[LedgerEntry]:
        return self.rows.all(hearing_id)

    def range(self, first_seq: int, last_seq: int) -> list[LedgerEntry]:
        return self.rows.range(first_seq, last_seq)

    def leaves(self, hearing_id: str, before_seq: int | None = None) -> list[LedgerEntry]:
        """The hearing's entries that are Merkle leaves: all but its `merkle_root` entries."""
        return self.rows.leaves(hearing_id, before_seq)

    def roots(self, hearing_id: str) -> list[LedgerEntry]:
        return self.rows.roots(hearing_id)

    def merkle_root(self, hearing_id: str) -> str:
        """The root over every leaf of the hearing now (what the next `seal` would deposit)."""
        return merkle_root_of([e.entry_hash for e in self.leaves(hearing_id)])

    def merkle_proof(self, hearing_id: str, seq: int) -> list[dict[str, str]]:
        """The proof of entry `seq` against `merkle_root(hearing_id)`."""
        leaves = self.leaves(hearing_id)
        for i, e in enumerate(leaves):
            if e.seq == seq:
                return merkle_proof_of([x.entry_hash for x in leaves], i)
        raise LedgerError(f"entry {seq} is not a leaf of hearing {hearing_id}")

    def check(self) -> CheckResult:
        """Walk the whole chain; name the first broken or missing entry."""
        entries = self.rows.all()
        result = check_chain(entries)
        if not result.ok or self.head_path is None or not self.head_path.exists():
            return result
        try:
            head = json.loads(self.head_path.read_text())
            head_seq, head_hash = int(head["seq"]), str(head["entry_hash"])
        except (ValueError, KeyError, TypeError, OSError):
            return CheckResult(False, len(entries), None, f"the head file {self.head_path} is unreadable")
        last_seq = entries[-1].seq if entries else 0
        if head_seq > last_seq:
            return CheckResult(
                False, len(entries), last_seq + 1,
                f"entry {last_seq + 1} is missing: the chain ends at entry {last_seq} but the head file records entry {head_seq}",
            )
        if head_seq >= 1 and entries[head_seq - 1].entry_hash != head_hash:
            return CheckResult(False, len(entries), head_seq, f"entry {head_seq} differs from the one the head file records")
        return result
