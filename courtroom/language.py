"""The court's language: one setting (`Config.language`) decides the picture's labels, the
slates, the replay's chapters, the events and every page. Chinese by default, English available."""

from __future__ import annotations

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

# The court's name when the configuration names none.
COURT_NAMES: dict[str, str] = {"zh": "互联网法院", "en": "Internet Court"}


def check_language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"language must be one of: {', '.join(LANGUAGES)} (got {value!r})")
    return value
