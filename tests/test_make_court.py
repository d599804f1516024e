"""`make court` / `make court-down` as a newcomer runs them: `python -m localcourt up` starts
its own PostgreSQL, SeaweedFS, two pods and nginx on loopback and prints the court's URL;
the court answers through nginx; a second `up` is refused; `down` stops every process."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _localcourt(folder: Path, command: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "localcourt", command, "--dir", str(folder)],
                          capture_output=True, text=True, timeout=180, env=env, cwd=ROOT)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose (its parent, `up`, has exited and init reaps it).
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ", 1)[1][0] != "Z"


def test_make_court_starts_a_whole_court_and_court_down_stops_it() -> None:
    # Not under pytest's folder: PostgreSQL runs as the `postgres` user, who must enter it.
    top = Path(tempfile.mkdtemp(prefix="courtroom-make-court-"))
    top.chmod(0o711)
    folder = top / "court"
    pids: list[int] = []
    up = _localcourt(folder, "up")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        url = re.search(r"The court runs at (http://127\.0\.0\.1:\d+)", up.stdout)
        assert url, up.stdout
        state = json.loads((folder / "court.json").read_text())
        pids = [int(p["pid"]) for p in (state["nginx"], *state["pods"], state["seaweed"])]
        assert len(state["pods"]) == 2 and all(_alive(pid) for pid in pids)

        with urllib.request.urlopen(url.group(1) + "/healthz", timeout=10) as reply:  # through nginx
            health = json.loads(reply.read())
        assert reply.status == 200 and health["store"]["state"] == "available", health
        key = (folder / "keys" / "admin.key").read_text().strip()
        request = urllib.request.Request(
            url.group(1) + "/api/hearings", method="POST",
            data=json.dumps({"case_number": "(2026)京0491民初9100号", "title": "试运行", "procedure": "simple"}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            assert reply.status == 201

        again = _localcourt(folder, "up")
        assert again.returncode == 1 and "already runs" in again.stderr
    finally:
        down = _localcourt(folder, "down")
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    assert not (folder / "court.json").exists()
    assert not any(_alive(pid) for pid in pids)
    assert "no court runs" in _localcourt(folder, "down").stdout
    shutil.rmtree(top, ignore_errors=True)
