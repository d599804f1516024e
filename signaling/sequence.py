"""RTP counters that wrap (16-bit sequence numbers, 32-bit timestamps) made monotonic."""

from __future__ import annotations


class Unwrapper:
    """Extends a wrapping counter to an unbounded int, relative to the highest value seen.

    A value within half the range behind the highest is older (reordered or late); within
    half the range ahead, newer. Works for both directions of a wrap-around.
    """

    def __init__(self, bits: int) -> None:
        self._mod = 1 << bits
        self._half = 1 << (bits - 1)
        self._highest: int | None = None

    def extend(self, value: int) -> int:
        if self._highest is None:
            self._highest = value
            return value
        delta = (value - self._highest) % self._mod
        if delta >= self._half:
            delta -= self._mod  # behind the highest
        extended = self._highest + delta
        if extended > self._highest:
            self._highest = extended
        return extended

    def reset(self) -> None:
        self._highest = None
