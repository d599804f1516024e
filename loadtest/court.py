"""`python -m loadtest --court`: the load test against a whole court on loopback.

`localcourt` starts PostgreSQL, SeaweedFS, N pods and nginx; the load test talks only to
nginx, which sends each hearing's API calls and sockets (`/ws?…&hearing=ID`) to one pod by a
consistent hash of the hearing id (`deploy/nginx/court.conf.template`). So that a ramp compares
like with like, the load test predicts where nginx will send a hearing (the same hash, below)
and, with `--placement balanced`, keeps only hearings that land on a least-loaded pod; the pod
that really holds each hearing is then asked of every pod directly and reported next to the
prediction. CPU is read per pod process (and for nginx) from /proc.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from localcourt.services import LocalCourt

from .servers import Server, Usage

POINTS_PER_SERVER = 160  # nginx: weight x 160 points on the ring


def _ring(servers: list[str]) -> tuple[list[int], list[int]]:
    """nginx's consistent-hash ring (ngx_http_upstream_init_chash): for each server
    "host:port", 160 points crc32(host \\0 port prev_hash), prev_hash the last point as 4
    little-endian bytes; sorted, equal points kept once."""
    points: list[tuple[int, int]] = []
    for index, server in enumerate(servers):
        host, _, port = server.rpartition(":")
        base = host.encode() + b"\0" + port.encode()
        prev = 0
        for _ in range(POINTS_PER_SERVER):
            prev = zlib.crc32(base + struct.pack("<I", prev))
            points.append((prev, index))
    points.sort()
    hashes: list[int] = []
    owners: list[int] = []
    for value, index in points:
        if not hashes or hashes[-1] != value:
            hashes.append(value)
            owners.append(index)
    return hashes, owners


def nginx_pod_for(key: str, servers: list[str]) -> int:
    """The index in `servers` to which `hash $key consistent` sends `key` (all servers up):
    the first point at or after crc32(key), wrapping round."""
    hashes, owners = _ring(servers)
    at = bisect.bisect_left(hashes, zlib.crc32(key.encode()))
    return owners[at % len(hashes)]


@dataclass
class Court:
    """A `LocalCourt` started for one run, seen by the load test as one server (nginx)."""

    local: LocalCourt
    server: Server
    servers: list[str] = field(default_factory=list)  # as nginx's upstream names them

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.local.pods]

    def routed_to(self, hearing_id: str) -> str:
        return self.names[nginx_pod_for(hearing_id, self.servers)]

    async def holder(self, session: aiohttp.ClientSession, hearing_id: str) -> str | None:
        """The pod whose room is live for the hearing, asked of each pod directly."""
        headers = {"Authorization": f"Bearer {self.local.admin_key}"}
        for pod in self.local.pods:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, ValueError):
                async with session.get(f"{pod.url}/api/hearings/{hearing_id}/stats", headers=headers) as r:
                    if r.status == 200 and (await r.json()).get("live"):
                        return pod.name
        return None

    def usages(self) -> dict[str, Usage]:
        out = {p.name: Usage(p.pid) for p in self.local.pods if p.pid}
        if self.local.nginx is not None and self.local.nginx.pid:
            out["nginx"] = Usage(self.local.nginx.pid)
        return out

    async def stop(self) -> None:
        await asyncio.to_thread(self.local.stop)


async def start_court(folder: Path, pods: int, pod_args: list[str]) -> Court:
    """PostgreSQL, SeaweedFS, `pods` pods and nginx under `folder`, all on 127.0.0.1."""
    local = LocalCourt(folder, pods_count=pods, pod_args=pod_args)
    await asyncio.to_thread(local.start)  # blocking: it waits on processes and ports
    server = Server(local.url, local.admin_key, None, "pod", command=["localcourt", f"{pods} pods", *pod_args])
    return Court(local, server, [f"127.0.0.1:{p.port}" for p in local.pods])


def start_usages(usages: dict[str, Usage]) -> None:
    for usage in usages.values():
        usage.start()


def stop_usages(usages: dict[str, Usage]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, usage in usages.items():
        cpu, rss = usage.stop()
        out[name] = {"cpu_cores": round(cpu, 3), "rss_mb": round(rss, 1)}
    return out
