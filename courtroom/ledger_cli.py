"""Ledger and export subcommands of `courtroom` (filled in by their own change)."""

from __future__ import annotations

import argparse


def add_parsers(sub: argparse._SubParsersAction, hearing_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pass


def run(args: argparse.Namespace) -> int | None:
    """Run the command if it is one of ours; None when it is not."""
    return None
