"""The picture encoder: H.264 that RTP, the browsers and the HLS muxer all accept."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from aiortc.codecs.h264 import H264Encoder

from signaling.encoder import (
    NAL_IDR,
    NAL_PPS,
    NAL_SPS,
    TIME_BASE,
    PictureEncoder,
    nal_type,
    nal_units,
    parameter_sets,
)

W, H, FPS = 320, 180, 15
STEP = 90000 // FPS  # pts step per frame in 1/90000 s


def picture(i: int, width: int = W, height: int = H) -> av.VideoFrame:
    """A moving gradient with a little noise, so P-frames carry real data."""
    rng = np.random.default_rng(i)
    y = (np.add.outer(np.arange(height), np.arange(width)) * 2 + i * 5) % 220 + 16
    yuv = np.empty((height * 3 // 2, width), np.uint8)
    yuv[:height] = y + rng.integers(0, 4, (height, width))
    yuv[height:] = 128
    return av.VideoFrame.from_ndarray(yuv, format="yuv420p")


@pytest.fixture(scope="module")
def stream() -> list[tuple[int, list[av.Packet]]]:
    """60 frames at 15 fps, no forcing: (frame index, packets) per frame."""
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)
    return [(i, encoder.encode(picture(i), i * STEP)) for i in range(60)]


def packets_of(stream: list[tuple[int, list[av.Packet]]]) -> list[av.Packet]:
    return [p for _, ps in stream for p in ps]


def test_one_packet_per_frame_with_rtp_timestamps(
    stream: list[tuple[int, list[av.Packet]]],
) -> None:
    for i, packets in stream:
        assert len(packets) == 1, i  # zerolatency, no B-frames: nothing held back
        packet = packets[0]
        assert packet.pts == packet.dts == i * STEP
        assert packet.time_base == Fraction(1, 90000) == TIME_BASE


def test_first_packet_is_an_idr_with_parameter_sets(
    stream: list[tuple[int, list[av.Packet]]],
) -> None:
    first = packets_of(stream)[0]
    assert first.is_keyframe
    types = [nal_type(u) for u in nal_units(bytes(first))]
    assert types.index(NAL_SPS) < types.index(NAL_PPS) < types.index(NAL_IDR)


def test_keyframe_every_two_seconds_with_headers_in_band(
    stream: list[tuple[int, list[av.Packet]]],
) -> None:
    keyframes = [i for i, ps in stream if ps[0].is_keyframe]
    assert keyframes == [0, 30]
    for i, packets in stream:
        types = {nal_type(u) for u in nal_units(bytes(packets[0]))}
        if i in keyframes:
            assert {NAL_SPS, NAL_PPS, NAL_IDR} <= types, i
        else:
            assert not types & {NAL_SPS, NAL_PPS, NAL_IDR}, i


def test_sps_is_constrained_baseline(stream: list[tuple[int, list[av.Packet]]]) -> None:
    sps = next(u for u in nal_units(bytes(packets_of(stream)[0])) if nal_type(u) == NAL_SPS)
    profile_idc, constraints = sps[1], sps[2]
    assert profile_idc == 66  # baseline
    assert constraints & 0x40  # constraint_set1: constrained baseline, what browsers offer


def test_forced_keyframe_and_counters() -> None:
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)
    assert encoder.extradata() == b""
    flags = []
    for i in range(12):
        packets = encoder.encode(picture(i), i * STEP, force_keyframe=(i == 7))
        flags.append(packets[0].is_keyframe)
    assert [i for i, k in enumerate(flags) if k] == [0, 7]
    assert (encoder.frames, encoder.keyframes) == (12, 2)
    assert encoder.last_encode_ms > 0


def test_forced_keyframes_do_not_shift_the_two_second_grid() -> None:
    # HLS cuts 2-second segments at keyframes: picture-loss requests must not move them.
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)
    forced = {7, 20, 44}
    keys = [
        i
        for i in range(70)
        if encoder.encode(picture(i), i * STEP, force_keyframe=i in forced)[0].is_keyframe
    ]
    assert keys == [0, 7, 20, 30, 44, 60]


def test_keyframes_follow_the_clock_when_frames_are_dropped() -> None:
    # Back-pressure drops pictures: the keyframe still comes at each 2 s of picture time.
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)
    start = 123_456  # the grid starts at the first picture, whatever its timestamp
    # Every third picture dropped, the ones at 2 s and 4 s among them.
    times = [t for t in range(0, 5 * 90000, STEP) if t == 0 or (t // STEP) % 3 != 0]
    keys = [t for n, t in enumerate(times) if encoder.encode(picture(n), start + t)[0].is_keyframe]
    # The first picture at or after each 2 s; counting frames would have put it at 3 s.
    assert keys == [0, 186000, 366000]


def test_decoded_frame_type_does_not_force_keyframes() -> None:
    # A decoded keyframe keeps pict_type I; fed straight back, it must not force an IDR.
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)
    flags = []
    for i in range(5):
        frame = picture(i)
        frame.pict_type = av.video.frame.PictureType.I
        flags.append(encoder.encode(frame, i * STEP)[0].is_keyframe)
    assert flags == [True, False, False, False, False]


def test_extradata_is_annex_b_sps_and_pps(stream: list[tuple[int, list[av.Packet]]]) -> None:
    encoder = PictureEncoder(W, H, FPS, bitrate=300_000)  # as the stream: same level
    encoder.encode(picture(0), 0)
    extradata = encoder.extradata()
    assert extradata.startswith(b"\x00\x00\x00\x01")
    assert [nal_type(u) for u in nal_units(extradata)] == [NAL_SPS, NAL_PPS]
    assert extradata == parameter_sets(bytes(packets_of(stream)[0]))


def test_decodes_back_to_pictures_of_the_right_size(
    stream: list[tuple[int, list[av.Packet]]],
) -> None:
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for p in packets_of(stream) for f in decoder.decode(p)]
    frames += decoder.decode(None)
    assert len(frames) == 60
    assert all((f.width, f.height) == (W, H) for f in frames)
    # And it is the picture we sent, not just any picture of that size.
    got = frames[40].to_ndarray()[:H].astype(int)
    sent = picture(40).to_ndarray()[:H].astype(int)
    assert np.abs(got - sent).mean() < 6


def test_a_receiver_can_join_at_a_keyframe(stream: list[tuple[int, list[av.Packet]]]) -> None:
    # A late participant starts at frame 30: the in-band SPS/PPS are all it needs.
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for _, ps in stream[30:] for p in ps for f in decoder.decode(p)]
    frames += decoder.decode(None)
    assert len(frames) == 30


def test_aiortc_packetizes_the_packets(stream: list[tuple[int, list[av.Packet]]]) -> None:
    packer = H264Encoder()
    for i, packets in stream:
        payloads, timestamp = packer.pack(packets[0])
        assert payloads and all(0 < len(p) <= 1300 for p in payloads), i
        assert timestamp == i * STEP  # the RTP video clock is 90 kHz too


def test_large_keyframe_is_fragmented() -> None:
    encoder = PictureEncoder(640, 360, FPS, bitrate=2_000_000)
    noise = np.random.default_rng(0).integers(0, 255, (540, 640), dtype=np.uint8)
    packet = encoder.encode(av.VideoFrame.from_ndarray(noise, format="yuv420p"), 0)[0]
    assert packet.size > 5000
    payloads, _ = H264Encoder().pack(packet)
    assert len(payloads) > 3 and all(len(p) <= 1300 for p in payloads)


def test_timestamps_that_do_not_advance_are_nudged() -> None:
    encoder = PictureEncoder(W, H, FPS)
    a = encoder.encode(picture(0), 1000)[0]
    b = encoder.encode(picture(1), 1000)[0]
    c = encoder.encode(picture(2), 500)[0]
    assert a.pts is not None and b.pts is not None and c.pts is not None
    assert a.pts < b.pts < c.pts


def test_other_sizes_and_formats_are_converted() -> None:
    encoder = PictureEncoder(W, H, FPS)
    rgb = av.VideoFrame.from_ndarray(np.zeros((360, 640, 3), np.uint8), format="rgb24")
    packets = encoder.encode(rgb, 0)
    decoder = av.CodecContext.create("h264", "r")
    frames = [f for p in packets for f in decoder.decode(p)] + decoder.decode(None)
    assert [(f.width, f.height) for f in frames] == [(W, H)]
