"""An adaptive jitter buffer for one audio uplink: as deep as that link's jitter, no deeper.

aiortc holds every audio packet until four more have arrived (80 ms, whatever the network).
Here the playout side pulls one 20 ms frame per tick and the buffer decides what it gets:

- the next packet when it is there;
- a concealment (`FEC` from the packet after a missing one, else `PLC`) when a packet is
  missing and the packets behind it show it is lost rather than late;
- a `PLC` frame without advancing when the buffer ran dry (the delay grows by a frame) or
  is shallower than the target; a packet dropped when it has been deeper than the target for
  a second (the delay shrinks by a frame), and the excess dropped at once when it is far
  deeper (a burst after a stall).

The target depth, in packets waiting at a tick, follows the measured jitter: the 95th
percentile of the inter-arrival variation |(arrival - previous arrival) - (timestamp step)|
over the last five seconds of packets: 1 on a clean link, more under jitter, back to 1 when
the jitter goes. (Consecutive variation rather than the spread of transit times: a single
stall of the sender's or our own loop, a burst, does not make the buffer deep for seconds.) Pure logic (no clock, no codec): times are passed in, so it is tested by
simulation.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from .sequence import Unwrapper


class Action(Enum):
    PACKET = "packet"  # decode `packet`
    FEC = "fec"  # decode the forward error correction carried by `packet` (the one after the lost one)
    PLC = "plc"  # conceal: the decoder extrapolates
    SILENCE = "silence"  # nothing to play (not started, or concealed for too long)


@dataclass(frozen=True)
class AudioPacket:
    seq: int  # extended: never wraps
    timestamp: int
    payload: bytes
    arrival: float


@dataclass(frozen=True)
class Playout:
    action: Action
    packet: AudioPacket | None = None


@dataclass
class JitterCounters:
    received: int = 0
    duplicates: int = 0
    late: int = 0  # arrived after its turn was concealed
    played: int = 0
    concealed_lost: int = 0  # FEC/PLC in place of a lost packet
    fec: int = 0
    plc: int = 0  # every PLC frame, for loss or for growth
    underruns: int = 0
    dropped: int = 0  # dropped to shrink the delay or on overflow
    resets: int = 0


class AdaptiveJitterBuffer:
    def __init__(
        self,
        *,
        clock_rate: int = 48000,
        frame_seconds: float = 0.02,
        window: int = 250,
        max_target: int = 10,
        capacity: int = 50,
        grow_after: int = 3,
        shrink_after: int = 50,
        max_conceal: int = 5,
    ) -> None:
        self.clock_rate = clock_rate
        self.frame_seconds = frame_seconds
        self.max_target = max_target
        self.capacity = capacity
        self.grow_after = grow_after
        self.shrink_after = shrink_after
        self.max_conceal = max_conceal
        self.counters = JitterCounters()
        self.target = 1
        self.depth = 0  # packets waiting at the last tick, before it took one
        self._packets: dict[int, AudioPacket] = {}
        self._seq = Unwrapper(16)
        self._ts = Unwrapper(32)
        self._variation: deque[float] = deque(maxlen=window)
        self._last_transit: float | None = None
        self._next: int | None = None
        self._shallow = 0
        self._deep = 0
        self._concealed_run = 0
        self._playing = False

    # arrival side
    def push(self, seq: int, timestamp: int, payload: bytes, arrival: float) -> bool:
        """Store a packet; False if it is a duplicate or too late to be played."""
        ext = self._seq.extend(seq)
        if self._next is not None and abs(ext - self._next) > 8 * self.capacity:
            self._reset()  # the sender restarted its numbering
            ext = self._seq.extend(seq)
        if ext in self._packets:
            self.counters.duplicates += 1
            return False
        if self._next is not None and ext < self._next:
            self.counters.late += 1
            return False
        self.counters.received += 1
        ts = self._ts.extend(timestamp)
        transit = arrival - ts / self.clock_rate
        if self._last_transit is not None:
            self._variation.append(abs(transit - self._last_transit))
        self._last_transit = transit
        self._retarget()
        self._packets[ext] = AudioPacket(ext, timestamp, payload, arrival)
        if len(self._packets) > self.capacity:
            oldest = min(self._packets)
            del self._packets[oldest]
            self.counters.dropped += 1
            if self._next is not None and oldest >= self._next:
                self._next = oldest + 1
        return True

    @property
    def jitter_seconds(self) -> float:
        """The 95th percentile of the inter-arrival variation in the window."""
        if not self._variation:
            return 0.0
        ordered = sorted(self._variation)
        return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]

    def _retarget(self) -> None:
        self.target = max(1, min(self.max_target, 1 + int(self.jitter_seconds / self.frame_seconds)))

    def _reset(self) -> None:
        self._packets.clear()
        self._seq.reset()
        self._ts.reset()
        self._variation.clear()
        self._last_transit = None
        self._next = None
        self._playing = False
        self.counters.resets += 1

    # playout side: one call per frame interval
    def pop(self, catching_up: bool = False) -> Playout:
        """`catching_up`: the player runs its missed ticks back to back after its own loop
        stalled; the backlog is about to be played, so it is neither shrunk nor grown."""
        self.depth = len(self._packets)
        if self._next is None:
            if not self._packets or len(self._packets) < self.target:
                return Playout(Action.SILENCE)
            self._next = min(self._packets)
        if not self._packets:
            return self._underrun()
        if self.depth > 2 * self.target + 2 and not catching_up:
            self._flush(self.depth - self.target - 1)
        packet = self._packets.get(self._next)
        if packet is None:
            if self.depth < self.target:
                return self._underrun()  # late or lost: wait as long as the target allows
            return self._conceal_lost()
        if not catching_up and self._shallow_for_long():
            return self._conceal()  # grow by one frame: the head stays for the next tick
        if not catching_up and self._deep_for_long() and self._next + 1 in self._packets:
            del self._packets[self._next]
            self._next += 1
            self.counters.dropped += 1
            packet = self._packets[self._next]
        del self._packets[self._next]
        self._next += 1
        self._concealed_run = 0
        self._playing = True
        self.counters.played += 1
        return Playout(Action.PACKET, packet)

    def _flush(self, count: int) -> None:
        """Far too deep (a burst after a stall): drop the oldest at once, the delay must not grow."""
        for _ in range(count):
            del self._packets[min(self._packets)]
            self.counters.dropped += 1
        self._next = min(self._packets)
        self._deep = 0

    def _shallow_for_long(self) -> bool:
        self._shallow = self._shallow + 1 if self.depth < self.target else 0
        if self._shallow >= self.grow_after:
            self._shallow = 0
            return True
        return False

    def _deep_for_long(self) -> bool:
        self._deep = self._deep + 1 if self.depth > self.target else 0
        if self._deep >= self.shrink_after:
            self._deep = 0
            return True
        return False

    def _conceal_lost(self) -> Playout:
        assert self._next is not None
        after = self._packets.get(self._next + 1)
        self._next += 1
        self.counters.concealed_lost += 1
        if after is not None:
            self._concealed_run = 0
            self.counters.fec += 1
            return Playout(Action.FEC, after)
        return self._conceal()

    def _underrun(self) -> Playout:
        self.counters.underruns += 1
        return self._conceal()

    def _conceal(self) -> Playout:
        if not self._playing or self._concealed_run >= self.max_conceal:
            return Playout(Action.SILENCE)  # nothing to extrapolate from, or it has gone on too long
        self._concealed_run += 1
        self.counters.plc += 1
        return Playout(Action.PLC)

    @property
    def has_packets(self) -> bool:
        return bool(self._packets)

    @property
    def depth_ms(self) -> float:
        return self.depth * self.frame_seconds * 1000

