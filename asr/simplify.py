"""Simplified characters by construction: Whisper writes traditional or mixed characters for
Mandarin now and then (a prompt steers it, but not always: "廣州市" was seen with the
simplified prompt), so every Chinese result is converted.

OpenCC (the ``opencc`` wheel on PyPI, the reference Traditional↔Simplified converter, kept
up to date with its dictionaries) with the ``t2s`` configuration: characters and phrases only,
punctuation and Latin text untouched.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["simplify", "simplifies"]

_lock = threading.Lock()
_converter: Any = None


def simplifies(language: str | None) -> bool:
    """Languages written in simplified characters here (Mandarin; not Cantonese ``yue``)."""
    return (language or "").split("-")[0].lower() == "zh"


def simplify(text: str) -> str:
    global _converter
    if not text:
        return text
    with _lock:  # one converter per process, used by one thread at a time
        if _converter is None:
            import opencc

            _converter = opencc.OpenCC("t2s")
        return str(_converter.convert(text))
