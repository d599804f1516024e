"""Does the server's memory follow its hearings? RSS idle, with N live hearings, after they close,
and after many open/start/close cycles (issue 16). Loopback only.

    python -m loadtest.memory [--hearings 40] [--cycles 100] [--peers 3] [--video-size 1280x720]

Each live hearing has a judge; `--peers` of them also get a media peer (a synthetic camera and
microphone), the others have nobody connected. Prints one JSON object (MB are MiB of VmRSS of
the server's process tree).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from .participant import Participant
from .servers import Api, Server, process_tree, rss_mb, start_server
from .synthetic import PatternTrack, ToneTrack


async def _as(server: Server, session: aiohttp.ClientSession, hearing_id: str, action: str, token: str) -> None:
    async with session.post(f"{server.url}/api/hearings/{hearing_id}/actions", json={"action": action},
                            headers={"Authorization": f"Bearer {token}"}) as r:
        if r.status >= 400:
            raise RuntimeError(f"{action}: {r.status} {await r.text()}")


async def _live_hearing(api: Api, session: aiohttp.ClientSession, n: int, run: str) -> tuple[str, str]:
    hearing = await api.create_hearing(n, run)
    judge = await api.add(hearing["id"], "judge", "王法官", None)
    await _as(api.server, session, hearing["id"], "open", judge["token"])
    await _as(api.server, session, hearing["id"], "start", judge["token"])
    return hearing["id"], judge["token"]


def _rss(server: Server) -> float:
    assert server.pid is not None
    return round(rss_mb(process_tree(server.pid)), 1)


async def _settle(server: Server, seconds: float) -> float:
    await asyncio.sleep(seconds)
    return _rss(server)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    width, _, height = args.video_size.partition("x")
    work = Path(tempfile.mkdtemp(prefix="courtroom-memory-"))
    server = await start_server("pod", work, width=int(width), height=int(height), fps=args.fps,
                                asr_engine=args.asr_engine, extra=[], cpus=None)
    api = Api(server)
    session = aiohttp.ClientSession()
    run = secrets.token_hex(3)
    out: dict[str, Any] = {"hearings": args.hearings, "peers": args.peers, "cycles": args.cycles,
                           "video_size": args.video_size, "fps": args.fps, "asr_engine": args.asr_engine}
    peers: list[Participant] = []
    try:
        out["rss_idle_mb"] = await _settle(server, 3.0)
        t0 = time.monotonic()
        live = [await _live_hearing(api, session, i, run) for i in range(args.hearings)]
        for _, token in live[: args.peers]:
            peer = Participant(server.url, token, ToneTrack(440), PatternTrack(320, 180, args.fps))
            await peer.connect()
            await peer.start_media()
            peers.append(peer)
        out["rss_live_mb"] = await _settle(server, args.hold)
        out["open_seconds"] = round(time.monotonic() - t0, 1)
        for peer in peers:
            await peer.close()
        for hearing_id, token in live:
            await _as(server, session, hearing_id, "close", token)
        out["rss_after_close_mb"] = await _settle(server, 5.0)
        t0 = time.monotonic()
        for i in range(args.cycles):
            hearing_id, token = await _live_hearing(api, session, 10_000 + i, run)
            await _as(server, session, hearing_id, "close", token)
        out["cycles_seconds"] = round(time.monotonic() - t0, 1)
        out["rss_after_cycles_mb"] = await _settle(server, 5.0)
        async with session.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {server.admin_key}"}) as r:
            text = await r.text()
        out["held_entries"] = {line.split('"')[1]: float(line.rsplit(" ", 1)[1])
                               for line in text.splitlines() if line.startswith("courtroom_held_entries{")}
    finally:
        for peer in peers:
            await peer.close()
        await session.close()
        await api.close()
        await server.stop()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.memory", description=__doc__.split("\n")[0])
    parser.add_argument("--hearings", type=int, default=40)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--peers", type=int, default=3, help="live hearings that also get one media peer")
    parser.add_argument("--video-size", default="1280x720")
    parser.add_argument("--fps", type=int, default=15)
    parser.add_argument("--asr-engine", default="off")
    parser.add_argument("--hold", type=float, default=10.0, help="seconds the hearings stay live before measuring")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args)), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
