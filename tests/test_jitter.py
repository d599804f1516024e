"""The receive buffers by simulation: packets and ticks on a made-up clock, no network."""

from __future__ import annotations

import random

from signaling.framing import FrameAssembler, h264_is_keyframe
from signaling.jitter import Action, AdaptiveJitterBuffer
from signaling.sequence import Unwrapper

FRAME = 0.02
SAMPLES = 960


def run_audio(
    buf: AdaptiveJitterBuffer,
    arrivals: list[tuple[float, int]],
    *,
    ticks: int,
    first_seq: int = 0,
    phase: float = 0.011,
) -> list[tuple[float, Action, int | None]]:
    """Feed (arrival time, packet index) events and one pop per 20 ms tick, in time order.
    Returns (tick time, action, packet index played) for each tick."""
    events = sorted(arrivals)
    out: list[tuple[float, Action, int | None]] = []
    i = 0
    for k in range(ticks):
        t = phase + k * FRAME
        while i < len(events) and events[i][0] <= t:
            arrival, n = events[i]
            buf.push((first_seq + n) % 65536, (n * SAMPLES) % (1 << 32), bytes([n % 256]), arrival)
            i += 1
        play = buf.pop()
        index = None
        if play.packet is not None:
            index = play.packet.seq - first_seq
        out.append((t, play.action, index))
    return out






def steady(n: int, start: float = 0.0, jitter: float = 0.0, seed: int = 1) -> list[tuple[float, int]]:
    rng = random.Random(seed)
    return [(start + k * FRAME + (rng.uniform(0, jitter) if jitter else 0.0), k) for k in range(n)]


def played(out: list[tuple[float, Action, int | None]]) -> list[int]:
    return [idx for _, action, idx in out if action is Action.PACKET and idx is not None]


def test_sequence_numbers_unwrap_both_ways() -> None:
    u = Unwrapper(16)
    assert [u.extend(s) for s in (65534, 65535, 0, 1, 65535, 2)] == [65534, 65535, 65536, 65537, 65535, 65538]


def test_clean_link_plays_every_packet_at_depth_one() -> None:
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, steady(200), ticks=200)
    assert buf.target == 1
    assert played(out) == list(range(199)) or played(out) == list(range(200))
    # each packet waits for the next tick only: the tick after its arrival plays it
    for t, action, idx in out[5:]:
        assert action is Action.PACKET and idx is not None
        assert 0 <= t - idx * FRAME < FRAME
    assert buf.counters.plc == 0 and buf.counters.dropped == 0


def test_reordered_packets_play_in_order() -> None:
    arrivals = steady(100)
    # swap neighbours 10/11, 40/41: both arrive before the tick that needs the first
    arrivals[10], arrivals[11] = (arrivals[10][0] + 0.005, 10), (arrivals[10][0] + 0.001, 11)
    arrivals[40], arrivals[41] = (arrivals[40][0] + 0.004, 40), (arrivals[40][0], 41)
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, arrivals, ticks=110)
    order = played(out)
    assert order == sorted(order) and {10, 11, 40, 41} <= set(order)
    assert buf.counters.concealed_lost == 0 and buf.counters.late == 0
    # the early packet looked like jitter: at most a frame of growth, and its shrink, follow
    assert [a for _, a, _ in out[:100]].count(Action.PLC) <= 2 and buf.counters.dropped <= 2


def test_lost_packet_is_concealed_with_fec_from_the_next() -> None:
    arrivals = [a for a in steady(100) if a[1] not in (30, 60, 61)]
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, arrivals, ticks=110)
    actions = [a for _, a, _ in out]
    order = played(out)
    assert order == sorted(order) and not {30, 60, 61} & set(order)
    # waiting for a missing packet grows the delay by a frame; it is shrunk back later
    assert len(order) >= 97 - 3 and buf.counters.dropped <= 3
    assert buf.counters.concealed_lost == 3
    # 30: its successor is here, so FEC from 31; 60: 61 is lost too, so PLC; 61: FEC from 62
    fec_from = [idx for _, a, idx in out if a is Action.FEC]
    assert fec_from == [31, 62]
    assert actions.count(Action.PLC) >= 1
    assert Action.SILENCE not in actions[1:100]


def test_duplicates_are_played_once() -> None:
    arrivals = steady(60) + [(k * FRAME + 0.002, k) for k in (5, 6, 7)] + [(20 * FRAME + 0.1, 20)]
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, arrivals, ticks=70)
    assert played(out) == list(range(60))
    assert buf.counters.duplicates + buf.counters.late == 4


def test_sequence_wrap_around_is_continuous() -> None:
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, steady(100), ticks=105, first_seq=65500)
    assert played(out) == list(range(100))
    assert buf.counters.resets == 0 and buf.counters.concealed_lost == 0


def test_depth_grows_under_jitter_and_shrinks_back() -> None:
    rng = random.Random(7)
    clean1 = steady(150)
    jittery = [(150 * FRAME + k * FRAME + rng.uniform(0, 0.06), 150 + k) for k in range(500)]
    clean2 = [(650 * FRAME + 0.06 + k * FRAME, 650 + k) for k in range(500)]
    buf = AdaptiveJitterBuffer()
    events = sorted(clean1 + jittery + clean2)
    depths: list[tuple[float, int, int]] = []
    i = 0
    for k in range(1150):
        t = 0.011 + k * FRAME
        while i < len(events) and events[i][0] <= t:
            arrival, n = events[i]
            buf.push(n % 65536, n * SAMPLES, b"x", arrival)
            i += 1
        buf.pop()
        depths.append((t, buf.target, buf.depth))
    before = [d for t, target, d in depths if 1.0 < t < 3.0]
    during = [(target, d) for t, target, d in depths if 9.0 < t < 13.0]
    after = [(target, d) for t, target, d in depths if 20.0 < t < 23.0]
    assert max(before) <= 1
    assert min(target for target, _ in during) >= 3  # 60 ms of spread: three packets or more
    assert sum(d for _, d in during) / len(during) >= 2.5
    assert all(target == 1 for target, _ in after)
    assert sum(d for _, d in after) / len(after) <= 1.5  # the delay came back down
    # under jitter late packets are rare once the buffer has grown
    assert buf.counters.late < 25


def test_burst_after_a_stall_is_dropped_down_to_the_target() -> None:
    # the sender (or the network) stalls 400 ms, then delivers everything at once
    arrivals = [(k * FRAME if not 50 <= k < 70 else 70 * FRAME, k) for k in range(200)]
    buf = AdaptiveJitterBuffer()
    out = run_audio(buf, arrivals, ticks=200)
    depth_after: list[float] = []
    order = played(out)
    assert order == sorted(order)
    # the delay is back to about one packet right after the burst: what plays at a tick is recent
    for t, action, idx in out[75:]:
        if action is Action.PACKET and idx is not None:
            depth_after.append(t - idx * FRAME)
    assert max(depth_after) < 3 * FRAME
    assert buf.counters.dropped >= 10


def test_underrun_conceals_then_goes_silent() -> None:
    buf = AdaptiveJitterBuffer(max_conceal=3)
    out = run_audio(buf, steady(20), ticks=30)
    tail = [a for _, a, _ in out[20:]]
    assert tail[:3] == [Action.PLC] * 3
    assert set(tail[3:]) == {Action.SILENCE}
    assert run_audio(AdaptiveJitterBuffer(), [], ticks=3)[0][1] is Action.SILENCE


# video

def nal(kind: int, body: bytes = b"\x88\x00") -> bytes:
    return b"\x00\x00\x00\x01" + bytes([0x60 | kind]) + body


def video_frames(n: int, per_frame: int = 3, key_every: int = 1000) -> list[tuple[int, int, bool, bytes]]:
    """(seq index, timestamp, marker, data) of n frames of per_frame packets each."""
    out = []
    for f in range(n):
        key = f % key_every == 0
        for p in range(per_frame):
            if p == 0:
                data = nal(7) + nal(8) + nal(5) if key else nal(1)
            else:
                data = b"\x11" * 10  # a middle fragment
            out.append((f * per_frame + p, f * 6000, p == per_frame - 1, data))
    return out


def feed(asm: FrameAssembler, packets: list[tuple[int, int, bool, bytes]], first_seq: int = 0, dt: float = 0.001,
         start: float = 0.0) -> tuple[list[int], int]:
    now = start
    released: list[int] = []
    plis = 0
    for seq, ts, marker, data in packets:
        now += dt
        pli, frames = asm.add((first_seq + seq) % 65536, ts, marker, data, now)
        plis += pli
        released += [f.timestamp // 6000 for f in frames]
    return released, plis


def test_keyframe_detection() -> None:
    assert h264_is_keyframe(nal(7) + nal(8) + nal(5))
    assert h264_is_keyframe(nal(5, b"\x88"))
    assert not h264_is_keyframe(nal(5, b"\x08"))  # a later slice of an IDR picture
    assert not h264_is_keyframe(nal(1))
    assert not h264_is_keyframe(b"\x11" + nal(5))


def test_frame_released_on_its_marker_packet() -> None:
    asm = FrameAssembler(h264_is_keyframe, hold_until_keyframe=True)
    packets = video_frames(3)
    now = 0.0
    for seq, ts, marker, data in packets:
        now += 0.001
        pli, frames = asm.add(seq, ts, marker, data, now)
        assert not pli
        # released with its own last packet, not when the next frame begins
        assert [f.timestamp for f in frames] == ([ts] if marker else [])
    assert asm.counters.frames == 3


def test_reordered_and_duplicate_packets() -> None:
    packets = video_frames(4)
    packets[4], packets[5] = packets[5], packets[4]
    packets.insert(7, packets[6])
    asm = FrameAssembler(h264_is_keyframe)
    released, plis = feed(asm, packets)
    assert released == [0, 1, 2, 3] and plis == 0
    assert asm.counters.duplicates == 1


def test_frame_boundary_without_marker() -> None:
    packets = [(s, ts, False, d) for s, ts, _, d in video_frames(3)]
    released, _ = feed(FrameAssembler(None), packets)
    assert released == [0, 1]  # each ends when the next begins; the last waits


def test_sequence_wrap_around() -> None:
    released, plis = feed(FrameAssembler(h264_is_keyframe), video_frames(10), first_seq=65530)
    assert released == list(range(10)) and plis == 0


def test_loss_drops_the_damaged_frame_and_asks_for_a_keyframe() -> None:
    packets = video_frames(30, key_every=10)
    lost = [p for p in packets if p[0] != 3 * 5 + 1]  # the middle of frame 5
    asm = FrameAssembler(h264_is_keyframe, max_wait=0.05)
    released, plis = feed(asm, lost, dt=0.02)
    assert released == [n for n in range(30) if n != 5]
    assert plis == 1 and asm.counters.frames_lost == 1 and asm.counters.keyframe_requests == 1


def test_loss_held_until_a_keyframe() -> None:
    packets = video_frames(30, key_every=10)
    lost = [p for p in packets if p[0] != 3 * 5 + 1]  # the middle of frame 5
    asm = FrameAssembler(h264_is_keyframe, hold_until_keyframe=True, max_wait=0.05)
    released, plis = feed(asm, lost, dt=0.02)
    assert released[:5] == [0, 1, 2, 3, 4]
    assert 5 not in released
    assert plis >= 1
    # after the loss, nothing until the next keyframe (frame 10), then everything
    assert released[5:] == list(range(10, 30))
    assert asm.counters.frames_lost >= 5


def test_gap_filled_by_a_retransmission_in_time() -> None:
    packets = video_frames(6)
    late = packets.pop(7)  # frame 2's middle packet comes after frame 3
    packets.insert(11, late)
    asm = FrameAssembler(h264_is_keyframe, max_wait=0.5)
    released, plis = feed(asm, packets, dt=0.005)
    assert released == [0, 1, 2, 3, 4, 5] and plis == 0


def test_a_player_catching_up_plays_the_backlog() -> None:
    """The player's own loop stalled: the packets that waited behind the same stall are played
    back to back, not dropped as if the network had burst."""
    buf = AdaptiveJitterBuffer()
    for k in range(5):
        buf.push(k, k * SAMPLES, b"x", k * FRAME)
        assert buf.pop().action is Action.PACKET
    for k in range(5, 25):  # 400 ms that arrived while the player was stalled
        buf.push(k, k * SAMPLES, b"x", 0.5)
    out = [buf.pop(catching_up=True) for _ in range(20)]
    assert [p.packet.seq for p in out if p.packet is not None] == list(range(5, 25))
    assert buf.counters.dropped == 0 and buf.counters.plc == 0
