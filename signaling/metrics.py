"""Prometheus text exposition of the pod's counters and gauges (no client library needed)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    def __init__(self) -> None:
        self._counters: dict[str, dict[tuple[tuple[str, str], ...], float]] = defaultdict(dict)
        self._help: dict[str, tuple[str, str]] = {}
        self._collectors: list[Callable[[], list[tuple[str, str, dict[str, str], float]]]] = []

    def describe(self, name: str, kind: str, text: str) -> None:
        self._help[name] = (kind, text)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        series = self._counters[name]
        series[key] = series.get(key, 0.0) + value

    def collector(self, fn: Callable[[], list[tuple[str, str, dict[str, str], float]]]) -> None:
        """A function returning gauge samples (name, help, labels, value) at scrape time."""
        self._collectors.append(fn)

    def render(self) -> str:
        lines: list[str] = []
        for name, series in sorted(self._counters.items()):
            kind, text = self._help.get(name, ("counter", name))
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for key, value in series.items():
                lines.append(f"{name}{_labels(dict(key))} {value:g}")
        gauges: dict[str, tuple[str, list[str]]] = {}
        for fn in self._collectors:
            for name, text, labels, value in fn():
                gauges.setdefault(name, (text, []))[1].append(f"{name}{_labels(labels)} {value:g}")
        for name, (text, samples) in sorted(gauges.items()):
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} gauge")
            lines.extend(samples)
        return "\n".join(lines) + "\n"
