"""Public viewers of a live hearing, through nginx and straight at the pod: what each costs.

Starts a court on loopback (PostgreSQL, SeaweedFS, pods, nginx: `localcourt`), holds one
public hearing with two synthetic participants on air, then runs N HLS viewers for a bounded
time, first against nginx, then against the pod that holds the hearing. A viewer behaves as
a player does: it reloads the live playlist about once a segment and fetches each new
segment once. Prints, per run: viewers, requests, failures, segments fetched, and the CPU
seconds the pods and nginx spent.

    python -m loadtest.viewers --viewers 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from loadtest.participant import Participant
from loadtest.synthetic import PatternTrack, ToneTrack
from localcourt.services import LocalCourt

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children that are still running."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, IndexError, ValueError):
            pass
    return total


@dataclass
class Tally:
    requests: int = 0
    failures: int = 0
    segments: int = 0
    bytes: int = 0


async def viewer(session: aiohttp.ClientSession, playlist: str, until: float, tally: Tally, segment: float) -> None:
    seen: set[str] = set()
    base = playlist.rsplit("/", 1)[0]
    while time.monotonic() < until:
        try:
            async with session.get(playlist) as r:
                tally.requests += 1
                text = await r.text()
                if r.status != 200:
                    tally.failures += 1
            for line in text.splitlines():
                if line and not line.startswith("#") and line not in seen:
                    seen.add(line)
                    async with session.get(f"{base}/{line}") as r:
                        data = await r.read()
                        tally.requests += 1
                        tally.bytes += len(data)
                        if r.status == 200:
                            tally.segments += 1
                        else:
                            tally.failures += 1
        except (TimeoutError, aiohttp.ClientError):
            tally.failures += 1
        await asyncio.sleep(segment)


async def run_viewers(url: str, count: int, seconds: float, segment: float) -> Tally:
    tally = Tally()
    until = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=15)) as session:
        tasks = []
        for n in range(count):
            tasks.append(asyncio.create_task(viewer(session, url, until, tally, segment)))
            if n % 50 == 49:
                await asyncio.sleep(0.05)  # a crowd arrives over a moment, not in one packet
        await asyncio.gather(*tasks)
    return tally


def _post(court: LocalCourt, path: str, body: Any) -> Any:
    request = urllib.request.Request(court.url + path, json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {court.admin_key}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        return json.loads(r.read())


async def measure(viewers: int, seconds: float) -> list[dict[str, Any]]:
    folder = Path(await asyncio.to_thread(tempfile.mkdtemp, prefix="courtroom-viewers-"))
    await asyncio.to_thread(folder.chmod, 0o755)  # PostgreSQL's own user must enter it
    court = LocalCourt(folder, pods_count=2, pod_args=["--ice-address", "127.0.0.1", "--video-size", "640x360",
                                                       "--fps", "15", "--broadcast-delay", "6", "--asr-engine", "off"])
    peers: list[Participant] = []
    rows: list[dict[str, Any]] = []
    try:
        await asyncio.to_thread(court.start)  # inside: a court that cannot start leaves no folder behind
        hearing = await asyncio.to_thread(_post, court, "/api/hearings", {
            "case_number": "(2026)京0491民初7001号", "title": "旁听负载", "procedure": "simple", "public": True})
        hid = hearing["id"]
        judge = await asyncio.to_thread(_post, court, f"/api/hearings/{hid}/participants", {"name": "王法官", "role": "judge"})
        party = await asyncio.to_thread(_post, court, f"/api/hearings/{hid}/participants", {"name": "张三", "role": "plaintiff"})
        for token, tone in ((judge["token"], 440), (party["token"], 660)):
            peer = Participant(court.url, token, ToneTrack(tone), PatternTrack(320, 180, 15))
            await peer.connect()
            peers.append(peer)
        await peers[0].act("open")
        await peers[0].act("admit", party["id"])
        await peers[0].act("start")
        await peers[0].wait_for(lambda m: m["type"] == "state" and m["hearing"]["state"] == "in_session")
        for peer in peers:
            await peer.start_media()
        await peers[0].act("broadcast_on")
        playlist_path = f"/public/hearings/{hid}/live/live.m3u8"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if await asyncio.to_thread(_is_live, f"{court.url}/public/hearings/{hid}"):
                break
            await asyncio.sleep(1)
        holder = next(p for p in court.pods if _holds(p.url, playlist_path))
        assert court.nginx is not None
        for target, base in (("no viewers", ""), ("nginx (cache)", court.url), ("pod directly", holder.url)):
            before = {p.name: cpu_seconds(p.pid) for p in court.pods}
            nginx_before = cpu_seconds(court.nginx.pid)
            started = time.monotonic()
            if base:
                tally = await run_viewers(base + playlist_path, viewers, seconds, 2.0)
            else:  # what the hearing itself costs the pods meanwhile (media, recording)
                tally = Tally()
                await asyncio.sleep(seconds)
            elapsed = time.monotonic() - started
            pods_cpu = sum(cpu_seconds(p.pid) - before[p.name] for p in court.pods)
            rows.append({
                "target": target, "viewers": viewers if base else 0, "seconds": round(elapsed, 1), "requests": tally.requests,
                "failures": tally.failures, "segments": tally.segments, "mbytes": round(tally.bytes / 1e6, 1),
                "pods_cpu_s": round(pods_cpu, 2), "nginx_cpu_s": round(cpu_seconds(court.nginx.pid) - nginx_before, 2),
                # The machine is shared: what else ran meanwhile, for reading the CPU figures.
                "load_average_1min": round(os.getloadavg()[0], 2),
            })
    finally:
        for peer in peers:
            await peer.close()
        await asyncio.to_thread(court.stop)
        await asyncio.to_thread(shutil.rmtree, folder, True)
    return rows


def _is_live(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return bool(json.loads(r.read()).get("live"))
    except OSError:  # 404 until the broadcast has started
        return False


def _holds(pod_url: str, path: str) -> bool:
    try:
        with urllib.request.urlopen(pod_url + path, timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.viewers", description=__doc__.split("\n")[0])
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.viewers <= 2000 or not 1 <= args.seconds <= 300:
        parser.error("viewers 1-2000, seconds 1-300 (a bounded load)")
    rows = asyncio.run(measure(args.viewers, args.seconds))
    header = f"{'target':<15}{'viewers':>8}{'s':>6}{'requests':>10}{'failed':>8}{'segments':>10}{'MB':>8}{'pods CPU s':>12}{'nginx CPU s':>13}{'load avg':>10}"
    print(header)
    for r in rows:
        print(f"{r['target']:<15}{r['viewers']:>8}{r['seconds']:>6}{r['requests']:>10}{r['failures']:>8}"
              f"{r['segments']:>10}{r['mbytes']:>8}{r['pods_cpu_s']:>12}{r['nginx_cpu_s']:>13}{r['load_average_1min']:>10}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
