"""Per-hearing tables that hold an entry only while it is in use, so a pod that has run a
thousand hearings holds nothing for the ones that are over."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Hashable, Set
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V", bound=Hashable)


class LockTable(Generic[K]):
    """One asyncio.Lock per key, kept only while someone holds it or waits for it: every
    holder and waiter keeps a reference, so the lock cannot vanish under them."""

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[K, asyncio.Lock] = weakref.WeakValueDictionary()

    def __getitem__(self, key: K) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    def __len__(self) -> int:
        return len(self._locks)


class SetTable(Generic[K, V]):
    """key → set of values, where an empty set is no entry: reading never creates one."""

    def __init__(self) -> None:
        self._sets: dict[K, set[V]] = {}

    def __getitem__(self, key: K) -> Set[V]:
        return self._sets.get(key, frozenset())

    def add(self, key: K, value: V) -> None:
        self._sets.setdefault(key, set()).add(value)

    def discard(self, key: K, value: V) -> None:
        values = self._sets.get(key)
        if values is not None:
            values.discard(value)
            if not values:
                del self._sets[key]

    def __len__(self) -> int:
        return len(self._sets)
