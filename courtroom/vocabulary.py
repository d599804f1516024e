"""The court's own words, by language: what the record engine is told to expect.

Whisper is steered by a prompt: the words of a hearing (its participants' names, case number,
title, exhibits) and of the court (these) come out right far more often when they are in it.
`Config.asr_vocabulary` replaces the list for one pod.
"""

from __future__ import annotations

COURT_VOCABULARY: dict[str, tuple[str, ...]] = {
    "zh": (
        "审判长", "审判员", "书记员", "原告", "被告", "第三人", "诉讼代理人", "证人",
        "诉讼请求", "事实和理由", "举证", "质证", "证据", "本院", "开庭", "休庭", "闭庭",
        "法庭调查", "法庭辩论", "最后陈述", "调解", "判决", "裁定", "获刑", "合同", "借款",
    ),
    "en": (
        "Your Honour", "plaintiff", "defendant", "counsel", "witness", "exhibit", "the court",
        "objection", "sustained", "overruled", "cross-examination", "recess",
    ),
}


def court_vocabulary(language: str, configured: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The configured list, else the table's for `language` (none for other languages)."""
    if configured is not None:
        return configured
    return COURT_VOCABULARY.get(language.split("-")[0].lower(), ())
