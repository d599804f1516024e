"""The load test itself, in short runs of `python -m loadtest`: its report stays complete and
sane for our pod and for the forwarding baseline, so neither path can rot.

Only the report's shape and sanity are asserted here; the numbers belong in the report
(docs/capacity.md has the commands for a real measurement).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.barcode import Painter, Reader, age_ms

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = {
    "design", "hearings", "participants", "server_cpu_cores", "server_rss_mb", "fps_p50",
    "video_latency_ms", "audio_latency_ms", "caption_delay_ms",
}
SHORT = ["--hearings", "1", "--resolution", "320x180", "--fps", "10", "--warmup", "1", "--asr-engine", "off"]


def run_loadtest(tmp_path: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = tmp_path / "report.json"
    proc = subprocess.run(
        [sys.executable, "-m", "loadtest", *args, "--json", str(out), "--timeout", "100"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return json.loads(out.read_text()), proc.stdout


def check_report(report: dict[str, Any], stdout: str, tmp_path: Path, design: str, participants: int) -> None:
    assert REQUIRED <= set(report), REQUIRED - set(report)
    assert report["design"] == design
    assert report["hearings"] == 1 and report["participants"] == participants
    assert report["server_cpu_cores"] > 0
    assert report["server_rss_mb"] > 0
    assert report["fps_p50"] > 0
    for key in ("video_latency_ms", "audio_latency_ms"):
        latency = report[key]
        assert set(latency) == {"p50", "p95", "max"}, latency
        assert 0 < latency["p50"] <= latency["p95"] <= latency["max"] < 5000, (key, latency)
    assert report["caption_delay_ms"] is None  # ASR off
    assert report["samples"]["video"] > 0 and report["samples"]["audio"] > 0
    assert report["loss"]["video_packets_received"] > 0
    assert len(report["per_hearing"]) == 1
    assert report["command"].startswith("python -m loadtest ")
    png = (tmp_path / "report.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert "video ms p50/p95/max" in stdout and design in stdout


def test_pod_short_run(tmp_path: Path) -> None:
    report, stdout = run_loadtest(tmp_path, "--design", "pod", "--participants", "3", "--seconds", "6", *SHORT)
    check_report(report, stdout, tmp_path, "pod", 3)
    # Every participant's picture was read in each receiver's courtroom picture.
    assert report["per_hearing"][0]["streams"] == 3
    # The pod's own share of the delay: a part of the end-to-end figure, never more.
    share = report["server_share_ms"]
    for kind in ("video", "audio"):
        assert share[kind]["samples"] > 0, share
        assert 0 < share[kind]["p50"] <= share[kind]["p95"] <= share[kind]["max"], share
    assert share["video"]["p50"] < report["video_latency_ms"]["p50"]
    assert "server share ms" in stdout


def test_relay_baseline_short_run(tmp_path: Path) -> None:
    report, stdout = run_loadtest(tmp_path, "--design", "relay", "--participants", "2", "--seconds", "4", *SHORT)
    check_report(report, stdout, tmp_path, "relay", 2)
    assert report["per_hearing"][0]["streams"] == 2  # each of the two receives the other's camera
    assert report["server_share_ms"] is None  # the relay does not measure its own


def test_picture_clock_survives_scaling_and_rejects_noise() -> None:
    painter, reader = Painter(640, 360), Reader()
    luma = np.full((360, 640), 90, np.uint8)
    painter.paint(luma, 1_234_567)
    small = luma[::8, ::8]  # an 80x45 tile
    assert reader.read(small, (0, 0, 80, 45)) == 1_234_567 % 65536
    assert age_ms(1_234_600, reader.read(small, (0, 0, 80, 45)) or 0) == 33
    rng = np.random.default_rng(7)
    misreads = sum(reader.read(rng.integers(0, 256, (45, 80), dtype=np.uint8), (0, 0, 80, 45)) is not None
                   for _ in range(200))
    assert misreads <= 10  # a CRC-6 lets ~1/64 of pure noise through; the age bound rejects most
