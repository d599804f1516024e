"""Ledger and export subcommands of `courtroom`.

    courtroom verify FILE                 was FILE deposited? (JSON; exit 0 yes, 1 no)
    courtroom ledger check                walk the chain (exit 0 intact; 1 names the first broken entry)
    courtroom verify-bundle DIR_OR_ZIP    check an exported bundle offline, no database (exit 0 / 1)
    courtroom hearing export ID --out DIR write a hearing's bundle (a folder, or a .zip)

Exit 2 for usage errors and a data folder with no pod in it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

_COMMANDS = ("verify", "ledger", "verify-bundle")


def _add_data(parser: argparse.ArgumentParser) -> None:
    from .cli import _add_data as add

    add(parser)


def add_parsers(sub: argparse._SubParsersAction, hearing_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    verify = sub.add_parser("verify", help="was this file deposited in the ledger? (prints JSON; exit 0 yes, 1 no)")
    _add_data(verify)
    verify.add_argument("file", metavar="FILE", help="the file to look up by its SHA-256")

    ledger = sub.add_parser("ledger", help="check the ledger's hash chain")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    check = lsub.add_parser("check", help="walk the chain; exit 1 and name the first broken or missing entry")
    _add_data(check)

    bundle = sub.add_parser("verify-bundle", help="check an exported hearing bundle offline (no database needed)")
    _add_data(bundle)
    bundle.add_argument("bundle", metavar="DIR_OR_ZIP", help="the bundle folder or its .zip")

    export = hearing_sub.add_parser("export", help="write a hearing's evidence bundle (files, ledger entries, proofs)")
    _add_data(export)
    export.add_argument("hearing_id", metavar="ID", help="the hearing's id")
    export.add_argument("--out", metavar="DIR", default=None,
                        help="a new or empty folder, or a path ending .zip (default ./bundle-ID)")


def run(args: argparse.Namespace) -> int | None:
    """Run the command if it is one of ours; None when it is not."""
    command = args.command
    if command == "hearing" and getattr(args, "hearing_command", None) == "export":
        return _export(args)
    if command not in _COMMANDS:
        return None
    if command == "verify-bundle":
        from .bundle import verify_bundle

        report = verify_bundle(Path(args.bundle))
        _print(report.to_dict())
        if not report.ok:
            for problem in report.problems:
                print(f"verify-bundle: {problem}", file=sys.stderr)
        return 0 if report.ok else 1
    if command == "verify":
        return _verify(args)
    return _check(args)


def _print(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def _database(args: argparse.Namespace) -> Any:
    from .database import open_database

    if getattr(args, "database", None):
        return open_database(Path(args.data), args.database)
    path = Path(args.data) / "courtroom.sqlite3"
    if not path.is_file():
        print(f"courtroom: no pod data in {args.data} (no courtroom.sqlite3)", file=sys.stderr)
        return None
    return open_database(Path(args.data))


def _verify(args: argparse.Namespace) -> int:
    from .deposits import expected_files, nearest
    from .ledger import file_digest

    path = Path(args.file)
    try:
        sha, size = file_digest(path)
    except OSError as e:
        print(f"courtroom verify: {e.strerror or e}: {path}", file=sys.stderr)
        return 2
    db = _database(args)
    if db is None:
        return 2
    try:
        from .ledger import Ledger
        from .storage import Store

        store = Store.of(db)
        ledger = Ledger(store, Path(args.data))

        def lookup() -> list[dict[str, Any]]:
            out = []
            for e in ledger.find(sha):
                out.append({"seq": e.seq, "kind": e.kind, "hearing_id": e.hearing_id,
                            "case_number": store.hearings.case_number(e.hearing_id), "name": e.name, "wall_time": e.wall_time,
                            "entry_hash": e.entry_hash})
            return out

        entries = db.call(lookup)
        near = None if entries else db.call(lambda: nearest(expected_files(store, Path(args.data)), path))
    finally:
        db.close()
    answer: dict[str, Any] = {"file": str(path), "sha256": sha, "size": size, "deposited": bool(entries), "entries": entries}
    if not entries:
        answer["nearest"] = near.to_dict() if near is not None else None
    _print(answer)
    if near is not None:
        print(f"courtroom verify: not deposited; the nearest deposit by path is entry {near.seq} "
              f"({near.kind} of hearing {near.hearing_id}) at {near.path}, sha256 {near.sha256}", file=sys.stderr)
    return 0 if entries else 1


def _check(args: argparse.Namespace) -> int:
    db = _database(args)
    if db is None:
        return 2
    try:
        from .deposits import check_files
        from .ledger import Ledger
        from .storage import Store

        store = Store.of(db)
        ledger = Ledger(store, Path(args.data))
        result = db.call(ledger.check)
        entries = db.call(ledger.entries) if getattr(args, "object_store", None) else []
        # The chain holds the hashes; the files must still have them (archive, replay, exhibits, ...).
        shared = bool(getattr(args, "database", None))  # a court of pods: files may be on another pod
        checked, problems = db.call(lambda: check_files(store, Path(args.data), shared=shared))
    finally:
        db.close()
    report = result.to_dict() | {"ok": result.ok and not problems, "chain_ok": result.ok,
                                 "files_checked": checked, "file_problems": [p.to_dict() for p in problems]}
    bucket_problems = _check_bucket(args, entries)
    if getattr(args, "object_store", None):
        report["bucket"] = {"url": args.object_store.split("&secret_key")[0], "problems": bucket_problems}
    _print(report)
    if not result.ok:
        print(f"ledger check: BROKEN at entry {result.first_bad_seq}: {result.reason}", file=sys.stderr)
    for problem in problems:
        print(f"ledger check: {problem.describe()}", file=sys.stderr)
    for bucket_problem in bucket_problems:
        print(f"ledger check: {bucket_problem}", file=sys.stderr)
    return 0 if result.ok and not problems and not bucket_problems else 1


def _check_bucket(args: argparse.Namespace, entries: list[Any]) -> list[str]:
    """A multi-pod court keeps every deposited file in its bucket: each must be there, unchanged."""
    if not getattr(args, "object_store", None):
        return []
    from .archiving import check_bucket
    from .blobs import BlobError, open_blob_store

    try:
        return check_bucket(open_blob_store(args.object_store, Path(args.data)), entries)
    except BlobError as exc:
        return [str(exc)]


def _export(args: argparse.Namespace) -> int:
    from .admin import open_court
    from .blobs import BlobError, open_blob_store
    from .bundle import BundleError, TamperedFiles, export
    from .cli import config_from
    from .storage import NotFound

    if not getattr(args, "database", None) and not (Path(args.data) / "courtroom.sqlite3").is_file():
        print(f"courtroom: no pod data in {args.data} (no courtroom.sqlite3)", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else Path(f"bundle-{args.hearing_id}")
    court = open_court(config_from(args))
    try:
        # A court of pods: files another pod wrote come from the bucket, and the bundle goes there.
        blobs = open_blob_store(args.object_store, Path(args.data)) if getattr(args, "object_store", None) else None
        summary = asyncio.run(export(court, args.hearing_id, out, blobs))
    except (NotFound, TamperedFiles) as e:
        print(f"courtroom hearing export: {e}", file=sys.stderr)
        return 1
    except (BundleError, BlobError, OSError) as e:
        print(f"courtroom hearing export: {e}", file=sys.stderr)
        return 2
    finally:
        court.db.close()
    _print(summary)
    return 0
