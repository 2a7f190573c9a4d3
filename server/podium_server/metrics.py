"""A tiny Prometheus text exposition: counters plus gauges read on scrape."""

from __future__ import annotations

from collections.abc import Callable


class Metrics:
    def __init__(self) -> None:
        self._counters: dict[str, float] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self._help: dict[str, str] = {}

    def inc(self, name: str, amount: float = 1.0, help: str = "") -> None:
        self._counters[name] = self._counters.get(name, 0.0) + amount
        if help:
            self._help.setdefault(name, help)

    def gauge(self, name: str, read: Callable[[], float], help: str = "") -> None:
        self._gauges[name] = read
        if help:
            self._help[name] = help

    def value(self, name: str) -> float:
        if name in self._counters:
            return self._counters[name]
        return float(self._gauges[name]())

    def render(self) -> str:
        lines: list[str] = []
        for name in sorted(self._counters):
            lines.append(f"# HELP {name} {self._help.get(name, name)}")
            lines.append(f"# TYPE {name} counter")
            lines.append(f"{name} {self._counters[name]:g}")
        for name in sorted(self._gauges):
            try:
                value = float(self._gauges[name]())
            except Exception:  # a broken gauge must not break the scrape
                continue
            lines.append(f"# HELP {name} {self._help.get(name, name)}")
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {value:g}")
        return "\n".join(lines) + "\n"
