"""The record after the hearing: finishing, versions, decisions and signatures.

`RecordReview` walks a hearing's record through the table in `record_lifecycle.py`:

- at close, `finish` stores what is still to be transcribed (per speaker) and flushes the
  recognizers (`flushers`, bounded by `record_flush_seconds`); then `offer` stores version 1;
- a party's confirmation or objection, the clerk's answer, a judge's or the clerk's signature and
  the presiding judge's finalisation are statements on the latest version, signed by the pod;
- a correction or a late final in review makes a new version (`refresh`): decisions on an older
  version no longer count, so those who confirmed it confirm again;
- the last required signature (every party's confirmation, every panel member's and the
  clerk's signature) or the presiding judge's finalisation signs the record: nothing changes it
  any more.

After a crash during *finishing*, `recover` offers the record at start-up with a line naming
the audio that may not have been transcribed. See docs/record.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from . import record_versions as rv
from .court import Actor, InvalidInput, clean_text
from .hearing import Hearing
from .panel import panel_title, presides
from .participants import Participant, ParticipantState
from .procedure import ActionRefused, HearingState, ProcedureKind
from .record import Note, hearing_clock, needs_confirmation, role_title, sha256_text
from .record_lifecycle import RecordState, check_record_action
from .roles import Role
from .signatures import PodSigner, decode_image

if TYPE_CHECKING:
    from .storage.records import RecordRows
    from .transcript import TranscriptService

log = logging.getLogger("courtroom.record")

MAX_TEXT = 2_000
PARTY_DECISIONS = ("confirm", "object")
OFFICER_DECISIONS = ("sign", "finalise", "answer")

# (hearing_id, timeout) -> the speakers whose audio was not transcribed in time
Flusher = Callable[[str, float], Awaitable[list[dict[str, Any]]]]
# hearing_id -> per speaker: what may still be waiting for the recognizer at close
PendingAudio = Callable[[str], list[dict[str, Any]]]
ChangeHook = Callable[[str], Awaitable[None] | None]


class StaleVersion(ActionRefused):
    """A decision on a version that is not the latest: 409 naming the latest."""

    def __init__(self, latest: rv.RecordVersion) -> None:
        super().__init__(409, "stale_version",
                         f"that is not the latest version of the record: the latest is version {latest.number} "
                         f"(sha256 {latest.sha256})")
        self.latest = latest


@dataclass(frozen=True)
class Signer:
    """Who makes a statement: a participant or the clerk's API key."""

    id: str
    role: Role
    name: str
    title_zh: str
    participant: Participant | None


def officer_title(p: Participant, hearing: Hearing, people: list[Participant]) -> str:
    """A court officer's title in the record: a judge's seat on the panel (审判长, 审判员,
    人民陪审员), else the role's name."""
    return panel_title(p, hearing, people)


class RecordReview:
    def __init__(self, transcript: TranscriptService) -> None:
        self.t = transcript
        self.court = transcript.court
        self.flushers: list[Flusher] = []
        self.pending_audio: list[PendingAudio] = []
        self.on_change: list[ChangeHook] = []  # the record's status changed (pages refresh)
        self._finishing: dict[str, asyncio.Task[None]] = {}
        self._offered: dict[str, asyncio.Event] = {}
        self._signer: PodSigner | None = None

    @property
    def signer(self) -> PodSigner:
        if self._signer is None:
            self._signer = PodSigner.open(self.court.config.data_dir)
        return self._signer

    @property
    def _records(self) -> RecordRows:
        return self.court.store.records

    @property
    def _shared_store(self) -> bool:
        """A court of pods (a shared database): another pod may be finishing a record."""
        return bool(getattr(self.court.config, "database_url", ""))

    @property
    def flush_seconds(self) -> float:
        return float(getattr(self.court.config, "record_flush_seconds", 30.0))

    # --- state ------------------------------------------------------------------------------

    def _state_of(self, hearing: Hearing) -> RecordState:
        stored = self._records.get_state(hearing.id)
        if stored is not None:
            return stored
        # No row: a live hearing, or one closed before records had a lifecycle (or by a pod
        # that crashed before `finish` wrote): finishing, to be offered on first use.
        return RecordState.LIVE if hearing.state is not HearingState.CLOSED else RecordState.FINISHING

    async def state(self, hearing_id: str) -> RecordState:
        hearing = await self.court.get_hearing(hearing_id)
        return await self.court.db.run(self._state_of, hearing)

    def state_sync(self, hearing_id: str) -> RecordState:
        """On the database thread (the transcript's inserts and corrections ask here)."""
        return self._state_of(self.court.store.hearings.get_hearing(hearing_id))

    async def _changed(self, hearing_id: str) -> None:
        for hook in list(self.on_change):
            try:
                result = hook(hearing_id)
                if asyncio.iscoroutine(result):
                    await result
            except Exception:  # noqa: BLE001 - telling the pages must not undo the change
                log.exception("a record change hook failed for %s", hearing_id)

    # --- finishing --------------------------------------------------------------------------

    async def finish(self, hearing_id: str) -> None:
        """The hearing has closed: store what may still be waiting for the recognizers, then
        flush them in the background and offer the record when every final has landed."""
        hearing = await self.court.get_hearing(hearing_id)
        pending: list[dict[str, Any]] = []
        for source in list(self.pending_audio):
            pending.extend(source(hearing_id))
        info = {"pending": pending, "closed_at": hearing.closed_at, "since": time.time()}

        def write() -> bool:
            with self.court.store.transaction():  # of two pods closing it, one starts the finishing
                if self._records.get_state(hearing_id) is not None:
                    return False
                self._records.set_state(hearing_id, RecordState.FINISHING, info)
                return True

        if not await self.court.db.run(write):
            return
        self._offered.setdefault(hearing_id, asyncio.Event())
        await self.court.record_event(hearing_id, "record.finishing", "system", pending=pending)
        task = asyncio.create_task(self._flush_and_offer(hearing_id))
        self._finishing[hearing_id] = task
        task.add_done_callback(lambda _t: self._finishing.pop(hearing_id, None))

    async def _flush_and_offer(self, hearing_id: str) -> None:
        incomplete: list[dict[str, Any]] = []
        try:
            for flush in list(self.flushers):
                incomplete.extend(await flush(hearing_id, self.flush_seconds))
        except Exception:  # noqa: BLE001 - the record is offered either way, saying what is missing
            log.exception("flushing the recognizers of %s failed", hearing_id)
            info = await self.court.db.run(self._records.get_finishing, hearing_id)
            incomplete = list(info.get("pending", []))
        try:
            await self.offer(hearing_id, incomplete, "timeout" if incomplete else "")
        except Exception:  # noqa: BLE001
            log.exception("offering the record of %s failed", hearing_id)

    async def offer(self, hearing_id: str, incomplete: list[dict[str, Any]], why: str = "") -> rv.RecordVersion | None:
        """finishing → review: store version 1 (with a line naming untranscribed audio, if any)."""

        def note_incomplete() -> bool:
            with self.court.store.transaction():
                if self.state_sync(hearing_id) is not RecordState.FINISHING:
                    return False
                info = self._records.get_finishing(hearing_id)
                info["incomplete"] = incomplete
                info["why"] = why
                self._records.set_state(hearing_id, RecordState.FINISHING, info)
                return True

        if not await self.court.db.run(note_incomplete):
            return None
        version = await self._new_version(hearing_id, "system", "offered", RecordState.REVIEW)
        await self.court.record_event(hearing_id, "record.finished", "system", incomplete=incomplete, why=why)
        if version is not None:
            await self.court.record_event(hearing_id, "record.version", "system", number=version.number,
                                          sha256=version.sha256, reason="offered")
        self._offered.setdefault(hearing_id, asyncio.Event()).set()
        await self._changed(hearing_id)
        return version

    async def recover(self) -> None:
        """At start-up: a record left *finishing* by a crash is offered now; the audio that was
        waiting for the recognizers at close is named in it as not transcribed."""
        for hearing_id in await self.court.db.run(self._records.closed_without_record):
            await self.offer(hearing_id, [], "")
        hearing_ids = await self.court.db.run(self._records.in_state, RecordState.FINISHING)
        for hearing_id in hearing_ids:
            info = await self.court.db.run(self._records.get_finishing, hearing_id)
            # In a court of pods another pod may be finishing it right now: give it its wait first.
            young = float(info.get("since") or 0.0) + self.flush_seconds + 10.0 - time.time()
            if young > 0 and self._shared_store:
                task = asyncio.create_task(self._recover_later(hearing_id, young))
                self._finishing.setdefault(hearing_id, task)
                continue
            log.warning("the record of %s was still finishing when the pod stopped: offering it now", hearing_id)
            await self.offer(hearing_id, list(info.get("pending", [])), "interrupted")

    async def _recover_later(self, hearing_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        info = await self.court.db.run(self._records.get_finishing, hearing_id)
        if await self.state(hearing_id) is RecordState.FINISHING:
            log.warning("the record of %s was left finishing: offering it now", hearing_id)
            await self.offer(hearing_id, list(info.get("pending", [])), "interrupted")

    async def wait_offered(self, hearing_id: str) -> RecordState:
        """The record's state once it is past *finishing* (bounded: the flush's wait and a margin)."""
        state = await self.state(hearing_id)
        if state is not RecordState.FINISHING:
            return state
        if hearing_id not in self._finishing:
            info = await self.court.db.run(self._records.get_finishing, hearing_id)
            deadline = float(info.get("since") or 0.0) + self.flush_seconds + 10.0 if self._shared_store else 0.0
            # Another pod of the court may be finishing it: watch the store until it is offered.
            for _ in range(max(0, int((deadline - time.time()) / 0.2))):  # polled: the news is in the store
                if await self.state(hearing_id) is not RecordState.FINISHING:
                    break
                await asyncio.sleep(0.2)
            if await self.state(hearing_id) is RecordState.FINISHING:
                # Closed before the lifecycle existed, or its finishing was abandoned: offer now.
                await self.offer(hearing_id, list(info.get("pending", [])), "interrupted" if info else "")
            return await self.state(hearing_id)
        event = self._offered.setdefault(hearing_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), self.flush_seconds + 10.0)
        except TimeoutError:
            pass
        return await self.state(hearing_id)

    async def finishing_notes(self, hearing_id: str) -> list[Note]:
        info = await self.court.db.run(self._records.get_finishing, hearing_id)
        return incomplete_notes(info, await self.court.participants(hearing_id))

    # --- versions ---------------------------------------------------------------------------

    async def _new_version(
        self, hearing_id: str, author: str, reason: str, to_state: RecordState | None = None
    ) -> rv.RecordVersion | None:
        extra = await self.t._extra_notes(hearing_id)
        extra += await self.finishing_notes(hearing_id)

        def write() -> rv.RecordVersion | None:
            records = self._records
            with self.court.store.transaction():
                snap = self.t._load(hearing_id)
                text = self.t._canonical(snap, extra)
                sha = sha256_text(text)
                last = records.latest(hearing_id)
                made = None
                if last is None or last.sha256 != sha:
                    made = records.add_version(hearing_id, sha, text, author, reason)
                if to_state is not None:
                    records.set_state(hearing_id, to_state)
            return made

        return await self.court.db.run(write)

    async def refresh(self, hearing_id: str, author: str, reason: str) -> rv.RecordVersion | None:
        """In review, a change of the text (a correction, a late final) makes a new version."""
        if await self.state(hearing_id) is not RecordState.REVIEW:
            return None
        version = await self._new_version(hearing_id, author, reason)
        if version is not None:
            await self.court.record_event(hearing_id, "record.version", author, number=version.number,
                                          sha256=version.sha256, reason=reason)
            await self._changed(hearing_id)
        return version

    async def versions(self, hearing_id: str) -> list[rv.RecordVersion]:
        return await self.court.db.run(self._records.versions, hearing_id)

    async def latest(self, hearing_id: str) -> rv.RecordVersion | None:
        return await self.court.db.run(self._records.latest, hearing_id)

    async def statements(self, hearing_id: str) -> list[rv.Statement]:
        return await self.court.db.run(self._records.statements, hearing_id)

    # --- decisions and signatures -----------------------------------------------------------

    def _signer_for(self, actor: Actor, people: list[Participant], hearing: Hearing) -> Signer:
        if actor.participant is None:
            return Signer("clerk", Role.CLERK, "", "书记员", None)
        p = next((q for q in people if q.id == actor.participant.id), actor.participant)
        title = officer_title(p, hearing, people) if p.role in (Role.JUDGE, Role.CLERK, Role.MEDIATOR) else role_title(p.role, p.side)
        return Signer(p.id, p.role, p.name, title, p)

    async def decide(
        self,
        hearing_id: str,
        actor: Actor,
        decision: str,
        text: object = "",
        version: object = None,
        image: object = None,
        refers: object = None,
    ) -> tuple[rv.Statement, bool]:
        """A statement on the latest version. Returns (the statement, whether it is new)."""
        if actor.participant is not None and actor.participant.hearing_id != hearing_id:
            raise ActionRefused(403, "forbidden", "your token is for another hearing")
        if decision not in PARTY_DECISIONS + OFFICER_DECISIONS:
            raise InvalidInput("invalid_decision", "decision must be confirm or object (officers: sign, finalise, answer)")
        if decision in ("object", "answer"):
            reason = clean_text(text, "objection" if decision == "object" else "answer", MAX_TEXT)
        else:
            reason = clean_text(text, "objection", MAX_TEXT, required=False)
            if reason and decision == "confirm":
                raise InvalidInput("invalid_field", "an objection goes with decision object")
        png = None
        if image is not None:
            try:
                png = decode_image(image)
            except ValueError as e:
                raise InvalidInput("invalid_signature_image", str(e)) from None
        if refers is not None and (not isinstance(refers, int) or isinstance(refers, bool)):
            raise InvalidInput("invalid_field", "refers is the id of the objection answered")
        if version is not None and not isinstance(version, str | int) or isinstance(version, bool):
            raise InvalidInput("invalid_field", "version is the latest version's sha256 (or its number)")
        state = await self.wait_offered(hearing_id)
        check_record_action(decision, state, actor.role)
        people = await self.court.participants(hearing_id)
        hearing = await self.court.get_hearing(hearing_id)
        who = self._signer_for(actor, people, hearing)
        self._may_decide(hearing, people, who, decision)
        signer = self.signer
        tz = self.t.tz

        def write() -> tuple[rv.Statement, bool, bool]:
            records = self._records
            with self.court.store.transaction():
                state_now = self.state_sync(hearing_id)
                check_record_action(decision, state_now, actor.role)
                latest = records.latest(hearing_id)
                if latest is None:
                    raise ActionRefused(409, "record_finishing", "the record has not been offered yet")
                if version is not None and version not in (latest.sha256, latest.number):
                    raise StaleVersion(latest)
                existing = records.statements(hearing_id)
                mine = [s for s in existing if s.participant_id == who.id and s.version == latest.number]
                if decision in ("confirm", "sign", "finalise") and mine and mine[-1].kind == decision:
                    return mine[-1], False, False  # twice is once
                if decision == "answer":
                    objections = {s.id for s in existing if s.kind == "object"}
                    if refers is not None and refers not in objections:
                        raise InvalidInput("invalid_field", f"there is no objection {refers} to answer")
                now = time.time()
                data: dict[str, Any] = {
                    "hearing_id": hearing.id, "case_number": hearing.case_number,
                    "version": latest.number, "version_sha256": latest.sha256,
                    "participant": who.id, "name": who.name, "role": who.role.value, "title_zh": who.title_zh,
                    "decision": decision, "wall_time": round(now, 3),
                    "time": datetime.fromtimestamp(now, tz).isoformat(timespec="seconds"),
                }
                if reason:
                    data["text"] = reason
                if refers is not None:
                    data["refers"] = refers
                image_sha = ""
                if png is not None:
                    image_sha = sha256_bytes(png)
                    records.put_image(image_sha, png)
                    data["image_sha256"] = image_sha
                if decision == "finalise":
                    data["outstanding"] = self._outstanding(hearing, people, existing, latest.number)
                statement_text, signature = signer.sign(data)
                made = records.add_statement(hearing_id, latest.number, who.id, decision, reason,
                                             statement_text, signature, image_sha, now)
                signed = decision == "finalise" or self._complete(hearing, people, [*existing, made], latest.number)
                if signed:
                    records.set_state(hearing_id, RecordState.SIGNED)
            return made, True, signed

        statement, new, signed = await self.court.db.run(write)
        if new:
            await self.court.record_event(hearing_id, f"record.{decision}", who.id, who.participant.id if who.participant else None,
                                          version=statement.version, sha256=statement.data.get("version_sha256"),
                                          **({"text": reason} if reason else {}))
            if signed:
                await self.court.record_event(hearing_id, "record.signed", "system", version=statement.version,
                                              sha256=statement.data.get("version_sha256"))
            if decision in PARTY_DECISIONS or signed:
                from .transcript import _confirmation

                latest = await self.latest(hearing_id)
                before = [s for s in await self.statements(hearing_id)
                          if s.version == statement.version and s.kind in PARTY_DECISIONS and s.id < statement.id]
                await self.t.notify_confirmed(hearing_id, _confirmation(hearing_id, statement),
                                              latest.text if latest else "", not before, signed)
            await self._changed(hearing_id)
        return statement, new

    def _may_decide(self, hearing: Hearing, people: list[Participant], who: Signer, decision: str) -> None:
        p = who.participant
        if decision in PARTY_DECISIONS:
            if p is None or not needs_confirmation(p):
                raise ActionRefused(403, "forbidden", "only the parties and their agents confirm the record")
            return
        if p is not None and p.state is ParticipantState.REMOVED:
            raise ActionRefused(403, "forbidden", "a removed participant does not sign the record")
        if p is not None and p.role is Role.MEDIATOR and hearing.procedure is not ProcedureKind.MEDIATION:
            raise ActionRefused(403, "forbidden", "a mediator signs only a mediation's record")
        if decision == "finalise":
            if p is None or not presides(p, hearing, people):
                raise ActionRefused(403, "forbidden", "only the presiding judge finalises the record")

    def required_officers(self, hearing: Hearing, people: list[Participant]) -> list[Signer]:
        """The court's signatures a record needs: every panel member (or the mediator) and the
        clerk (a clerk's seat, or else the clerk's API key)."""
        out = []
        for p in people:
            if p.state is ParticipantState.REMOVED:
                continue
            if p.role is Role.JUDGE or (p.role is Role.MEDIATOR and hearing.procedure is ProcedureKind.MEDIATION) \
                    or p.role is Role.CLERK:
                out.append(Signer(p.id, p.role, p.name, officer_title(p, hearing, people), p))
        if not any(s.role is Role.CLERK for s in out):
            out.append(Signer("clerk", Role.CLERK, "", "书记员", None))
        return out

    def _latest_by(self, statements: list[rv.Statement], version: int, kinds: tuple[str, ...]) -> dict[str, rv.Statement]:
        out: dict[str, rv.Statement] = {}
        for s in statements:
            if s.version == version and s.kind in kinds:
                out[s.participant_id] = s
        return out

    def _complete(self, hearing: Hearing, people: list[Participant], statements: list[rv.Statement], version: int) -> bool:
        decisions = self._latest_by(statements, version, PARTY_DECISIONS)
        parties_ok = all(decisions.get(p.id) is not None and decisions[p.id].kind == "confirm"
                         for p in people if needs_confirmation(p))
        signed = self._latest_by(statements, version, ("sign", "finalise"))
        officers_ok = all(s.id in signed for s in self.required_officers(hearing, people))
        return parties_ok and officers_ok

    def _outstanding(self, hearing: Hearing, people: list[Participant], statements: list[rv.Statement],
                     version: int) -> list[dict[str, Any]]:
        """What the presiding judge's finalisation writes in: objections and missing confirmations."""
        decisions = self._latest_by(statements, version, PARTY_DECISIONS)
        out = []
        for p in people:
            if not needs_confirmation(p):
                continue
            d = decisions.get(p.id)
            if d is not None and d.kind == "confirm":
                continue
            item: dict[str, Any] = {"participant": p.id, "name": p.name, "title_zh": role_title(p.role, p.side)}
            if d is not None:
                item.update(status="objected", objection=d.text)
            else:
                item["status"] = "not_confirmed"
            out.append(item)
        return out

    # --- status -----------------------------------------------------------------------------

    async def status(self, hearing_id: str) -> dict[str, Any]:
        """The record's lifecycle for `GET …/record`: state, version, decisions, who is pending."""
        hearing = await self.court.get_hearing(hearing_id)
        people = await self.court.participants(hearing_id)

        def read() -> tuple[RecordState, list[rv.RecordVersion], list[rv.Statement], dict[str, Any]]:
            return (self._state_of(hearing), self._records.versions(hearing_id),
                    self._records.statements(hearing_id), self._records.get_finishing(hearing_id))

        state, versions, statements, finishing = await self.court.db.run(read)
        latest = versions[-1] if versions else None
        number = latest.number if latest else 0
        decisions = self._latest_by(statements, number, PARTY_DECISIONS)
        signed_by = self._latest_by(statements, number, ("sign", "finalise"))
        pending = [p for p in people if needs_confirmation(p)
                   and (p.id not in decisions or decisions[p.id].kind != "confirm")]
        undecided = [p for p in people if needs_confirmation(p) and p.id not in decisions]
        officers = self.required_officers(hearing, people)
        return {
            "record_state": state.value,
            "version": latest.sha256 if latest else None,
            "version_number": number,
            "versions": [v.to_dict() for v in versions],
            "statements": [s.to_dict() for s in statements],
            "decisions": [decisions[k].to_dict() for k in decisions],
            "undecided": [{"participant": p.id, "name": p.name, "role": p.role.value} for p in undecided],
            "unconfirmed": [{"participant": p.id, "name": p.name, "role": p.role.value} for p in pending],
            "signatures": [signed_by[k].to_dict() for k in signed_by],
            "signatures_pending": [{"participant": s.id, "name": s.name, "role": s.role.value, "title_zh": s.title_zh}
                                   for s in officers if s.id not in signed_by],
            "incomplete_audio": finishing.get("incomplete", []),
            "signed": state is RecordState.SIGNED,
        }


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def incomplete_notes(info: dict[str, Any], people: list[Participant]) -> list[Note]:
    """The record's line for audio that was not transcribed before the record was offered."""
    missing = info.get("incomplete") or []
    if not missing:
        return []
    by_id = {p.id: p for p in people}
    parts = []
    for item in missing:
        p = by_id.get(str(item.get("participant")))
        who = f"{role_title(p.role, p.side)}{p.name}" if p else str(item.get("name", ""))
        since = float(item.get("since") or 0.0)
        until = float(item.get("until") or info.get("closed_at") or since)
        parts.append(f"{who} {hearing_clock(since)} 至 {hearing_clock(until)}")
    why = "服务器在转写完成前中断" if info.get("why") == "interrupted" else "转写未在时限内完成"
    at = float(info.get("closed_at") or 0.0)
    return [Note(at + 0.001, f"（以下语音可能未转写入笔录：{'；'.join(parts)}。原因：{why}）", "record.finished")]
