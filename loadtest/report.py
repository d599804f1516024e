"""From the workers' samples to the report: a measurement window's numbers per hearing and
for the pod, the table printed for people, and the plot."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

CAPTION_WAIT = 5.0  # seconds after a sentence ends that its final may take (then: missing)
CAPTION_MISSING_MS = CAPTION_WAIT * 1000  # a missing final counts as this (a lower bound)
MAX_GAP_MS = 10_000  # a longer jump in a stream's timestamps is a discontinuity, not lost frames


def percentiles(values: Sequence[float], keys: Iterable[str] = ("p50", "p95", "max")) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key in keys:
        if not values:
            out[key] = None
        elif key == "max":
            out[key] = round(float(max(values)), 1)
        else:
            out[key] = round(float(np.percentile(values, float(key[1:]))), 1)
    return out


def _rtp_delta(batches: list[dict[str, Any]], t0: float, t1: float) -> tuple[dict[tuple[Any, ...], tuple[int, int]], float]:
    """(packets received, packets lost) per (receiver, kind, slot) between two statistics
    snapshots (one a second): the first and last inside the window, or the nearest outside
    it when fewer than two fall inside; and the seconds between them."""
    if not batches:
        return {}, 0.0
    inside = [b for b in batches if t0 <= b["t"] <= t1]
    if len(inside) >= 2:
        first, last = inside[0], inside[-1]
    else:
        before = [b for b in batches if b["t"] <= t0]
        after = [b for b in batches if b["t"] >= t1]
        first = before[-1] if before else batches[0]
        last = after[0] if after else batches[-1]
    start = {(r[0], r[1], r[2]): (r[3], r[4]) for r in first.get("rtp", [])}
    out = {}
    for r in last.get("rtp", []):
        key = (r[0], r[1], r[2])
        r0, l0 = start.get(key, (0, 0))
        out[key] = (r[3] - r0, max(0, r[4] - l0))
    return out, last["t"] - first["t"]


def hearing_window(batches: list[dict[str, Any]], t0: float, t1: float, fps: int, captions: bool) -> dict[str, Any]:
    """One hearing's numbers over [t0, t1] from its worker's sample batches."""
    seconds = t1 - t0
    video, audio, delays = [], [], []
    missing_captions = 0
    frames: dict[tuple[int, int], list[float]] = defaultdict(list)
    lag_max, lag_p95 = 0.0, 0.0
    for b in batches:
        video += [v[3] for v in b.get("video", []) if t0 <= v[0] <= t1]
        audio += [a[3] for a in b.get("audio", []) if t0 <= a[0] <= t1]
        for rx, slot, t, pts in b.get("frames", []):
            if t0 <= t <= t1:
                frames[(rx, slot)].append(pts)
        for end, _speaker, delay in b.get("captions", []):
            if t0 <= end <= t1:
                if delay is None:
                    missing_captions += 1
                    delays.append(CAPTION_MISSING_MS)
                else:
                    delays.append(delay)
        if t0 < b["t"] <= t1 + 1.0:
            lag_max = max(lag_max, b["loop_lag_ms"][0])
            lag_p95 = max(lag_p95, b["loop_lag_ms"][1])
    rates = {key: len(pts) / seconds for key, pts in frames.items()}
    interval = 1000.0 / fps
    frames_missing = 0
    for pts in frames.values():
        ordered = sorted(p for p in pts if p >= 0)
        for a, b_ in zip(ordered, ordered[1:], strict=False):
            if b_ - a < MAX_GAP_MS:
                frames_missing += max(0, round((b_ - a) / interval) - 1)
    rtp, span = _rtp_delta(batches, t0, t1)
    loss = {
        "rtp_stats_seconds": round(span, 2),
        "video_packets_received": sum(v[0] for k, v in rtp.items() if k[1] == "video"),
        "video_packets_lost": sum(v[1] for k, v in rtp.items() if k[1] == "video"),
        "audio_packets_received": sum(v[0] for k, v in rtp.items() if k[1] == "audio"),
        "audio_packets_lost": sum(v[1] for k, v in rtp.items() if k[1] == "audio"),
        "video_frames_missing": frames_missing,
    }
    fps_values = list(rates.values())
    last = batches[-1] if batches else {}
    return {
        "fps_p50": round(float(np.median(fps_values)), 2) if fps_values else 0.0,
        "fps_min": round(float(min(fps_values)), 2) if fps_values else 0.0,
        "streams": len(fps_values),
        "video_latency_ms": percentiles(video),
        "audio_latency_ms": percentiles(audio),
        "caption_delay_ms": percentiles(delays, ("p50", "p95")) if captions else None,
        "captions_missing": missing_captions if captions else None,
        "samples": {"video": len(video), "audio": len(audio), "captions": len(delays)},
        "loss": loss,
        "generator_loop_lag_ms": {"p95": lag_p95, "max": lag_max},
        "clock_unreadable_total": last.get("unreadable", 0),
        "captions_of_unknown_speakers_total": last.get("unknown_speakers", 0) if captions else None,
        "_raw": {"video": video, "audio": audio, "captions": delays, "fps": fps_values},
    }


def find_number(data: Any, *words: str, without: str | None = None) -> float | None:
    """The first number in nested stats whose key path names all `words` and not `without`
    (e.g. "record", "lag" without "hls": `recording.archive_lag_s`)."""
    def walk(node: Any, path: str) -> float | None:
        if isinstance(node, dict):
            for key, value in node.items():
                found = walk(value, f"{path}.{key}".lower())
                if found is not None:
                    return found
        elif isinstance(node, (int, float)) and not isinstance(node, bool):
            if all(w in path for w in words) and not (without and without in path):
                return float(node)
        return None

    return walk(data, "")


def pod_window(hearings: list[dict[str, Any]], fps: int, captions: bool) -> dict[str, Any]:
    """The pod's numbers: every hearing's samples pooled."""
    video = [v for h in hearings for v in h["_raw"]["video"]]
    audio = [v for h in hearings for v in h["_raw"]["audio"]]
    delays = [v for h in hearings for v in h["_raw"]["captions"]]
    rates = [v for h in hearings for v in h["_raw"]["fps"]]
    loss: dict[str, float] = defaultdict(int)
    for h in hearings:
        for key, value in h["loss"].items():
            if key == "rtp_stats_seconds":
                loss[key] = max(loss[key], value)
            else:
                loss[key] += value
    return {
        "fps_p50": round(float(np.median(rates)), 2) if rates else 0.0,
        "fps_min": round(float(min(rates)), 2) if rates else 0.0,
        "video_latency_ms": percentiles(video),
        "audio_latency_ms": percentiles(audio),
        "caption_delay_ms": percentiles(delays, ("p50", "p95")) if captions else None,
        "captions_missing": sum(h["captions_missing"] or 0 for h in hearings) if captions else None,
        "samples": {"video": len(video), "audio": len(audio), "captions": len(delays)},
        "loss": dict(loss),
    }


def broken_bounds(step: dict[str, Any], fps: int, bounds: dict[str, float]) -> list[str]:
    """Which quality bounds a measurement breaks (the ramp stops at the first such step)."""
    broken = []
    worst_fps = min((h["fps_p50"] for h in step["per_hearing"]), default=0.0)
    if worst_fps < bounds["fps_ratio"] * fps:
        broken.append(f"fps {worst_fps:.1f} < {bounds['fps_ratio'] * fps:.1f}")
    p95 = step["video_latency_ms"]["p95"]
    if p95 is None:
        broken.append("no picture clock was read")
    elif p95 > bounds["video_p95_ms"]:
        broken.append(f"video p95 {p95:.0f} ms > {bounds['video_p95_ms']:.0f} ms")
    captions = step.get("caption_delay_ms")
    if captions is not None:
        if captions["p95"] is None:
            broken.append("no caption arrived")
        elif captions["p95"] > bounds["caption_p95_ms"]:
            broken.append(f"caption p95 {captions['p95']:.0f} ms > {bounds['caption_p95_ms']:.0f} ms")
    return broken


def strip_raw(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: strip_raw(v) for k, v in data.items() if k != "_raw"}
    if isinstance(data, list):
        return [strip_raw(v) for v in data]
    return data


# --- for people ----------------------------------------------------------------------------


def _fmt(v: Any, digits: int = 0) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _lat(d: dict[str, Any] | None, keys: Sequence[str] = ("p50", "p95", "max")) -> str:
    if not d:
        return "-"
    return "/".join(_fmt(d.get(k)) for k in keys)


def server_share(stats: dict[str, Any] | None) -> dict[str, Any] | None:
    """The pod's own share of the delay (GET /api/hearings/{id}/stats -> latency): from the last
    packet of a camera frame (an audio packet) in to the first packet of the picture (mix)
    that contains it handed to a participant's sender."""
    latency = (stats or {}).get("latency")
    if not isinstance(latency, dict):
        return None
    return {"video": latency.get("video_hold_ms"), "audio": latency.get("audio_hold_ms")}


def worst_server_share(per_hearing: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of every hearing, the one whose video share has the highest p95."""
    shares = [h["server_share_ms"] for h in per_hearing if h.get("server_share_ms")]
    if not shares:
        return None
    return max(shares, key=lambda s: (s.get("video") or {}).get("p95") or 0.0)


def _share(share: dict[str, Any] | None) -> str:
    if not share:
        return "-"
    return " ".join(_lat(share.get(kind), ("p50", "p95")) for kind in ("video", "audio"))


def table(runs: list[dict[str, Any]]) -> str:
    head = ["design", "hearings", "cpu cores", "cpu/hearing", "rss MB", "fps p50", "fps min",
            "video ms p50/p95/max", "audio ms p50/p95/max", "caption ms p50/p95", "pkts lost", "gen cpu",
            "server share ms video/audio p50/p95", "ok"]
    rows = [head]
    for run in runs:
        for step in run.get("steps", [run]):
            loss = step.get("loss", {})
            lost = (loss.get("video_packets_lost", 0) or 0) + (loss.get("audio_packets_lost", 0) or 0)
            rows.append([
                run["design"], str(step["hearings"]), _fmt(step["server_cpu_cores"], 2),
                _fmt(step.get("server_cpu_cores_per_hearing"), 2), _fmt(step["server_rss_mb"]),
                _fmt(step["fps_p50"], 1), _fmt(step.get("fps_min"), 1),
                _lat(step["video_latency_ms"]), _lat(step["audio_latency_ms"]),
                _lat(step.get("caption_delay_ms"), ("p50", "p95")), str(lost),
                _fmt(step.get("generator", {}).get("cpu_cores"), 2),
                _share(step.get("server_share_ms")),
                "yes" if not step.get("broken_by") else "NO: " + "; ".join(step["broken_by"]),
            ])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def plot(runs: list[dict[str, Any]], path: Path, title: str, latency_bound: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"pod": "tab:blue", "relay": "tab:red"}
    fig, (ax_cpu, ax_lat) = plt.subplots(1, 2, figsize=(11, 4.2))
    for run in runs:
        steps = run.get("steps", [run])
        colour = colours.get(run["design"], "tab:grey")
        x = [s["hearings"] for s in steps]
        cpu = [math.nan if s["server_cpu_cores"] is None else s["server_cpu_cores"] for s in steps]
        ax_cpu.plot(x, cpu, "o-", color=colour, label=f"{run['design']}: server")
        gen = [s.get("generator", {}).get("cpu_cores") for s in steps]
        if all(g is not None for g in gen):
            ax_cpu.plot(x, gen, "x:", color=colour, alpha=0.6, label=f"{run['design']}: load generator")
        for kind, style in (("video", "o-"), ("audio", "s--")):
            for key, alpha in (("p50", 0.45), ("p95", 1.0)):
                y = [s[f"{kind}_latency_ms"][key] for s in steps]
                ax_lat.plot(x, [math.nan if v is None else v for v in y], style, color=colour, alpha=alpha,
                            label=f"{run['design']}: {kind} {key}")
    if latency_bound:
        ax_lat.axhline(latency_bound, color="black", lw=0.8, ls=":", label=f"video p95 bound {latency_bound:.0f} ms")
    ax_cpu.set_xlabel("hearings")
    ax_cpu.set_ylabel("CPU (cores)")
    ax_cpu.set_title("CPU")
    ax_cpu.grid(alpha=0.3)
    ax_cpu.legend(fontsize=8)
    ax_lat.set_xlabel("hearings")
    ax_lat.set_ylabel("ms")
    ax_lat.set_title("glass-to-glass video (o) / mouth-to-ear audio (s)")
    ax_lat.grid(alpha=0.3)
    ax_lat.legend(fontsize=7)
    top = max((s["hearings"] for run in runs for s in run.get("steps", [run])), default=1)
    for ax in (ax_cpu, ax_lat):
        ax.set_xlim(0.5, top + 0.5)
        ax.set_xticks(range(1, top + 1))
        ax.set_ylim(bottom=0)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
