"""`python -m loadtest`: the pod's capacity and latency, measured with real aiortc peers.

It starts the server under test itself (`courtroom serve` on a free loopback port with
`--ice-address 127.0.0.1`, or the forwarding baseline `loadtest/relay_server.py`), creates
hearings and participants with the clerk's key, runs each hearing's synthetic participants
in a worker process (`loadtest/worker.py`), and measures over a window after a warm-up.
Everything stays on loopback. See docs/capacity.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import report
from .court import Court, start_court, start_usages, stop_usages
from .servers import (
    ROOT,
    Api,
    Server,
    Usage,
    attach_server,
    cpu_seconds,
    die_with_parent,
    machine_busy_seconds,
    process_tree,
    start_server,
)
from .speech import build_script, make_wavs

ROLES: list[tuple[str, str, str | None]] = [
    ("judge", "王法官", None),
    ("plaintiff", "张三", None),
    ("defendant", "李四", None),
    ("witness", "陈五", None),
    ("clerk", "赵书记员", None),
    ("agent", "钱律师", "plaintiff"),
    ("agent", "孙律师", "defendant"),
    ("interpreter", "周翻译", None),
]
IDLE_SECONDS = 2.0
READY_TIMEOUT = 90.0
DEFAULT_BOUNDS = {"fps_ratio": 0.9, "video_p95_ms": 400.0, "caption_p95_ms": 2000.0}


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, got {text!r}") from None
    if width < 64 or height < 36 or width % 2 or height % 2:
        raise argparse.ArgumentTypeError("WxH must be even and at least 64x36")
    return width, height


def _cpus(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def speech_language(args: argparse.Namespace) -> str:
    """What the participants speak: the pod's recognizers' language (`--asr-language`)."""
    if args.voice != "auto":
        return str(args.voice)
    return {"vosk": "ko", "auto": "zh"}.get(args.asr_engine, "en")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--design", choices=["pod", "relay", "both"], default="pod",
                   help="pod: our composing pod (default); relay: the MediaRelay forwarding baseline; "
                        "both: pod then relay with the same participants and seconds")
    p.add_argument("--hearings", type=int, default=1, help="concurrent hearings (default 1)")
    p.add_argument("--participants", type=int, default=5, help=f"per hearing, 2 to {len(ROLES)} (default 5)")
    p.add_argument("--seconds", type=float, default=30.0, help="measurement window (default 30)")
    p.add_argument("--warmup", type=float, default=None,
                   help="seconds after media flows, not measured (default 5; with ASR on, long enough for every "
                        "participant to have spoken once, so each recognizer's first-speech warm-up is not measured)")
    p.add_argument("--resolution", type=_size, default=(640, 360), metavar="WxH", help="the courtroom picture (default 640x360)")
    p.add_argument("--fps", type=int, default=15, help="picture and camera rate (default 15)")
    p.add_argument("--camera", type=_size, default=None, metavar="WxH", help="each synthetic camera (default: --resolution)")
    p.add_argument("--camera-bitrate", type=int, default=None, help="bit/s of each camera (default 0.15 bit per pixel)")
    p.add_argument("--camera-encoders", choices=["shared", "each"], default="shared",
                   help="shared: one camera encoder per hearing, every participant sends its packets (default); "
                        "each: one encoder per participant")
    p.add_argument("--asr-engine", choices=["auto", "vosk", "whisper", "off"], default="vosk",
                   help="the pod's live speech engine (default vosk, Korean); caption delay is measured unless off")
    p.add_argument("--voice", choices=["auto", "en", "ko", "zh"], default="auto",
                   help="language of the speech, and the court's language (auto: ko for vosk's Korean model, "
                        "zh for auto, else en); zh is real recorded Mandarin (tests/fixtures/zh), the others espeak-ng")
    p.add_argument("--ramp", action="store_true",
                   help="add hearings one by one until a quality bound breaks; report the pod's capacity")
    p.add_argument("--max-hearings", type=int, default=12, help="the ramp stops here at the latest (default 12)")
    p.add_argument("--fps-bound", type=float, default=DEFAULT_BOUNDS["fps_ratio"],
                   help="ramp bound: every hearing's median fps at least this fraction of --fps (default 0.9)")
    p.add_argument("--latency-bound", type=float, default=DEFAULT_BOUNDS["video_p95_ms"],
                   help="ramp bound: p95 glass-to-glass video latency in ms (default 400)")
    p.add_argument("--caption-bound", type=float, default=DEFAULT_BOUNDS["caption_p95_ms"],
                   help="ramp bound: p95 speech-to-caption delay in ms (default 2000)")
    p.add_argument("--court", action="store_true",
                   help="run against a whole court started on loopback (localcourt: PostgreSQL, SeaweedFS, "
                        "--pods pods, nginx in front); hearings are created and joined through nginx")
    p.add_argument("--pods", type=int, default=2, help="with --court: pods in the court, one per core (default 2)")
    p.add_argument("--placement", choices=["balanced", "hash"], default="balanced",
                   help="with --court: balanced (default) keeps only hearings that nginx's hash sends to a "
                        "least-loaded pod, so N hearings spread evenly; hash takes every hearing where it lands")
    p.add_argument("--url", help="an already running pod (loopback only) instead of starting one")
    p.add_argument("--admin-key", help="with --url: the clerk's key (default $COURTROOM_ADMIN_KEY)")
    p.add_argument("--server-pid", type=int, help="with --url: the server's pid for CPU and memory (default: "
                                                  "the process listening on the URL's port)")
    p.add_argument("--server-cpus", type=_cpus, metavar="LIST", help="pin the started server to these CPUs, e.g. 0-1")
    p.add_argument("--client-cpus", type=_cpus, metavar="LIST", help="pin the load generator to these CPUs")
    p.add_argument("--server-arg", action="append", default=[], metavar="ARG",
                   help="extra argument for `courtroom serve` (repeatable), e.g. --server-arg=--broadcast-delay=0")
    p.add_argument("--json", type=Path, metavar="PATH", help="write the report here, and the plot next to it (.png)")
    p.add_argument("--timeout", type=float, help="hard bound on the whole run in seconds (default: from the shape)")
    p.add_argument("--work-dir", type=Path, help="keep the servers' data and logs here (default: a temporary folder)")
    return p


@dataclass
class Worker:
    """One hearing's participants in a `loadtest.worker` process."""

    number: int
    hearing_id: str
    log_path: Path
    routed_to: str | None = None  # with --court: the pod nginx's hash sends it to
    proc: asyncio.subprocess.Process | None = None
    batches: list[dict[str, Any]] = field(default_factory=list)
    ready: asyncio.Future[dict[str, Any]] | None = None
    reader: asyncio.Task[None] | None = None

    async def start(self, spec_path: Path, cpus: list[int] | None) -> None:
        self.ready = asyncio.get_running_loop().create_future()
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "loadtest.worker", str(spec_path),
                cwd=str(ROOT), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                limit=64 * 1024 * 1024, start_new_session=True, preexec_fn=die_with_parent,
            )
        finally:
            os.close(log)
        if cpus:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, cpus)
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None and self.ready is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                message = json.loads(line)
            except ValueError:
                continue
            event = message.get("event")
            if event == "samples":
                self.batches.append(message)
            elif event in ("ready", "error") and not self.ready.done():
                self.ready.set_result(message)
        if not self.ready.done():
            self.ready.set_result({"event": "error", "message": "the worker exited before it was ready"})

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    async def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        if proc.returncode is None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError, AttributeError):
                assert proc.stdin is not None
                proc.stdin.write(b"stop\n")
                await proc.stdin.drain()
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


class Run:
    """One design's run: its server, its hearings, its measurement windows."""

    def __init__(self, args: argparse.Namespace, design: str, work: Path, run_id: str) -> None:
        self.args = args
        self.design = design
        self.work = work
        self.run_id = run_id
        self.server: Server | None = None
        self.api: Api | None = None
        self.workers: list[Worker] = []
        self.court: Court | None = None
        self.skipped_hearings = 0  # with --placement balanced: created, routed to a busier pod, not run
        self.captions = design == "pod" and args.asr_engine != "off"
        self.language = speech_language(args)

    async def add_hearing(self) -> Worker:
        assert self.api is not None and self.server is not None
        args = self.args
        number = len(self.workers) + 1
        hearing, routed_to = await self._place(number)
        people = [await self.api.add(hearing["id"], role, name, side) for role, name, side in ROLES[: args.participants]]
        cam_w, cam_h = args.camera or args.resolution
        spec = {
            "base_url": self.server.url,
            "design": self.design,
            "participants": [{k: p.get(k) for k in ("id", "token", "role", "name", "side")} for p in people],
            "fps": args.fps,
            "camera": [cam_w, cam_h],
            "camera_bitrate": args.camera_bitrate or max(100_000, min(2_500_000, int(cam_w * cam_h * args.fps * 0.15))),
            "camera_encoders": args.camera_encoders,
            "video_codec": "h264",
            "wav_dir": str(self.work / "wav"),
            "language": self.language,
            "captions": self.captions,
            "seed": number,
            "lifetime": args.timeout,
        }
        spec_path = self.work / f"{self.design}-hearing{number}.json"
        spec_path.write_text(json.dumps(spec, ensure_ascii=False))
        worker = Worker(number, hearing["id"], self.work / f"{self.design}-hearing{number}.log", routed_to)
        await worker.start(spec_path, self.args.client_cpus)
        self.workers.append(worker)
        return worker

    async def _place(self, number: int) -> tuple[dict[str, Any], str | None]:
        """Create the hearing; in a court with balanced placement, until nginx would send one
        to a least-loaded pod (the others stay scheduled, never joined)."""
        assert self.api is not None
        if self.court is None:
            return await self.api.create_hearing(number, self.run_id), None
        court = self.court
        load = {name: sum(w.routed_to == name for w in self.workers) for name in court.names}
        for attempt in range(40):
            hearing = await self.api.create_hearing(number * 100 + attempt, self.run_id)
            routed_to = court.routed_to(hearing["id"])
            if self.args.placement == "hash" or load[routed_to] == min(load.values()):
                return hearing, routed_to
            self.skipped_hearings += 1
        raise RuntimeError("40 hearings in a row were routed to a busier pod: nginx's hash and ours disagree?")

    async def wait_ready(self, workers: list[Worker]) -> list[str]:
        notes = []
        for worker in workers:
            assert worker.ready is not None
            try:
                message = await asyncio.wait_for(asyncio.shield(worker.ready), READY_TIMEOUT)
            except TimeoutError:
                message = {"event": "error", "message": f"not ready within {READY_TIMEOUT:.0f} s"}
            if message["event"] == "error":
                raise RuntimeError(f"hearing {worker.number} ({self.design}) could not start: {message['message']}\n"
                                   f"{worker.log_tail()}")
            if message.get("missing"):
                notes.append(f"hearing {worker.number}: no media yet on {', '.join(message['missing'])}")
        return notes

    async def measure(self, idle_cpu: float | None) -> dict[str, Any]:
        """One window of --seconds over every hearing running now."""
        assert self.server is not None and self.api is not None
        args = self.args
        server_usage = Usage(self.server.pid) if self.server.pid else None
        court_usages = self.court.usages() if self.court is not None else {}
        start_usages(court_usages)
        gen_pids = [p for w in self.workers if w.proc for p in process_tree(w.proc.pid)]
        busy0, _ = machine_busy_seconds()
        t0 = time.monotonic()
        if server_usage:
            server_usage.start()
        gen_cpu0 = cpu_seconds(gen_pids)
        await asyncio.sleep(args.seconds)
        t1 = time.monotonic()
        cpu, rss = server_usage.stop() if server_usage else (None, None)
        court_cpu = stop_usages(court_usages)
        if self.court is not None:  # the server is the court's pods (nginx apart)
            cpu = sum(court_cpu[name]["cpu_cores"] for name in self.court.names)
            rss = sum(court_cpu[name]["rss_mb"] for name in self.court.names)
        gen_cpu = (cpu_seconds(gen_pids) - gen_cpu0) / max(1e-6, t1 - t0)
        busy1, _ = machine_busy_seconds()
        # The last batch of the window, and (with captions) the sentences that ended in it.
        await asyncio.sleep(report_grace(self.captions))
        fps = args.fps
        per_hearing = []
        for worker in self.workers:
            h = report.hearing_window(worker.batches, t0, t1, fps, self.captions)
            h["hearing"] = worker.number
            h["hearing_id"] = worker.hearing_id
            stats = await self.api.stats(worker.hearing_id)
            h["server_stats"] = _brief_stats(stats)
            h["recording_lag_s"] = report.find_number(stats, "record", "lag", without="hls") if stats else None
            h["hls_segment_lag_s"] = report.find_number(stats, "hls", "lag") if stats else None
            h["server_share_ms"] = report.server_share(stats)
            if self.court is not None:
                h["routed_to"] = worker.routed_to
                h["pod"] = await self.court.holder(self.api.session, worker.hearing_id)
            per_hearing.append(h)
            worker.batches = worker.batches[-1:]  # later windows need only the last RTP snapshot
        pod = report.pod_window(per_hearing, fps, self.captions)
        n = len(self.workers)
        rec = [h["recording_lag_s"] for h in per_hearing if h["recording_lag_s"] is not None]
        hls = [h["hls_segment_lag_s"] for h in per_hearing if h["hls_segment_lag_s"] is not None]
        machine_cores = os.cpu_count() or 1
        busy = (busy1 - busy0) / max(1e-6, t1 - t0)
        lag_p95 = max((h["generator_loop_lag_ms"]["p95"] for h in per_hearing), default=0.0)
        step = {
            "design": self.design,
            "hearings": n,
            "participants": args.participants,
            "server_cpu_cores": None if cpu is None else round(cpu, 3),
            "server_rss_mb": None if rss is None else round(rss, 1),
            "fps_p50": pod["fps_p50"],
            "video_latency_ms": pod["video_latency_ms"],
            "audio_latency_ms": pod["audio_latency_ms"],
            "server_share_ms": report.worst_server_share(per_hearing),
            "caption_delay_ms": pod["caption_delay_ms"],
            "server_idle_cpu_cores": idle_cpu,
            "server_cpu_cores_per_hearing": (
                None if cpu is None else round((cpu - (idle_cpu or 0.0)) / max(1, n), 3)
            ),
            "fps_min": pod["fps_min"],
            "captions_missing": pod["captions_missing"],
            "samples": pod["samples"],
            "loss": pod["loss"],
            "recording_lag_s": max(rec) if rec else None,
            "hls_segment_lag_s": max(hls) if hls else None,
            "window_seconds": round(t1 - t0, 2),
            "generator": {
                "cpu_cores": round(gen_cpu, 3),
                "processes": len(self.workers),
                "loop_lag_ms_p95": lag_p95,
                "loop_lag_ms_max": max((h["generator_loop_lag_ms"]["max"] for h in per_hearing), default=0.0),
            },
            "machine": {"cores": machine_cores, "busy_cores": round(busy, 2), "loadavg": list(os.getloadavg())},
            "per_hearing": per_hearing,
        }
        warnings = []
        if busy > 0.95 * machine_cores:
            warnings.append("the machine was saturated: server and load generator competed for CPU")
        if args.server_cpus and cpu is not None and cpu > 0.95 * len(args.server_cpus):
            warnings.append(f"the server used all of its {len(args.server_cpus)} CPU(s)")
        if args.client_cpus and gen_cpu > 0.9 * len(args.client_cpus):
            warnings.append(f"the load generator used all of its {len(args.client_cpus)} CPU(s): latencies include it")
        if lag_p95 > 50:
            warnings.append(f"the load generator lagged (event loop p95 {lag_p95:.0f} ms): latencies include it")
        if self.court is not None:
            step["pods"] = [
                {"pod": name, **court_cpu[name], "hearings": sum(h["pod"] == name for h in per_hearing)}
                for name in self.court.names
            ]
            step["nginx_cpu_cores"] = court_cpu.get("nginx", {}).get("cpu_cores")
            stray = [h["hearing"] for h in per_hearing if h["pod"] != h["routed_to"]]
            if stray:
                warnings.append(f"hearing(s) {stray} not held by the pod nginx's hash routes them to")
        step["warnings"] = warnings
        return step

    async def execute(self) -> dict[str, Any]:
        args = self.args
        started = time.monotonic()
        try:
            if args.court:
                w, h = args.resolution
                pod_args = ["--ice-address", "127.0.0.1", "--video-size", f"{w}x{h}", "--fps", str(args.fps),
                            "--asr-engine", args.asr_engine, "--asr-language", self.language, *args.server_arg]
                folder = self.work / f"court-{self.run_id}"
                self.court = await start_court(folder, args.pods, pod_args)
                self.server = self.court.server
            elif args.url:
                key = args.admin_key or os.environ.get("COURTROOM_ADMIN_KEY")
                if not key:
                    raise RuntimeError("--url needs --admin-key or COURTROOM_ADMIN_KEY")
                self.server = attach_server(args.url, key, args.server_pid, self.design)
            else:
                w, h = args.resolution
                self.server = await start_server(
                    self.design, self.work, width=w, height=h, fps=args.fps, asr_engine=args.asr_engine,
                    extra=["--asr-language", self.language, *args.server_arg] if self.design == "pod" else [],
                    cpus=args.server_cpus,
                )
            self.api = Api(self.server)
            idle_cpu = None
            if self.server.pid:
                usage = Usage(self.server.pid)
                usage.start()
                await asyncio.sleep(IDLE_SECONDS)
                idle_cpu = round(usage.stop()[0], 3)
            elif self.court is not None:
                usages = {name: u for name, u in self.court.usages().items() if name != "nginx"}
                start_usages(usages)
                await asyncio.sleep(IDLE_SECONDS)
                idle_cpu = round(sum(u["cpu_cores"] for u in stop_usages(usages).values()), 3)
            steps: list[dict[str, Any]] = []
            bounds = {"fps_ratio": args.fps_bound, "video_p95_ms": args.latency_bound, "caption_p95_ms": args.caption_bound}
            plan = list(range(1, args.max_hearings + 1)) if args.ramp else [args.hearings]
            for target in plan:
                fresh = [await self.add_hearing() for _ in range(target - len(self.workers))]
                notes = await self.wait_ready(fresh)
                await asyncio.sleep(args.warmup)
                step = await self.measure(idle_cpu)
                step["warnings"] = notes + step["warnings"]
                step["broken_by"] = report.broken_bounds(step, args.fps, bounds)
                steps.append(step)
                pods = "".join(f" {p['pod']} {p['cpu_cores']:.2f} ({p['hearings']})" for p in step.get("pods", []))
                print(f"  {self.design}: {step['hearings']} hearing(s): server {_f(step['server_cpu_cores'])} cores"
                      + (f" [{pods.strip()}], load {step['machine']['loadavg'][0]:.2f}" if pods else "") + ", "
                      f"fps p50 {step['fps_p50']}, video p95 {step['video_latency_ms']['p95']} ms"
                      + (f"  -> bound broken: {'; '.join(step['broken_by'])}" if step["broken_by"] else ""),
                      file=sys.stderr, flush=True)
                if args.ramp and step["broken_by"]:
                    break
            return self._result(steps, bounds, time.monotonic() - started)
        finally:
            await self.close()

    def _result(self, steps: list[dict[str, Any]], bounds: dict[str, float], elapsed: float) -> dict[str, Any]:
        assert self.server is not None
        if self.args.ramp:
            good = [s for s in steps if not s["broken_by"]]
            main = good[-1] if good else steps[0]
            result = dict(main)
            result["capacity_hearings"] = good[-1]["hearings"] if good else 0
            result["capacity_reached"] = bool(steps[-1]["broken_by"])
            result["broken_by"] = steps[-1]["broken_by"]
            result["bounds"] = bounds
            result["steps"] = steps
        else:
            result = dict(steps[0])
        result["lag_source"] = (
            "GET /api/hearings/{id}/stats" if result.get("recording_lag_s") is not None or result.get("hls_segment_lag_s") is not None
            else "not exposed by GET /api/hearings/{id}/stats (reported as null)"
        )
        result["server"] = {"url": self.server.url, "pid": self.server.pid, "command": self.server.command,
                            "started_by_loadtest": self.server.proc is not None or self.court is not None}
        if self.court is not None:
            result["court"] = {"pods": len(self.court.names), "placement": self.args.placement,
                               "pids": {p.name: p.pid for p in self.court.local.pods},
                               "hearings_skipped_by_placement": self.skipped_hearings,
                               "routing": "nginx: hash $hearing consistent (deploy/nginx/court.conf.template)"}
        result["elapsed_seconds"] = round(elapsed, 1)
        return result

    async def close(self) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)
        if self.api is not None:
            if self.server is not None and self.server.proc is None:  # someone else's pod: tidy up
                for w in self.workers:
                    await self.api.close_hearing(w.hearing_id)
            await self.api.close()
        if self.server is not None:
            await self.server.stop()
        if self.court is not None:
            await self.court.stop()


def report_grace(captions: bool) -> float:
    return report.CAPTION_WAIT + 1.5 if captions else 1.5


def _brief_stats(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The server's own counters for a hearing, without the per-participant detail."""
    if not stats:
        return None
    return {k: v for k, v in stats.items() if not isinstance(v, (dict, list))}


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def default_timeout(args: argparse.Namespace) -> float:
    steps = args.max_hearings if args.ramp else 1
    per_step = READY_TIMEOUT + (args.warmup or 60.0) + args.seconds + report_grace(True) + 30
    designs = 2 if args.design == "both" else 1
    court = 120 if args.court else 0  # PostgreSQL, SeaweedFS, the pods and nginx start, then stop
    return court + designs * (120 + IDLE_SECONDS + steps * per_step)


def comparison(pod: dict[str, Any], relay: dict[str, Any]) -> dict[str, Any]:
    """Our cost per hearing as a fraction of the baseline's, at the same number of hearings:
    the most hearings both carried within the bounds (else the fewest both ran)."""
    def ratio(a: Any, b: Any) -> float | None:
        return round(a / b, 3) if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None

    p_steps = {s["hearings"]: s for s in pod.get("steps", [pod])}
    r_steps = {s["hearings"]: s for s in relay.get("steps", [relay])}
    common = sorted(set(p_steps) & set(r_steps))
    if not common:
        return {"note": "no step with the same number of hearings in both runs"}
    within = [n for n in common if not p_steps[n]["broken_by"] and not r_steps[n]["broken_by"]]
    n = within[-1] if within else common[0]
    p, r = p_steps[n], r_steps[n]
    out: dict[str, Any] = {"hearings": n, "both_within_bounds": bool(within)}
    for key in ("server_cpu_cores_per_hearing", "server_cpu_cores", "server_rss_mb", "fps_p50"):
        out[key] = {"pod": p.get(key), "relay": r.get(key), "pod_over_relay": ratio(p.get(key), r.get(key))}
    for key in ("video_latency_ms", "audio_latency_ms"):
        out[key + "_p95"] = {"pod": p[key]["p95"], "relay": r[key]["p95"],
                             "pod_over_relay": ratio(p[key]["p95"], r[key]["p95"])}
    if "capacity_hearings" in pod and "capacity_hearings" in relay:
        out["capacity_hearings"] = {"pod": pod["capacity_hearings"], "relay": relay["capacity_hearings"]}
    return out


async def run(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    run_id = time.strftime("%H%M%S")
    with contextlib.ExitStack() as stack:
        if args.work_dir:
            work = args.work_dir
            work.mkdir(parents=True, exist_ok=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="courtroom-loadtest-")))
        if args.court and os.getuid() == 0:  # PostgreSQL runs as `postgres`, who must enter the folder
            work.chmod(work.stat().st_mode | 0o001)
        language = speech_language(args)
        roles = [r for r, _, _ in ROLES[: args.participants]]
        wavs = make_wavs(work / "wav", language, roles)
        if args.warmup is None:
            captions = args.design != "relay" and args.asr_engine != "off"
            args.warmup = round(build_script(roles, wavs).round_seconds + 2.0, 1) if captions else 5.0
        designs = ["pod", "relay"] if args.design == "both" else [args.design]
        results = {}
        for design in designs:
            print(f"{design}: {args.hearings if not args.ramp else 'ramp of'} hearing(s) x {args.participants} "
                  f"participants, {args.resolution[0]}x{args.resolution[1]} at {args.fps} fps, "
                  f"{args.warmup:g} s warm-up + {args.seconds:g} s measured", file=sys.stderr, flush=True)
            results[design] = await Run(args, design, work, f"{run_id}{design[0]}").execute()
    main = results.get("pod") or results["relay"]
    out: dict[str, Any] = dict(main)
    out.update({
        "designs_run": designs,
        "resolution": f"{args.resolution[0]}x{args.resolution[1]}",
        "fps": args.fps,
        "camera": "x".join(map(str, args.camera or args.resolution)),
        "camera_encoders": args.camera_encoders,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "asr_engine": args.asr_engine if main["design"] == "pod" else "n/a",
        "speech_language": language,
        "ramp": args.ramp,
        "command": "python -m loadtest " + shlex.join(argv),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    })
    if "relay" in results and "pod" in results:
        out["baseline"] = report.strip_raw(results["relay"])
        out["comparison"] = comparison(results["pod"], results["relay"])
    return report.strip_raw(out)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    if not 2 <= args.participants <= len(ROLES):
        build_parser().error(f"--participants must be 2 to {len(ROLES)}")
    if args.court and (args.url or args.design != "pod" or args.server_cpus):
        build_parser().error("--court starts its own pods: no --url, --server-cpus, or --design other than pod")
    if args.court and not 1 <= args.pods <= 8:
        build_parser().error("--pods must be 1 to 8")
    if args.url and args.design == "both":
        build_parser().error("--url runs against one server: choose --design pod or relay")
    if args.timeout is None:
        args.timeout = default_timeout(args)

    async def bounded() -> dict[str, Any]:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, task.cancel)
        return await asyncio.wait_for(run(args, argv), args.timeout)

    try:
        result = asyncio.run(bounded())
    except TimeoutError:
        print(f"loadtest: the run did not finish within {args.timeout:.0f} s (--timeout); stopped", file=sys.stderr)
        return 3
    except asyncio.CancelledError:
        print("loadtest: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError, OSError) as exc:
        print(f"loadtest: {exc}", file=sys.stderr)
        return 2
    runs = [result] + ([result["baseline"]] if "baseline" in result else [])
    print(report.table(runs))
    for run_ in runs:
        for w in run_.get("warnings", []):
            print(f"warning ({run_['design']}): {w}")
    if "server_cpu_cores_per_hearing" in result.get("comparison", {}):
        c = result["comparison"]["server_cpu_cores_per_hearing"]
        print(f"pod CPU per hearing / relay CPU per hearing at {result['comparison']['hearings']} hearing(s) = "
              f"{c['pod_over_relay']} ({c['pod']} / {c['relay']} cores)")
    if args.court:
        for step in result.get("steps", [result]):
            pods = ", ".join(f"{p['pod']} {p['cpu_cores']:.2f} cores / {p['hearings']} hearing(s)" for p in step["pods"])
            print(f"court, {step['hearings']} hearing(s): pods {pods}; nginx {_f(step['nginx_cpu_cores'])} cores; "
                  f"load average {step['machine']['loadavg'][0]:.2f}")
    if args.ramp:
        for run_ in runs:
            print(f"{run_['design']}: capacity {run_['capacity_hearings']} hearing(s) of {args.participants}"
                  + ("" if run_["capacity_reached"] else f" (no bound broken up to {args.max_hearings})"))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))
        png = args.json.with_suffix(".png")
        title = f"{args.participants}-party hearings, {result['resolution']} at {args.fps} fps, ASR {args.asr_engine}"
        report.plot(runs, png, title, args.latency_bound if args.ramp else None)
        print(f"report: {args.json}  plot: {png}")
    return 0
