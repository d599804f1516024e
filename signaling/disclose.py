"""The disclosure rule (`courtroom.disclosure`) fed from the court's store: what the HTTP
handlers, the socket fan-out and the recorder ask before anything leaves the pod."""

from __future__ import annotations

from courtroom.court import Court
from courtroom.disclosure import Disclosure
from courtroom.hearing import Hearing
from courtroom.participants import Participant


async def disclosure_for(
    court: Court, hearing_id: str, hearing: Hearing | None = None, people: list[Participant] | None = None
) -> Disclosure:
    """The rule for one hearing now: its participants and events (a witness's record depends
    on when it was called; the public's on when the judge went on and off air)."""
    hearing = hearing or await court.get_hearing(hearing_id)
    people = people if people is not None else await court.participants(hearing_id)
    events = await court.events(hearing_id)
    return Disclosure(hearing, people, events, court.hearing_time(hearing), court.config.broadcast_delay,
                      court.config.language)
