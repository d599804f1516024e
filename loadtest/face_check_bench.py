"""The face check's cost on this machine: model load time and memory, time per check-in.

    python -m loadtest.face_check_bench [--runs 10]

Run in a fresh process (the memory figure is the process's resident size before and after
loading dlib's models). The pictures are the real faces the tests use: a 640x480 webcam-like
still of Grace Hopper (matplotlib's sample) and an ID card made from the same photo.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

from courtroom.face_check import FaceModel, check_images, decode


def _rss() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def pictures() -> tuple[bytes, bytes]:
    with Image.open(Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg") as im:
        face = im.convert("RGB")
    frame = Image.new("RGB", (640, 480), (200, 205, 210))
    small = face.copy()
    small.thumbnail((640, 480))
    frame.paste(small, ((640 - small.width) // 2, 0))
    card = Image.new("RGB", (640, 400), (226, 232, 240))
    card.paste(face.crop((110, 60, 430, 420)).resize((150, 169)), (40, 60))
    return _jpeg(frame), _jpeg(card, 80)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    snapshot, card = pictures()
    before = _rss()
    started, cpu = time.perf_counter(), time.process_time()
    model = FaceModel(None)
    load_s = time.perf_counter() - started
    load_cpu_s = time.process_time() - cpu
    after = _rss()
    check_images(model, decode(snapshot), decode(card))  # warm up
    # Wall time, and CPU time of this process: on a shared machine the CPU time is the cost.
    alone, with_card, alone_cpu, with_card_cpu = [], [], [], []
    for _ in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        check_images(model, decode(snapshot), None)
        t1, c1 = time.perf_counter(), time.process_time()
        result = check_images(model, decode(snapshot), decode(card))
        t2, c2 = time.perf_counter(), time.process_time()
        alone.append((t1 - t0) * 1000)
        with_card.append((t2 - t1) * 1000)
        alone_cpu.append((c1 - c0) * 1000)
        with_card_cpu.append((c2 - c1) * 1000)
        assert result.ok and result.match, result
    report = {
        "model_load_s": round(load_s, 3),
        "model_load_cpu_s": round(load_cpu_s, 3),
        "model_rss_mib": round((after - before) / 2**20, 1),
        "process_rss_mib": round(_rss() / 2**20, 1),
        "snapshot_only_ms": {"p50": round(statistics.median(alone), 1), "max": round(max(alone), 1),
                             "cpu_p50": round(statistics.median(alone_cpu), 1)},
        "snapshot_and_id_ms": {"p50": round(statistics.median(with_card), 1), "max": round(max(with_card), 1),
                               "cpu_p50": round(statistics.median(with_card_cpu), 1)},
        "runs": args.runs,
        "snapshot": "640x480 JPEG", "id_image": "640x400 JPEG",
        "distance": np.round(result.distance or 0.0, 3).item(),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
