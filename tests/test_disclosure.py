"""The disclosure rule as a table: for each viewer, what it receives of one hearing."""

from __future__ import annotations

import itertools

import pytest

from courtroom.disclosure import (
    COURT_OFFICERS,
    MAIN,
    SCREENED,
    Disclosure,
    Viewer,
    on_air_intervals,
    role_label,
    witness_windows,
)
from courtroom.events import Event
from courtroom.hearing import Hearing
from courtroom.participants import Participant, ParticipantState, WitnessState, receives_hearing
from courtroom.procedure import HearingState, ProcedureKind
from courtroom.roles import Role
from courtroom.transcript import Segment

R, PS, WS = Role, ParticipantState, WitnessState
H = "h1"


def person(pid: str, role: Role, name: str, state: ParticipantState = PS.ADMITTED, **kw: object) -> Participant:
    return Participant(pid, H, name, role, state=state, **kw)  # type: ignore[arg-type]


PEOPLE = [
    person("J", R.JUDGE, "王法官"),
    person("C", R.CLERK, "李书记"),
    person("P", R.PLAINTIFF, "张三", side="plaintiff"),
    person("D", R.DEFENDANT, "李四", side="defendant"),
    person("W", R.WITNESS, "赵证人", witness_state=WS.TESTIFYING),
    # Protected, screened from the defendant; testified 125..200, then excused.
    person("V", R.WITNESS, "钱保护", witness_state=WS.EXCUSED, protected=True, screened_from=["D"]),
    person("U", R.WITNESS, "孙未传", state=PS.WAITING, witness_state=WS.ISOLATED),
    person("O", R.OBSERVER, "周旁听", state=PS.WAITING),
]
BY_ID = {p.id: p for p in PEOPLE}


def ev(kind: str, t: float, subject: str | None = None, **data: object) -> Event:
    return Event(H, kind, "J", subject, dict(data), hearing_time=t)


EVENTS = [
    ev("hearing.open", 0),
    ev("hearing.start", 10),
    ev("hearing.broadcast_on", 40),
    ev("participant.call_witness", 120, "W"),
    ev("participant.call_witness", 125, "V"),
    ev("participant.excuse_witness", 200, "V"),
    # The judge pressed off at 260 with a 30 s delay: the public loses everything from 230.
    ev("hearing.broadcast_off", 260, cut_from=230.0),
]


def seg(sid: int, pid: str, start: float, text: str) -> Segment:
    p = BY_ID[pid]
    return Segment(sid, H, pid, p.role, p.name, text, text, start, start + 4)


SEGMENTS = [seg(1, "P", 50, "plaintiff before"), seg(2, "V", 130, "protected speaks"), seg(3, "D", 250, "after cut")]


def hearing(state: HearingState = HearingState.IN_SESSION) -> Hearing:
    h = Hearing(H, "(2026)京0491民初1234号", "t", ProcedureKind.SIMPLE, public=True, state=state,
                opened_at=1.0, broadcast=False, ever_broadcast=True)
    h.extra = {"archive_parts": [{"path": "/srv/data/recordings/h1/archive.mp4", "started_at": 10}],
               "record_files": [{"kind": "archive", "path": "/srv/data/recordings/h1/archive.mp4", "sha256": "ab", "size": 1}]}
    return h


def rule(state: HearingState = HearingState.IN_SESSION) -> Disclosure:
    return Disclosure(hearing(state), PEOPLE, EVENTS, now=300.0, delay=30.0)


VIEWERS = {
    "court": Viewer.court(),
    "public": Viewer.public(),
    **{pid: Viewer.of(p) for pid, p in BY_ID.items()},
}
LABEL_V = role_label(BY_ID["V"])
ALL_NAMES = {p.id: p.name for p in PEOPLE}
OFFICERS_ONLY = {"J": "王法官", "C": "李书记"}

# viewer -> (picture, live media, names in the participant list (None: no list), transcript
#            segment ids with the name each shows, sees exhibits, sees events)
TABLE: dict[str, tuple[str, bool, dict[str, str] | None, dict[int, str], bool, bool]] = {
    "court": (MAIN, True, ALL_NAMES, {1: "张三", 2: "钱保护", 3: "李四"}, True, True),
    "public": (SCREENED, False, None, {1: "原告", 2: "证人"}, False, False),
    "J": (MAIN, True, ALL_NAMES, {1: "张三", 2: "钱保护", 3: "李四"}, True, True),
    "C": (MAIN, True, ALL_NAMES, {1: "张三", 2: "钱保护", 3: "李四"}, True, True),
    "P": (MAIN, True, ALL_NAMES, {1: "张三", 2: "钱保护", 3: "李四"}, True, False),
    # Screened from V: the mosaic, a role label in the list and on V's words.
    "D": (SCREENED, True, {**ALL_NAMES, "V": LABEL_V}, {1: "张三", 2: LABEL_V, 3: "李四"}, True, False),
    # Called at 120: only what was said since.
    "W": (MAIN, True, ALL_NAMES, {2: "钱保护", 3: "李四"}, True, False),
    # Excused: no media, a list of the bench and itself, no record until the hearing closes.
    "V": (MAIN, False, {**OFFICERS_ONLY, "V": "钱保护"}, {}, False, False),
    "U": (MAIN, False, {**OFFICERS_ONLY, "U": "孙未传"}, {}, False, False),
    "O": (MAIN, False, {**OFFICERS_ONLY, "O": "周旁听"}, {}, False, False),
}


@pytest.mark.parametrize("who", list(TABLE))
def test_the_table(who: str) -> None:
    d, viewer = rule(), VIEWERS[who]
    picture, media, names, segments, exhibits, events = TABLE[who]
    assert d.picture(viewer) == picture
    assert d.receives_media(viewer) is media
    listed = d.participants(viewer)
    if names is None:
        assert listed == []
    else:
        assert {e["id"]: e["name"] for e in listed} == names
        for e in listed:
            # Who is screened from whom is the court's business (and one's own).
            assert ("screened_from" in e) == (viewer.officer or e["id"] == viewer.id), (who, e["id"])
    got = d.segments(viewer, SEGMENTS)
    shown = {m["id"]: (m.get("name") or m["label"]) for m in got}
    assert shown == segments
    if who == "public":
        assert all("name" not in m and "speaker" not in m for m in got)
    assert d.sees_exhibits(viewer) is exhibits
    assert d.sees_events(viewer) is events
    assert d.disguised(viewer) == ({"V"} if picture == SCREENED else set())


@pytest.mark.parametrize("who", list(TABLE))
def test_no_server_paths_reach_participants_or_public(who: str) -> None:
    d, viewer = rule(), VIEWERS[who]
    extra = d.extra(viewer)
    if who == "court":
        assert extra["archive_parts"][0]["path"].startswith("/srv")
        return
    assert "archive_parts" not in extra
    assert extra["record_files"] == [{"kind": "archive", "sha256": "ab", "size": 1, "name": "archive.mp4"}]
    assert "/srv" not in repr(d.hearing_view(viewer, {"id": H, "extra": hearing().extra}))


def test_after_closing_parties_and_their_witness_read_the_record() -> None:
    d = rule(HearingState.CLOSED)
    d.hearing.closed_at = 300.0
    assert {m["id"] for m in d.segments(VIEWERS["P"], SEGMENTS)} == {1, 2, 3}
    assert {m["id"]: m["name"] for m in d.segments(VIEWERS["D"], SEGMENTS)}[2] == LABEL_V
    # A witness reads only its own testimony's stretch; one never called reads nothing.
    assert {m["id"] for m in d.segments(VIEWERS["V"], SEGMENTS)} == {2}
    assert d.segments(VIEWERS["U"], SEGMENTS) == []
    assert d.segments(VIEWERS["O"], SEGMENTS) == []
    # The replay: the public at the close, without delay.
    replay = Disclosure(d.hearing, PEOPLE, EVENTS, now=300.0, delay=0.0)
    assert {m["id"] for m in replay.segments(Viewer.public(), SEGMENTS)} == {1, 2}


def test_public_captions_wait_for_the_delay() -> None:
    early = Disclosure(hearing(), PEOPLE, EVENTS[:3], now=70.0, delay=30.0)
    assert early.segments(Viewer.public(), SEGMENTS) == []  # 50..54 leaves the delay at 84
    later = Disclosure(hearing(), PEOPLE, EVENTS[:3], now=85.0, delay=30.0)
    assert [m["id"] for m in later.segments(Viewer.public(), SEGMENTS)] == [1]


def test_a_removed_participant_sees_nothing() -> None:
    gone = person("P", R.PLAINTIFF, "张三", state=PS.REMOVED, side="plaintiff")
    d = Disclosure(hearing(), [gone if p.id == "P" else p for p in PEOPLE], EVENTS, now=300.0)
    assert d.segments(Viewer.of(gone), SEGMENTS) == []
    assert not d.receives_media(Viewer.of(gone))


def test_the_dump_button_cuts_at_cut_from() -> None:
    assert on_air_intervals(EVENTS, 300.0) == [(40, 230.0)]
    # Without a cut_from (an old event) the stretch ends at the event itself.
    old = [*EVENTS[:-1], ev("hearing.broadcast_off", 260)]
    assert on_air_intervals(old, 300.0) == [(40, 260)]
    # A cut reaching back before broadcast_on leaves nothing of that stretch.
    short = [ev("hearing.start", 10), ev("hearing.broadcast_on", 40), ev("hearing.broadcast_off", 50, cut_from=20.0)]
    assert on_air_intervals(short, 60.0) == []
    # Recess and resume end and begin stretches.
    recess = [ev("hearing.start", 0), ev("hearing.broadcast_on", 5), ev("hearing.recess", 20), ev("hearing.resume", 30)]
    assert on_air_intervals(recess, 40.0) == [(5, 20), (30, 40.0)]


def test_witness_windows_follow_calls_and_recalls() -> None:
    events = [ev("participant.call_witness", 10, "W"), ev("participant.excuse_witness", 20, "W"),
              ev("participant.call_witness", 30, "W"), ev("participant.call_witness", 35, "X")]
    assert witness_windows(events, "W", 50.0) == [(10, 20), (30, 50.0)]
    assert witness_windows(events, "Y", 50.0) == []


def test_media_agrees_with_the_participant_lifecycle() -> None:
    """For every role, state and witness state, a participant's live media is exactly the
    lifecycle's `receives_hearing`; officers always get the events, nobody else does."""
    for role, state, wstate, hstate in itertools.product(R, PS, [None, *WS], HearingState):
        if (role is R.WITNESS) != (wstate is not None):
            continue
        p = person("X", role, "x", state=state, witness_state=wstate)
        d = Disclosure(hearing(hstate), [p], [], now=10.0)
        assert d.receives_media(Viewer.of(p)) is receives_hearing(p, hstate)
        assert d.sees_events(Viewer.of(p)) is (role in COURT_OFFICERS)


def test_the_record_lifecycle_names_a_screened_witness_by_role_only() -> None:
    """`GET …/record` and the JSON export carry who confirmed, objected and is pending: to the
    party the witness is screened from, a role label and no signed statement (it names them)."""
    decision = {"participant": "V", "name": "钱保护", "kind": "confirm", "statement": "钱保护 确认 …",
                "signature": "c2ln", "image_sha256": "ab", "text": ""}
    status = {"decisions": [decision, {"participant": "P", "name": "张三", "statement": "张三 确认 …"}],
              "statements": [decision], "undecided": [{"participant": "V", "name": "钱保护", "role": "witness"}],
              "unconfirmed": [], "signatures": [], "signatures_pending": [{"participant": "J", "name": "王法官"}],
              "version": "abc"}
    closed = rule(HearingState.CLOSED)
    screened = closed.record_status(Viewer.of(BY_ID["D"]), status)
    assert screened["decisions"][0] == {"participant": "V", "name": LABEL_V, "kind": "confirm", "text": ""}
    assert screened["decisions"][1] == status["decisions"][1]  # others keep their names
    assert screened["statements"][0]["name"] == LABEL_V and "statement" not in screened["statements"][0]
    assert screened["undecided"] == [{"participant": "V", "name": LABEL_V, "role": "witness"}]
    assert "钱保护" not in repr(screened)
    for who in ("court", "J", "P"):  # the court and those not screened read it whole
        assert closed.record_status(VIEWERS[who], status) == status
    assert status["decisions"][0]["name"] == "钱保护"  # the court's copy is untouched


def test_the_role_label_is_in_the_court_s_language() -> None:
    """A Chinese court shows no Latin letters for a hidden name; an English court no Chinese."""
    zh = Disclosure(hearing(), PEOPLE, EVENTS, now=300.0, delay=30.0)
    en = Disclosure(hearing(), PEOPLE, EVENTS, now=300.0, delay=30.0, language="en")
    viewer = Viewer.of(BY_ID["D"])
    assert {p.id: p.name for p in zh.record_people(viewer)}["V"] == "证人"
    assert {p.id: p.name for p in en.record_people(viewer)}["V"] == "Witness"
    assert zh.segment(viewer, SEGMENTS[1])["name"] == "证人"
    assert en.segment(viewer, SEGMENTS[1])["name"] == "Witness"
