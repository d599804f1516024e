"""The hearing's own words, as the record engine's prompt.

Whisper writes the words of its prompt far more readily: measured on a real Mandarin clip
(docs/asr.md), the plain prompt wrote 佛地产中间协会 where the party's name 房地产中介协会
was said, and 或行 for the court's word 获刑; with both in the prompt, both came out right.
The prompt is bounded (Whisper keeps the last 223 tokens of it): names first, then the case,
then exhibits, then the court's vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterable

from .simplify import simplifies

__all__ = ["MAX_PROMPT_CHARS", "hearing_vocabulary"]

MAX_PROMPT_CHARS = 160  # about 160 tokens of Chinese; leaves room for the closing sentence


def hearing_vocabulary(
    language: str,
    names: Iterable[str],
    case_number: str = "",
    title: str = "",
    exhibits: Iterable[str] = (),
    court_words: Iterable[str] = (),
) -> str:
    """One line of unique terms, most specific first, cut at ``MAX_PROMPT_CHARS``."""
    chinese = simplifies(language)
    sep = "、" if chinese else ", "
    terms: list[str] = []
    seen: set[str] = set()
    for term in [*names, title, case_number, *exhibits, *court_words]:
        term = " ".join(str(term).split())
        if not term or term in seen:
            continue
        if len(sep.join([*terms, term])) > MAX_PROMPT_CHARS:
            continue  # a shorter term further on may still fit
        seen.add(term)
        terms.append(term)
    return sep.join(terms)
