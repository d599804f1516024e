"""`python -m loadtest --court`: the load test against a whole court on loopback (PostgreSQL,
SeaweedFS, two pods, nginx in front), in one short run. The hearings go through nginx, spread
by its hash of the hearing id; the report lists each pod's CPU and the pod holding each hearing,
and nothing it started outlives it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _loadtest(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "loadtest", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state != "Z"


def test_court_run_spreads_hearings_over_the_pods_and_reports_each_pods_cpu(tmp_path: Path) -> None:
    out = tmp_path / "court.json"
    proc = _loadtest("--court", "--pods", "2", "--hearings", "2", "--participants", "2", "--resolution", "320x180",
                     "--fps", "10", "--warmup", "1", "--seconds", "3", "--asr-engine", "off",
                     "--json", str(out), "--timeout", "200")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["design"] == "pod" and report["hearings"] == 2
    assert report["court"]["pods"] == 2 and report["court"]["placement"] == "balanced"
    assert report["server"]["url"].startswith("http://127.0.0.1:")  # nginx, on loopback

    # Each pod holds one hearing: nginx sent each where our copy of its hash said it would.
    pods = {p["pod"]: p for p in report["pods"]}
    assert set(pods) == {"pod1", "pod2"}
    for pod in pods.values():
        assert pod["hearings"] == 1, report["pods"]
        assert 0 < pod["cpu_cores"] < 2 and pod["rss_mb"] > 50, pod
    held = [(h["routed_to"], h["pod"]) for h in report["per_hearing"]]
    assert sorted(held) == [("pod1", "pod1"), ("pod2", "pod2")], held
    assert abs(report["server_cpu_cores"] - sum(p["cpu_cores"] for p in pods.values())) < 0.01
    assert report["nginx_cpu_cores"] is not None and report["nginx_cpu_cores"] >= 0
    assert len(report["machine"]["loadavg"]) == 3

    # Media went through the court: pictures at the rate, with sane latencies.
    assert report["fps_p50"] > 5
    assert 0 < report["video_latency_ms"]["p50"] <= report["video_latency_ms"]["p95"] < 5000
    assert report["loss"]["video_packets_received"] > 0
    assert "court, 2 hearing(s): pods pod1" in proc.stdout and "load average" in proc.stdout

    # The pods the run started are gone with it.
    assert not [name for name, pid in report["court"]["pids"].items() if _alive(pid)]


def test_court_mode_refuses_what_it_cannot_measure() -> None:
    for args, words in ((["--court", "--design", "relay"], "--court starts its own pods"),
                        (["--court", "--url", "http://127.0.0.1:9"], "--court starts its own pods"),
                        (["--court", "--pods", "0"], "--pods must be 1 to 8")):
        proc = _loadtest(*args, timeout=60)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert words in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_a_courts_bucket_is_valid_whatever_its_folder_is_called(seaweed: Any) -> None:
    """A temporary folder's name (`courtroom-viewers-z0cmruz_`) once made a bucket name ending in
    `-`, which S3 refuses: the court did not start. Each name here is created on SeaweedFS."""
    from courtroom.blobs import open_blob_store
    from localcourt.services import bucket_name

    for folder in ("courtroom-viewers-z0cmruz_", "court-023015", "_Tmp__X_", "a" * 90, "庭审"):
        name = bucket_name(folder)
        assert re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", name), (folder, name)
        open_blob_store(seaweed.bucket_url(name), ROOT)  # creates the bucket, or raises
