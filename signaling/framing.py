"""Video frames out of RTP packets, released the moment they are complete.

aiortc releases a frame when the first packet of the next one arrives (one frame interval
late). A frame is complete when every packet from its first to the one with the marker bit
is here, so that is when it goes. A gap that is not filled (by reordering or a NACK'ed
retransmission) within `max_wait` is a loss: the damaged frame is dropped and a keyframe is
asked for (PLI) — aiortc's own loss handling. With `hold_until_keyframe` the frames after a
loss are held back too until the keyframe comes (a frozen picture instead of a smeared one;
it costs up to the sender's keyframe delay, so the pod does not use it). Pure logic: times
are passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .sequence import Unwrapper

H264_IDR = 5
H264_FRAME_OPENERS = (6, 7, 8, 9)  # SEI, SPS, PPS, access unit delimiter


@dataclass(frozen=True)
class EncodedFrame:
    data: bytes
    timestamp: int
    keyframe: bool


@dataclass(frozen=True)
class _Packet:
    timestamp: int
    marker: bool
    data: bytes


@dataclass
class FramingCounters:
    packets: int = 0
    duplicates: int = 0
    late: int = 0
    frames: int = 0
    frames_lost: int = 0  # damaged by a gap, or undecodable while a keyframe was awaited
    keyframe_requests: int = 0


def h264_is_keyframe(data: bytes) -> bool:
    """An access unit (Annex B, as aiortc depayloads it) that starts a decodable picture:
    it begins at a start code with SPS/PPS/SEI/AUD or the first slice of an IDR picture,
    and holds an IDR slice."""
    if not (data.startswith(b"\x00\x00\x01") or data.startswith(b"\x00\x00\x00\x01")):
        return False
    first = True
    i = data.find(b"\x00\x00\x01")
    idr = False
    while i != -1 and i + 4 < len(data):
        nal = data[i + 3] & 0x1F
        if first:
            # first_mb_in_slice is ue(v): 0 is the single bit 1
            if not (nal in H264_FRAME_OPENERS or (nal == H264_IDR and data[i + 4] & 0x80)):
                return False
            first = False
        if nal == H264_IDR:
            idr = True
            break
        i = data.find(b"\x00\x00\x01", i + 3)
    return idr


class FrameAssembler:
    def __init__(
        self,
        is_keyframe: Callable[[bytes], bool] | None = None,
        *,
        hold_until_keyframe: bool = False,
        max_wait: float = 0.3,  # NACK round trips on a busy link; a loss costs at most this much
        capacity: int = 512,
        pli_interval: float = 0.5,
    ) -> None:
        self.is_keyframe = is_keyframe
        self.hold = hold_until_keyframe and is_keyframe is not None
        self.max_wait = max_wait
        self.capacity = capacity
        self.pli_interval = pli_interval
        self.counters = FramingCounters()
        self.waiting_for_keyframe = self.hold
        self._packets: dict[int, _Packet] = {}
        self._seq = Unwrapper(16)
        self._head: int | None = None  # first packet of the next frame
        self._gap: tuple[int, float] | None = None  # (missing seq, since)
        self._last_pli: float | None = None  # the first wait is counted from the first packet

    def add(self, seq: int, timestamp: int, marker: bool, data: bytes, now: float) -> tuple[bool, list[EncodedFrame]]:
        """Store a packet; return (ask for a keyframe?, the frames now complete, in order)."""
        ext = self._seq.extend(seq)
        if self._head is not None and abs(ext - self._head) > 8 * self.capacity:
            self._packets.clear()  # the sender restarted its numbering
            self._seq.reset()
            ext = self._seq.extend(seq)
            self._head = None
        if ext in self._packets:
            self.counters.duplicates += 1
            return False, []
        if self._head is not None and ext < self._head:
            self.counters.late += 1
            return False, []
        if self._head is None:
            self._head = ext
        self.counters.packets += 1
        self._packets[ext] = _Packet(timestamp, marker, data)
        frames = self._release()
        pli = False
        if self._gap is not None:
            missing, since = self._gap
            if now - since > self.max_wait or len(self._packets) > self.capacity:
                self._skip_damaged(missing)
                frames += self._release()
                pli = True
        if self._last_pli is None:
            self._last_pli = now
        if self.waiting_for_keyframe and now - self._last_pli >= self.pli_interval:
            pli = True
        if pli:
            self._last_pli = now
            self.counters.keyframe_requests += 1
        if self._gap is not None and self._gap[0] != self._first_missing():
            self._gap = None
        if self._gap is None and (missing_now := self._first_missing()) is not None:
            self._gap = (missing_now, now)
        return pli, frames

    def _first_missing(self) -> int | None:
        """The first missing packet at or after the head, if later packets are here."""
        if self._head is None or not self._packets:
            return None
        s = self._head
        while s in self._packets:
            s += 1
        return s if any(k > s for k in self._packets) else None

    def _release(self) -> list[EncodedFrame]:
        out: list[EncodedFrame] = []
        while self._head is not None and self._head in self._packets:
            start = self._head
            ts = self._packets[start].timestamp
            s = start
            end: int | None = None
            while s in self._packets:
                p = self._packets[s]
                if p.timestamp != ts:
                    end = s - 1  # the previous frame had no marker: its successor says it ended
                    break
                if p.marker:
                    end = s
                    break
                s += 1
            if end is None:
                break
            data = b"".join(self._packets.pop(k).data for k in range(start, end + 1))
            self._head = end + 1
            frame = self._deliverable(data, ts)
            if frame is not None:
                out.append(frame)
        return out

    def _deliverable(self, data: bytes, timestamp: int) -> EncodedFrame | None:
        keyframe = self.is_keyframe(data) if self.is_keyframe is not None else False
        if self.waiting_for_keyframe and not keyframe:
            self.counters.frames_lost += 1
            return None
        if keyframe:
            self.waiting_for_keyframe = False
        self.counters.frames += 1
        return EncodedFrame(data, timestamp, keyframe)

    def _skip_damaged(self, missing: int) -> None:
        """Drop the frame the gap is in; the head moves to the first packet of a later frame."""
        before = self._packets.get(missing - 1)
        damaged_ts = before.timestamp if before is not None else None
        new_head: int | None = None
        for s in sorted(k for k in self._packets if k > missing):
            p = self._packets[s]
            if damaged_ts is None:
                damaged_ts = p.timestamp  # unknown start: count it as part of the damaged frame
                continue
            if p.timestamp != damaged_ts:
                new_head = s
                break
        if new_head is None:
            new_head = max(self._packets) + 1
        for s in [k for k in self._packets if k < new_head]:
            del self._packets[s]
        self._head = new_head
        self._gap = None
        self.counters.frames_lost += 1
        if self.hold:
            self.waiting_for_keyframe = True
