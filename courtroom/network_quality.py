"""How good a participant's link is: the one table the console's mark, the participant's own
warning and /metrics use.

The figures come from RTCP (what each side reports about what it receives): round-trip time,
jitter and the share of packets lost, on the worse of the two directions. The thresholds are
those of common conferencing guidance (ITU-T G.114 puts one-way delay under 150 ms as good;
a few percent of loss is audible; concealment copes with some tens of milliseconds of jitter).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Mark(StrEnum):
    GOOD = "good"
    WEAK = "weak"
    BAD = "bad"
    UNKNOWN = "unknown"  # no report yet


@dataclass(frozen=True)
class Limits:
    rtt_ms: float
    jitter_ms: float
    loss: float  # a fraction, 0..1


# At or above WEAK's limits a link is weak; at or above BAD's, bad.
WEAK = Limits(rtt_ms=300.0, jitter_ms=30.0, loss=0.02)
BAD = Limits(rtt_ms=700.0, jitter_ms=80.0, loss=0.08)


@dataclass(frozen=True)
class LinkFigures:
    rtt_ms: float | None
    jitter_ms: float | None
    uplink_loss: float | None  # what the participant sends that never arrived
    downlink_loss: float | None  # what we send that never reached the participant
    send_kbps: float | None  # we send to the participant
    receive_kbps: float | None  # we receive from the participant

    @property
    def loss(self) -> float | None:
        known = [x for x in (self.uplink_loss, self.downlink_loss) if x is not None]
        return max(known) if known else None


def _over(figures: LinkFigures, limits: Limits) -> bool:
    loss = figures.loss
    return ((figures.rtt_ms is not None and figures.rtt_ms >= limits.rtt_ms)
            or (figures.jitter_ms is not None and figures.jitter_ms >= limits.jitter_ms)
            or (loss is not None and loss >= limits.loss))


def classify(figures: LinkFigures) -> Mark:
    if figures.rtt_ms is None and figures.jitter_ms is None and figures.loss is None:
        return Mark.UNKNOWN
    if _over(figures, BAD):
        return Mark.BAD
    if _over(figures, WEAK):
        return Mark.WEAK
    return Mark.GOOD
