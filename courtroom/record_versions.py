"""The record's lifecycle in the store: its state, its versions and the statements made on them.

A version is the canonical text (`record.to_txt` up to ``（以下无正文）``) at the moment it was
offered or corrected, kept as text with its SHA-256: a version's bytes never change. Statements
are what people did with a version — confirm, object, answer, sign, finalise — each as the
exact JSON text the pod signed (`signatures.py`). The rows are kept by the store
(`courtroom/storage/records.py`: `court.store.records`). See docs/record.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordVersion:
    hearing_id: str
    number: int  # 1, 2, ...
    sha256: str  # of `text` as UTF-8
    text: str
    author: str  # "system" for the offered version and late finals, else the corrector's actor id
    reason: str
    created_at: float

    def to_dict(self, with_text: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "number": self.number, "sha256": self.sha256, "author": self.author,
            "reason": self.reason, "created_at": self.created_at,
        }
        if with_text:
            data["text"] = self.text
        return data


@dataclass(frozen=True)
class Statement:
    id: int
    hearing_id: str
    version: int
    participant_id: str  # a participant id, or "clerk" for the clerk's API key
    kind: str  # confirm | object | answer | sign | finalise
    text: str  # the objection, or the clerk's answer
    statement: str  # the exact JSON text that was signed
    signature: str  # base64 Ed25519 signature of `statement` ("" when the pod had no key)
    image_sha256: str  # a handwritten signature's PNG, if one was drawn
    wall_time: float

    @property
    def data(self) -> dict[str, Any]:
        parsed = json.loads(self.statement)
        return parsed if isinstance(parsed, dict) else {}

    def to_dict(self) -> dict[str, Any]:
        d = self.data
        return {
            "id": self.id, "version": self.version, "participant": self.participant_id, "kind": self.kind,
            "name": d.get("name", ""), "role": d.get("role", ""), "title_zh": d.get("title_zh", ""),
            "text": self.text, "version_sha256": d.get("version_sha256", ""), "wall_time": self.wall_time,
            "statement": self.statement, "signature": self.signature, "image_sha256": self.image_sha256,
            "refers_to": d.get("refers"),
        }
