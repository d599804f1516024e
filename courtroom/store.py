"""Kept for the modules that import `NotFound` from here; the store is `courtroom.storage`."""

from .storage import NotFound

__all__ = ["NotFound"]
