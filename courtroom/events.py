"""Hearing events: one for every change, on the hearing clock and the wall clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Event:
    hearing_id: str
    kind: str  # e.g. "hearing.start", "participant.admit", "participant.drop"
    actor: str | None  # participant id, "clerk" for the API key, "system"
    subject: str | None = None  # the participant acted on, the exhibit, ...
    data: dict[str, Any] = field(default_factory=dict)
    hearing_time: float = 0.0  # seconds on the hearing clock
    wall_time: float = 0.0  # unix seconds
    seq: int = 0  # assigned by the store

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "actor": self.actor,
            "subject": self.subject,
            "data": self.data,
            "hearing_time": round(self.hearing_time, 3),
            "wall_time": self.wall_time,
        }
