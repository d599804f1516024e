"""Each participant's network, measured from aiortc's RTCP statistics every couple of seconds:
round-trip time, jitter, loss each way and the rates, classified by
courtroom/network_quality.py. The figures go to `/api/hearings/{id}/stats` (`network`), to
`/metrics`, to the court officers' sockets (`network`, for the console's marks) and, when its
link is weak or bad, to the participant's own socket (`network` with `you`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from courtroom.network_quality import LinkFigures, Mark, classify
from courtroom.roles import Role

from .hub import Hub, Session

log = logging.getLogger("courtroom.network")

INTERVAL = 2.0
CLOCK_RATES = {"audio": 48000, "video": 90000}  # RTP timestamp units of jitter
OFFICERS = (Role.JUDGE, Role.CLERK, Role.MEDIATOR)


@dataclass
class _Counters:
    at: float
    bytes_sent: float
    bytes_received: float
    up_received: float
    up_lost: float
    down_sent: float
    down_lost: float


@dataclass
class LinkState:
    figures: LinkFigures
    mark: Mark
    at: float

    def to_dict(self) -> dict[str, Any]:
        d = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self.figures).items()}
        d["loss"] = None if self.figures.loss is None else round(self.figures.loss, 4)
        d["mark"] = self.mark.value
        return d


@dataclass
class _Peer:
    last: _Counters | None = None
    state: LinkState | None = None
    told: Mark = Mark.UNKNOWN  # what the participant's own page was last told


async def _sample(pc: Any) -> tuple[_Counters, float | None, float | None]:
    """Totals since the peer began, and the current RTT and jitter (ms)."""
    report = await pc.getStats()
    c = _Counters(time.monotonic(), 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    rtts: list[float] = []
    jitters: list[float] = []
    for stat in report.values():
        kind = getattr(stat, "type", "")
        rate = CLOCK_RATES.get(getattr(stat, "kind", ""), 90000)
        if kind == "outbound-rtp":
            c.bytes_sent += stat.bytesSent
            c.down_sent += stat.packetsSent
        elif kind == "inbound-rtp":  # what the participant sends us
            c.up_received += stat.packetsReceived
            c.up_lost += max(0, stat.packetsLost)
            if stat.jitter is not None:
                jitters.append(stat.jitter * 1000.0 / rate)
        elif kind == "remote-inbound-rtp":  # the participant's receiver reports
            c.down_lost += max(0, stat.packetsLost)
            if stat.roundTripTime is not None:
                rtts.append(stat.roundTripTime * 1000.0)
            if stat.jitter is not None:
                jitters.append(stat.jitter * 1000.0 / rate)
        elif kind == "transport" and hasattr(stat, "bytesReceived"):
            c.bytes_received += stat.bytesReceived
    return c, (max(rtts) if rtts else None), (max(jitters) if jitters else None)


def _fraction(lost: float, total: float) -> float | None:
    return None if total <= 0 else max(0.0, min(1.0, lost / total))


class NetworkMonitor:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.peers: dict[tuple[str, str], _Peer] = {}  # (hearing, participant)
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run(), name="network-monitor")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    def hearing(self, hearing_id: str) -> dict[str, dict[str, Any]]:
        return {pid: p.state.to_dict() for (hid, pid), p in self.peers.items() if hid == hearing_id and p.state}

    def gauges(self) -> list[tuple[str, str, dict[str, str], float]]:
        out: list[tuple[str, str, dict[str, str], float]] = []
        for (hid, pid), p in self.peers.items():
            if p.state is None:
                continue
            f, labels = p.state.figures, {"hearing": hid, "participant": pid}
            for name, text, value in (
                ("courtroom_peer_rtt_seconds", "round-trip time to the participant (RTCP)", None if f.rtt_ms is None else f.rtt_ms / 1000),
                ("courtroom_peer_jitter_seconds", "interarrival jitter, worse direction (RTCP)", None if f.jitter_ms is None else f.jitter_ms / 1000),
                ("courtroom_peer_uplink_loss_ratio", "share of the participant's packets lost on the way in", f.uplink_loss),
                ("courtroom_peer_downlink_loss_ratio", "share of our packets lost on the way to the participant", f.downlink_loss),
                ("courtroom_peer_send_kbps", "rate sent to the participant", f.send_kbps),
                ("courtroom_peer_receive_kbps", "rate received from the participant", f.receive_kbps),
            ):
                if value is not None:
                    out.append((name, text, labels, float(value)))
            out.append(("courtroom_peer_link_quality", "0 good, 1 weak, 2 bad, -1 unknown", labels,
                        {Mark.GOOD: 0.0, Mark.WEAK: 1.0, Mark.BAD: 2.0}.get(p.state.mark, -1.0)))
        return out

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                await self.measure()
            except Exception:  # noqa: BLE001 - figures are advisory; the hearing goes on
                log.exception("measuring the network failed")

    async def measure(self) -> None:
        seen: set[tuple[str, str]] = set()
        for hearing_id, sessions in list(self.hub.sessions.items()):
            changed = False
            for session in list(sessions.values()):
                pc = getattr(session.peer, "pc", None)
                if pc is None:
                    continue
                key = (hearing_id, session.id)
                seen.add(key)
                peer = self.peers.setdefault(key, _Peer())
                counters, rtt, jitter = await _sample(pc)
                last, peer.last = peer.last, counters
                if last is None or counters.at <= last.at:
                    continue
                span = counters.at - last.at
                figures = LinkFigures(
                    rtt_ms=rtt,
                    jitter_ms=jitter,
                    uplink_loss=_fraction(counters.up_lost - last.up_lost,
                                          (counters.up_received - last.up_received) + (counters.up_lost - last.up_lost)),
                    downlink_loss=_fraction(counters.down_lost - last.down_lost, counters.down_sent - last.down_sent),
                    send_kbps=round((counters.bytes_sent - last.bytes_sent) * 8 / 1000 / span, 1),
                    receive_kbps=round((counters.bytes_received - last.bytes_received) * 8 / 1000 / span, 1),
                )
                peer.state = LinkState(figures, classify(figures), time.time())
                changed = True
                self._tell_participant(session, peer)
            if changed:
                self._tell_officers(hearing_id, sessions)
        for key in [k for k in self.peers if k not in seen]:
            del self.peers[key]

    def _tell_participant(self, session: Session, peer: _Peer) -> None:
        assert peer.state is not None
        mark = peer.state.mark
        # While weak or bad, every measurement; once more when it is good again.
        if mark in (Mark.WEAK, Mark.BAD) or peer.told in (Mark.WEAK, Mark.BAD):
            session.send({"type": "network", "you": peer.state.to_dict()})
        peer.told = mark

    def _tell_officers(self, hearing_id: str, sessions: dict[str, Session]) -> None:
        message = {"type": "network", "participants": self.hearing(hearing_id)}
        for session in list(sessions.values()):
            if session.participant.role in OFFICERS:
                session.send(message)
