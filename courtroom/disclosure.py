"""Who sees and hears what: the court's one disclosure rule (no I/O).

Every output asks this module what a viewer may receive at hearing time *t*: the socket's
state and transcript pushes, every HTTP read, the live picture and mix, the public stream
and its captions, the replay and its captions, the exported bundle. Three kinds of viewer:

- the **court** (its archive, the clerk's key, the exported bundle): everything, real names;
- a **participant** in a role and a state: the court's officers see everything of the live
  hearing; a party sees the hearing while seated in it; a witness nothing until called, and
  of the record only what was said while they testified; nobody sees the name of a
  participant screened from them (a role label instead, the screened picture, the
  disguised voice);
- the **public**: only what was on air, behind the broadcast delay, roles never names,
  every protected participant screened and disguised.

The rule is data plus small pure functions: a `Disclosure` is built from the hearing, its
participants and its events (which is why it holds across a restart), then asked.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .events import Event
from .hearing import Hearing
from .participants import Participant, ParticipantState, receives_hearing
from .procedure import HearingState
from .record import role_title
from .roles import ROLE_NAMES_EN, ROLE_NAMES_ZH, Permission, Role, may

# The court's own officers: they see the whole live hearing, its events and its record.
COURT_OFFICERS = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR})
# Roles that see the exhibits whenever they are in the hearing's list (not only while seated).
SEES_EXHIBITS_ALWAYS = frozenset({Role.JUDGE, Role.CLERK, Role.MEDIATOR, Role.PLAINTIFF, Role.DEFENDANT, Role.AGENT})

MAIN = "main"  # the picture with every face and name
SCREENED = "screened"  # every protected participant a mosaic with a role label

# Keys of the hearing's `extra` that hold server paths or internal bookkeeping: only the
# court sees them. Record files go to participants without their path.
_COURT_ONLY_EXTRA = frozenset({"archive_parts", "public_parts"})


class Audience(StrEnum):
    COURT = "court"
    PARTICIPANT = "participant"
    PUBLIC = "public"


@dataclass(frozen=True)
class Viewer:
    audience: Audience
    participant: Participant | None = None

    @classmethod
    def court(cls) -> Viewer:
        return cls(Audience.COURT)

    @classmethod
    def public(cls) -> Viewer:
        return cls(Audience.PUBLIC)

    @classmethod
    def of(cls, participant: Participant | None) -> Viewer:
        """A participant's token, or (None) the clerk's key, which reads as the court."""
        return cls.court() if participant is None else cls(Audience.PARTICIPANT, participant)

    @property
    def id(self) -> str | None:
        return self.participant.id if self.participant is not None else None

    @property
    def officer(self) -> bool:
        return self.audience is Audience.COURT or (
            self.participant is not None and self.participant.role in COURT_OFFICERS
        )


def is_officer(role: Role) -> bool:
    return role in COURT_OFFICERS


def role_label(p: Participant, language: str = "zh") -> str:
    """What stands in for a hidden name, in the court's language: '证人' (or 'Witness')."""
    return (ROLE_NAMES_EN if language == "en" else ROLE_NAMES_ZH)[p.role]


def on_air_intervals(events: Iterable[Event], end: float) -> list[tuple[float, float]]:
    """The hearing-time stretches the public may see: in session and on air.

    An off-air press is a dump button: it ends the stretch at the event's `cut_from` (the
    judge's act minus the broadcast delay: what the public had not yet seen), not at the
    moment it was committed. From the stored events, so it holds across a restart.
    """
    in_session = broadcast = False
    since: float | None = None
    out: list[tuple[float, float]] = []
    for e in events:
        kind = e.kind
        at = e.hearing_time
        if kind in ("hearing.start", "hearing.resume"):
            in_session = True
        elif kind in ("hearing.recess", "hearing.close"):
            in_session = False
        elif kind == "hearing.broadcast_on":
            broadcast = True
        elif kind == "hearing.broadcast_off":
            broadcast = False
            cut = (getattr(e, "data", None) or {}).get("cut_from")
            if isinstance(cut, int | float):
                at = min(at, float(cut))
        else:
            continue
        live = in_session and broadcast
        if live and since is None:
            since = e.hearing_time
        elif not live and since is not None:
            if at > since:
                out.append((since, at))
            since = None
    if since is not None and end > since:
        out.append((since, end))
    return out


def witness_windows(events: Iterable[Event], witness_id: str, end: float) -> list[tuple[float, float]]:
    """When a witness was in the hearing: from each call to the following excuse."""
    out: list[tuple[float, float]] = []
    since: float | None = None
    for e in events:
        if e.subject != witness_id:
            continue
        if e.kind == "participant.call_witness" and since is None:
            since = e.hearing_time
        elif e.kind in ("participant.excuse_witness", "participant.remove") and since is not None:
            out.append((since, e.hearing_time))
            since = None
    if since is not None:
        out.append((since, max(end, since)))
    return out


def _inside(start: float, end: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(a <= start and end <= b for a, b in windows)


@dataclass
class Disclosure:
    """The rule applied to one hearing at hearing time `now` (see the module's doc)."""

    hearing: Hearing
    people: Sequence[Participant]
    events: Sequence[Event] = ()
    now: float = 0.0
    delay: float = 0.0  # the broadcast delay, seconds
    language: str = "zh"  # the court's language: the role labels that stand in for hidden names
    _by_id: dict[str, Participant] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._by_id = {p.id: p for p in self.people}

    def _me(self, viewer: Viewer) -> Participant | None:
        """The viewer's participant as it is now (its token's copy may be stale)."""
        if viewer.participant is None:
            return None
        return self._by_id.get(viewer.participant.id, viewer.participant)

    # -- media -------------------------------------------------------------------------

    def receives_media(self, viewer: Viewer) -> bool:
        """The live picture and sound: the public only while on air (behind the delay line)."""
        state = self.hearing.state
        if viewer.audience is Audience.COURT:
            return state is HearingState.IN_SESSION
        if viewer.audience is Audience.PUBLIC:
            return self.hearing.broadcastable and self.hearing.broadcast and state is HearingState.IN_SESSION
        me = self._me(viewer)
        return me is not None and receives_hearing(me, state)

    def protected(self) -> list[Participant]:
        return [p for p in self.people if p.protected]

    def hidden(self, viewer: Viewer) -> frozenset[str]:
        """Participants whose face, name and voice are kept from this viewer."""
        if viewer.audience is Audience.COURT:
            return frozenset()
        if viewer.audience is Audience.PUBLIC:
            return frozenset(p.id for p in self.protected())
        me = viewer.id
        return frozenset(p.id for p in self.protected() if me in p.screened_from and p.id != me)

    def picture(self, viewer: Viewer) -> str:
        """Which composed picture: the screened one mosaics every protected participant."""
        return SCREENED if self.hidden(viewer) else MAIN

    def disguised(self, viewer: Viewer) -> frozenset[str]:
        """Whose voice reaches this viewer pitch-shifted (the court's archive keeps the real one)."""
        return self.hidden(viewer)

    def name_of(self, viewer: Viewer, p: Participant) -> str:
        return role_label(p, self.language) if p.id in self.hidden(viewer) or viewer.audience is Audience.PUBLIC else p.name

    # -- lists -------------------------------------------------------------------------

    def participant(self, viewer: Viewer, p: Participant) -> dict[str, Any] | None:
        """One entry of the participant list as this viewer gets it (None: not listed)."""
        if viewer.audience is Audience.PUBLIC:
            return None
        entry = p.public_dict()
        if viewer.officer or p.id == viewer.id:
            return entry
        if not self.sees_transcript(viewer) and p.role not in COURT_OFFICERS:
            # Outside the hearing (waiting, a witness not called or excused): the bench and oneself.
            return None
        if p.id in self.hidden(viewer):
            entry["name"] = role_label(p, self.language)
        entry.pop("screened_from", None)  # who is screened from whom is the court's business
        return entry

    def participants(self, viewer: Viewer) -> list[dict[str, Any]]:
        return [e for p in self.people if (e := self.participant(viewer, p)) is not None]

    def extra(self, viewer: Viewer) -> dict[str, Any]:
        """The hearing's `extra` without server paths and internal ids (those are the court's)."""
        extra = self.hearing.extra
        if viewer.audience is Audience.COURT:
            return dict(extra)
        out: dict[str, Any] = {}
        for key, value in extra.items():
            if key in _COURT_ONLY_EXTRA:
                continue
            if key == "record_files" and isinstance(value, list):
                value = [_without_path(f) for f in value if isinstance(f, Mapping)]
            out[key] = value
        return out

    def hearing_view(self, viewer: Viewer, described: Mapping[str, Any]) -> dict[str, Any]:
        """`Court.describe`'s hearing dict as this viewer may receive it."""
        out = dict(described)
        out["participants"] = self.participants(viewer)
        out["extra"] = self.extra(viewer)
        return out

    # -- the record --------------------------------------------------------------------

    def sees_transcript(self, viewer: Viewer) -> bool:
        """Any of the record at all (live pushes, the record so far, the HTTP exports)."""
        if viewer.audience is Audience.COURT:
            return True
        if viewer.audience is Audience.PUBLIC:
            return self.hearing.broadcastable and self.hearing.ever_broadcast
        me = self._me(viewer)
        if me is None or me.state is ParticipantState.REMOVED:
            return False
        if me.role in COURT_OFFICERS:
            return True
        if self.hearing.state is HearingState.CLOSED:
            # Those who confirm the record read it; a witness reads its own testimony.
            return may(me.role, Permission.CONFIRM_RECORD) or (
                me.role is Role.WITNESS and bool(self._windows(me))
            )
        return receives_hearing(me, self.hearing.state)

    def _windows(self, me: Participant) -> list[tuple[float, float]]:
        # A witness testifying now reads on: its window stays open until it is excused.
        end = math.inf if self.hearing.closed_at is None else self.hearing.closed_at
        return witness_windows(self.events, me.id, end)

    def public_windows(self) -> list[tuple[float, float]]:
        """What the public may have seen by now: on air, and out of the delay line."""
        end = self.now if self.hearing.closed_at is None else min(self.now, self.hearing.closed_at)
        until = end - self.delay
        return [(a, min(b, until)) for a, b in on_air_intervals(self.events, end) if min(b, until) > a]

    def segment(self, viewer: Viewer, seg: Any) -> dict[str, Any] | None:
        """One transcript segment as this viewer may receive it: a `transcript.Segment` or its
        socket form (`{"id", "speaker", "role", "name", "text", "final", "start", "end"}`)."""
        if not self.sees_transcript(viewer):
            return None
        message: dict[str, Any] = dict(seg) if isinstance(seg, Mapping) else seg.to_message()
        start, end = float(message["start"]), float(message["end"])
        if viewer.audience is Audience.PUBLIC:
            # Only what the public heard: wholly inside what was on air and already out of the
            # delay (a segment straddling a cut is dropped: its words cannot be clipped).
            if not message.get("final", True) or not _inside(start, end, self.public_windows()):
                return None
            role = Role(message["role"])
            return {"id": message["id"], "role": role.value, "label": role_title(role), "text": message["text"],
                    "start": round(start, 3), "end": round(end, 3)}
        if viewer.officer:
            return message
        me = self._me(viewer)
        if me is not None and me.role is Role.WITNESS and not _inside(start, start, self._windows(me)):
            return None  # said before the witness was called, or after it was excused
        speaker = self._by_id.get(str(message.get("speaker")))
        if speaker is not None and speaker.id in self.hidden(viewer):
            message["name"] = role_label(speaker, self.language)
        return message

    def segments(self, viewer: Viewer, segments: Iterable[Any]) -> list[dict[str, Any]]:
        return [m for s in segments if (m := self.segment(viewer, s)) is not None]

    def record_people(self, viewer: Viewer) -> list[Participant]:
        """The participants as named in a record export for this viewer (hidden: role label)."""
        hidden = self.hidden(viewer)
        if not hidden:
            return list(self.people)
        from dataclasses import replace

        return [replace(p, name=role_label(p, self.language)) if p.id in hidden else p for p in self.people]

    def record_status(self, viewer: Viewer, status: dict[str, Any]) -> dict[str, Any]:
        """The record's lifecycle (`RecordReview.status`) as this viewer may read it: whoever is
        hidden from it is named by role, and their signed statement (which names them) is left
        out; the court's copy keeps both."""
        hidden = self.hidden(viewer)
        if not hidden:
            return status
        labels = {p.id: role_label(p, self.language) for p in self.people if p.id in hidden}
        out = dict(status)
        for key in _NAMING_LISTS:
            if isinstance(out.get(key), list):
                out[key] = [_screened_entry(entry, labels) for entry in out[key]]
        return out

    # -- exhibits and events -----------------------------------------------------------

    def sees_exhibits(self, viewer: Viewer) -> bool:
        if viewer.audience is Audience.COURT:
            return True
        if viewer.audience is Audience.PUBLIC:
            return False
        me = self._me(viewer)
        if me is None:
            return False
        return me.role in SEES_EXHIBITS_ALWAYS or receives_hearing(me, self.hearing.state)

    def sees_events(self, viewer: Viewer) -> bool:
        """The event log (who did what when): the court only."""
        return viewer.officer


def officer_viewer(p: Participant) -> bool:
    """Shortcut for hot paths that only need 'is this socket the court's'."""
    return Viewer.of(p).officer


def _without_path(f: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in f.items() if k != "path"}
    path = f.get("path")
    if isinstance(path, str) and path:
        out["name"] = path.replace("\\", "/").rsplit("/", 1)[-1]
    return out


__all__ = [
    "COURT_OFFICERS",
    "MAIN",
    "SCREENED",
    "Audience",
    "Disclosure",
    "Viewer",
    "is_officer",
    "on_air_intervals",
    "role_label",
    "witness_windows",
]


# The record lifecycle's lists that name people, and the fields that name them besides `name`.
_NAMING_LISTS = ("statements", "decisions", "undecided", "unconfirmed", "signatures", "signatures_pending")
_NAMING_FIELDS = ("statement", "signature", "image_sha256")


def _screened_entry(entry: Any, labels: dict[str, str]) -> Any:
    if not isinstance(entry, dict) or entry.get("participant") not in labels:
        return entry
    shown = {k: v for k, v in entry.items() if k not in _NAMING_FIELDS}
    shown["name"] = labels[entry["participant"]]
    return shown
