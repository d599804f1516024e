"""A hearing: one sitting of a case, from opening to closing."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .procedure import HearingState, ProcedureKind


@dataclass
class Hearing:
    id: str
    case_number: str  # stored exactly as given, any Unicode: (2026)京0491民初1234号
    title: str
    procedure: ProcedureKind
    public: bool
    court: str = ""
    state: HearingState = HearingState.SCHEDULED
    scheduled_at: float | None = None
    created_at: float = 0.0
    opened_at: float | None = None  # wall time of `open`: hearing time zero
    started_at: float | None = None  # hearing time of the first `start`
    closed_at: float | None = None  # hearing time of `close`
    broadcast: bool = False  # the judge has put it on air
    ever_broadcast: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # record files, archive parts, ...

    @property
    def broadcastable(self) -> bool:
        return self.public and self.procedure is not ProcedureKind.MEDIATION

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "case_number": self.case_number,
            "title": self.title,
            "procedure": self.procedure.value,
            "public": self.public,
            "court": self.court,
            "state": self.state.value,
            "scheduled_at": self.scheduled_at,
            "created_at": self.created_at,
            "opened_at": self.opened_at,
            "started_at": self.started_at,
            "closed_at": self.closed_at,
            "broadcast": self.broadcast,
            "extra": self.extra,
        }
