"""The page that follows a closed hearing's record: versions, confirmations, objections with
their answers, the court's signatures, and what is still outstanding.

It is printed *after* ``（以下无正文）``, so it never changes the hash of the version it speaks
about. Pure: the data comes from `record_review.RecordReview.status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from typing import Any

from .record import END_OF_TEXT, RECORD_TZ, _date_zh, _one_line

_DECISIONS_ZH = {"confirm": "确认无误", "object": "有异议", "sign": "签名", "finalise": "签名并定稿"}
_STATUS_ZH = {"objected": "有异议", "not_confirmed": "未确认"}


def _when(ts: float, tz: tzinfo) -> str:
    d = datetime.fromtimestamp(ts, tz)
    return f"{_date_zh(d)} {d:%H:%M:%S}"


def _who(s: dict[str, Any]) -> str:
    return f"{s.get('title_zh') or s.get('role', '')} {_one_line(str(s.get('name', '')))}".strip()


def signature_page(status: dict[str, Any], tz: tzinfo = RECORD_TZ) -> str:
    """The text after the end-of-text line, from a record status (`RecordReview.status`)."""
    number = int(status.get("version_number") or 0)
    lines = ["", "笔录确认与签名："]
    if not number:
        lines.append("笔录正在整理中，尚未提交核对。")
        return "\n".join(lines) + "\n"
    lines.append(f"本笔录第{number}版，正文（自首行至“{END_OF_TEXT}”）的 SHA-256：{status.get('version')}")
    versions: Sequence[dict[str, Any]] = status.get("versions") or []
    if len(versions) > 1:
        told = []
        for v in versions:
            why = "提交核对" if v.get("reason") == "offered" else ("迟到的转写" if v.get("reason") == "late final" else "更正")
            told.append(f"第{v['number']}版（{why}，{_when(float(v['created_at']), tz)}，SHA-256 {str(v['sha256'])[:16]}…）")
        lines.append("历次版本：" + "；".join(told))
    statements: Sequence[dict[str, Any]] = status.get("statements") or []
    answers: dict[int, list[dict[str, Any]]] = {}
    for s in statements:
        if s.get("kind") == "answer" and isinstance(s.get("refers_to"), int):
            answers.setdefault(int(s["refers_to"]), []).append(s)
    # Objections to older versions stay on the page, with the clerk's answers.
    for s in statements:
        if s.get("kind") == "object" and int(s.get("version", 0)) < number:
            lines.append(f"{_who(s)}：对第{s['version']}版有异议。异议内容：{_one_line(str(s.get('text', '')))}"
                         f"（{_when(float(s['wall_time']), tz)}）")
    for s in statements:
        if s.get("kind") == "answer":
            lines.append(f"{_who(s)}答复：{_one_line(str(s.get('text', '')))}（第{s['version']}版，{_when(float(s['wall_time']), tz)}）")
    for s in status.get("decisions") or []:
        line = f"{_who(s)}：{_DECISIONS_ZH.get(str(s.get('kind')), s.get('kind'))}"
        if s.get("text"):
            line += f"。异议内容：{_one_line(str(s['text']))}"
        lines.append(f"{line}（第{number}版，{_when(float(s['wall_time']), tz)}）")
    undecided = status.get("undecided") or []
    if undecided:
        lines.append("尚未确认：" + "、".join(_one_line(str(p.get("name", ""))) for p in undecided))
    for s in status.get("signatures") or []:
        line = f"{_who(s)}：{_DECISIONS_ZH.get(str(s.get('kind')), s.get('kind'))}（第{number}版，{_when(float(s['wall_time']), tz)}）"
        if s.get("image_sha256"):
            line += f"〔手写签名 SHA-256 {s['image_sha256']}〕"
        lines.append(line)
        if s.get("kind") == "finalise":
            for item in (_statement_data(s).get("outstanding") or []):
                text = f"  定稿时{_STATUS_ZH.get(str(item.get('status')), item.get('status'))}：{item.get('title_zh', '')} {_one_line(str(item.get('name', '')))}"
                if item.get("objection"):
                    text += f"。异议内容：{_one_line(str(item['objection']))}"
                lines.append(text)
    pending = status.get("signatures_pending") or []
    if status.get("signed"):
        lines.append(f"本笔录第{number}版已签署，不再更改。")
    else:
        if pending:
            lines.append("尚未签名：" + "、".join(_who(p) for p in pending))
        lines.append("本笔录尚在核对中。")
    return "\n".join(lines) + "\n"


def _statement_data(s: dict[str, Any]) -> dict[str, Any]:
    import json

    try:
        data = json.loads(str(s.get("statement", "")))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
