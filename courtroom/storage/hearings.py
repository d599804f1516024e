"""Hearings, participants and events: the rows of a hearing's procedure.

Methods are synchronous and run on the database thread (`Database.run`).
"""

from __future__ import annotations

import json
from typing import Any

from ..events import Event
from ..hearing import Hearing
from ..participants import Participant, ParticipantState, WitnessState
from ..procedure import HearingState, ProcedureKind
from ..roles import Role
from .base import Connection, NotFound, transaction, unique

_HEARING_COLUMNS = (
    "id, case_number, title, procedure, public, court, state, scheduled_at, created_at, "
    "opened_at, started_at, closed_at, broadcast, ever_broadcast, extra"
)
_PARTICIPANT_COLUMNS = (
    "id, hearing_id, name, role, side, state, witness_state, muted, self_muted, hand_raised, "
    "protected, screened_from, token_nonce, created_at"
)


class HearingRows:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # hearings
    def create_hearing(self, hearing: Hearing) -> None:
        with unique(f"hearing {hearing.id} exists"):
            self.conn.execute(
                f"INSERT INTO hearings ({_HEARING_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                _hearing_row(hearing),
            )

    def get_hearing(self, hearing_id: str) -> Hearing:
        row = self.conn.execute(
            f"SELECT {_HEARING_COLUMNS} FROM hearings WHERE id = ?", (hearing_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no hearing {hearing_id}")
        return _hearing_from(row)

    def list_hearings(self) -> list[Hearing]:
        rows = self.conn.execute(
            f"SELECT {_HEARING_COLUMNS} FROM hearings ORDER BY coalesce(scheduled_at, created_at), id"
        ).fetchall()
        return [_hearing_from(r) for r in rows]

    def case_number(self, hearing_id: str) -> str | None:
        """The hearing's case number, None for an unknown hearing (public lookups by hash)."""
        row = self.conn.execute("SELECT case_number FROM hearings WHERE id = ?", (hearing_id,)).fetchone()
        return str(row[0]) if row else None

    def extras(self) -> dict[str, str]:
        """Every hearing's `extra` as stored (JSON text, read leniently by its callers)."""
        return {r[0]: r[1] for r in self.conn.execute("SELECT id, extra FROM hearings").fetchall()}

    def save_hearing(self, hearing: Hearing) -> None:
        self._save_hearing(hearing)

    def _save_hearing(self, hearing: Hearing) -> None:
        row = _hearing_row(hearing)
        self.conn.execute(
            "UPDATE hearings SET case_number=?, title=?, procedure=?, public=?, court=?, state=?, "
            "scheduled_at=?, created_at=?, opened_at=?, started_at=?, closed_at=?, broadcast=?, "
            "ever_broadcast=?, extra=? WHERE id=?",
            (*row[1:], row[0]),
        )

    # participants
    def add_participant(self, participant: Participant) -> None:
        with unique(f"participant {participant.id} exists"):
            self.conn.execute(
                f"INSERT INTO participants ({_PARTICIPANT_COLUMNS}) VALUES ({', '.join('?' * 14)})",
                _participant_row(participant),
            )

    def get_participant(self, participant_id: str) -> Participant:
        row = self.conn.execute(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE id = ?", (participant_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"no participant {participant_id}")
        return _participant_from(row)

    def list_participants(self, hearing_id: str) -> list[Participant]:
        rows = self.conn.execute(
            f"SELECT {_PARTICIPANT_COLUMNS} FROM participants WHERE hearing_id = ? ORDER BY created_at, id",
            (hearing_id,),
        ).fetchall()
        return [_participant_from(r) for r in rows]

    def save_participant(self, participant: Participant) -> None:
        self._save_participant(participant)

    def _save_participant(self, p: Participant) -> None:
        row = _participant_row(p)
        self.conn.execute(
            "UPDATE participants SET hearing_id=?, name=?, role=?, side=?, state=?, witness_state=?, "
            "muted=?, self_muted=?, hand_raised=?, protected=?, screened_from=?, token_nonce=?, "
            "created_at=? WHERE id=?",
            (*row[1:], row[0]),
        )

    # events
    def append_event(self, event: Event) -> Event:
        return self._append_event(event)

    def _append_event(self, event: Event) -> Event:
        cur = self.conn.execute(
            "INSERT INTO events (hearing_id, kind, actor, subject, data, hearing_time, wall_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.hearing_id,
                event.kind,
                event.actor,
                event.subject,
                json.dumps(event.data, ensure_ascii=False),
                event.hearing_time,
                event.wall_time,
            ),
        )
        event.seq = int(cur.lastrowid or 0)
        return event

    def list_events(self, hearing_id: str, after: int = 0) -> list[Event]:
        rows = self.conn.execute(
            "SELECT seq, hearing_id, kind, actor, subject, data, hearing_time, wall_time FROM events "
            "WHERE hearing_id = ? AND seq > ? ORDER BY seq",
            (hearing_id, after),
        ).fetchall()
        return [
            Event(
                hearing_id=r["hearing_id"],
                kind=r["kind"],
                actor=r["actor"],
                subject=r["subject"],
                data=json.loads(r["data"]),
                hearing_time=r["hearing_time"],
                wall_time=r["wall_time"],
                seq=r["seq"],
            )
            for r in rows
        ]

    def commit_change(
        self, hearing: Hearing | None, participants: list[Participant], events: list[Event]
    ) -> list[Event]:
        """One change of the hearing, all or nothing: its state, participants and events."""
        with transaction(self.conn):
            if hearing is not None:
                self._save_hearing(hearing)
            for p in participants:
                self._save_participant(p)
            for e in events:
                self._append_event(e)
        return events


def _hearing_row(h: Hearing) -> tuple[Any, ...]:
    return (
        h.id,
        h.case_number,
        h.title,
        h.procedure.value,
        int(h.public),
        h.court,
        h.state.value,
        h.scheduled_at,
        h.created_at,
        h.opened_at,
        h.started_at,
        h.closed_at,
        int(h.broadcast),
        int(h.ever_broadcast),
        json.dumps(h.extra, ensure_ascii=False),
    )


def _hearing_from(r: Any) -> Hearing:
    return Hearing(
        id=r["id"],
        case_number=r["case_number"],
        title=r["title"],
        procedure=ProcedureKind(r["procedure"]),
        public=bool(r["public"]),
        court=r["court"],
        state=HearingState(r["state"]),
        scheduled_at=r["scheduled_at"],
        created_at=r["created_at"],
        opened_at=r["opened_at"],
        started_at=r["started_at"],
        closed_at=r["closed_at"],
        broadcast=bool(r["broadcast"]),
        ever_broadcast=bool(r["ever_broadcast"]),
        extra=json.loads(r["extra"]),
    )


def _participant_row(p: Participant) -> tuple[Any, ...]:
    return (
        p.id,
        p.hearing_id,
        p.name,
        p.role.value,
        p.side,
        p.state.value,
        p.witness_state.value if p.witness_state else None,
        int(p.muted),
        int(p.self_muted),
        int(p.hand_raised),
        int(p.protected),
        json.dumps(p.screened_from),
        p.token_nonce,
        p.created_at,
    )


def _participant_from(r: Any) -> Participant:
    return Participant(
        id=r["id"],
        hearing_id=r["hearing_id"],
        name=r["name"],
        role=Role(r["role"]),
        side=r["side"],
        state=ParticipantState(r["state"]),
        witness_state=WitnessState(r["witness_state"]) if r["witness_state"] else None,
        muted=bool(r["muted"]),
        self_muted=bool(r["self_muted"]),
        hand_raised=bool(r["hand_raised"]),
        protected=bool(r["protected"]),
        screened_from=json.loads(r["screened_from"]),
        token_nonce=r["token_nonce"],
        created_at=r["created_at"],
    )
