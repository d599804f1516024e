"""CPU of the receive path per packet, aiortc's against ours, in CPU time (not wall time), so it
can be measured on a busy machine.

    python -m loadtest.receive_cpu [--seconds-of-media 60]

Video: the packets of a 15 fps stream (8 packets a frame) through aiortc's `JitterBuffer(512,
is_video=True)` against our `FrameAssembler`. Audio: 20 ms Opus packets through aiortc's
`JitterBuffer(16, prefetch=4)` + its Opus decoder (PyAV, stereo) + the room's old resampling
to mono, against our `AdaptiveJitterBuffer` + libopus decoding to mono (one pull per packet).
"""

from __future__ import annotations

import argparse
import fractions
import json
import time

import av
import numpy as np
from aiortc.codecs.opus import OpusDecoder as AiortcOpusDecoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

from signaling.framing import FrameAssembler, h264_is_keyframe
from signaling.receiver import AudioReceive


def video_packets(frames: int, per_frame: int = 8) -> list[RtpPacket]:
    out = []
    seq = 60000  # wraps on the way
    for f in range(frames):
        for p in range(per_frame):
            pkt = RtpPacket(payload_type=102, marker=int(p == per_frame - 1), sequence_number=seq % 65536,
                            timestamp=(f * 6000) % (1 << 32), payload=b"\x00" * 1000)
            pkt._data = (b"\x00\x00\x00\x01\x65\x88" if p == 0 else b"") + b"\x11" * 1000  # type: ignore[attr-defined]
            out.append(pkt)
            seq += 1
    return out


def opus_packets(count: int) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    encoder.time_base = fractions.Fraction(1, 48000)
    t = np.arange(960 * count) / 48000
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    out: list[bytes] = []
    for i in range(count):
        chunk = np.repeat(pcm[i * 960:(i + 1) * 960], 2).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(chunk, format="s16", layout="stereo")
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [bytes(p) for p in encoder.encode(frame)]
    return out


def cpu(fn: object) -> float:
    t0 = time.process_time()
    fn()  # type: ignore[operator]
    return time.process_time() - t0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m loadtest.receive_cpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds-of-media", type=float, default=60.0)
    args = p.parse_args()
    frames = int(15 * args.seconds_of_media)
    vp = video_packets(frames)

    def aiortc_video() -> None:
        jb = JitterBuffer(capacity=512, is_video=True)
        for pkt in vp:
            jb.add(pkt)

    def our_video() -> None:
        asm = FrameAssembler(h264_is_keyframe)
        now = 0.0
        for pkt in vp:
            now += 0.008
            asm.add(pkt.sequence_number, pkt.timestamp, bool(pkt.marker), pkt._data, now)  # type: ignore[attr-defined]

    count = int(50 * args.seconds_of_media)
    payloads = opus_packets(count)
    ap = [RtpPacket(payload_type=96, sequence_number=(65000 + i) % 65536, timestamp=i * 960, payload=pl)
          for i, pl in enumerate(payloads)]
    for pkt in ap:
        pkt._data = pkt.payload  # type: ignore[attr-defined]

    def aiortc_audio() -> None:
        jb = JitterBuffer(capacity=16, prefetch=4)
        decoder = AiortcOpusDecoder()
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for pkt in ap:
            _, frame = jb.add(pkt)
            if frame is not None:
                for decoded in decoder.decode(frame):
                    assert isinstance(decoded, av.AudioFrame)
                    for out in resampler.resample(decoded):
                        out.to_ndarray()

    def our_audio() -> None:
        receive = AudioReceive(None, clock=lambda: 0.0)
        for i, pkt in enumerate(ap):
            receive.buffer.push(pkt.sequence_number, pkt.timestamp, pkt.payload, i * 0.02)
            receive.pull()
        receive.close()

    result: dict[str, object] = {}
    for name, fn, n in (("video_aiortc", aiortc_video, len(vp)), ("video_ours", our_video, len(vp)),
                        ("audio_aiortc", aiortc_audio, len(ap)), ("audio_ours", our_audio, len(ap))):
        best = min(cpu(fn) for _ in range(3))
        result[name + "_us_per_packet"] = round(best / n * 1e6, 2)
    result["packets"] = {"video": len(vp), "audio": len(ap)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
