"""`/metrics`: the Prometheus exposition, on prometheus-client, one registry per app.

Besides what the code counts (`inc`, by name) and reads on scrape (`gauge`), it carries
what an operator watches for trouble (docs/metrics.md lists every series):

- the process: resident memory, open file descriptors, CPU seconds, GC collections;
- `podium_scan_ack_seconds`: a scan's frame read to its answer, as histogram;
- `podium_dashboard_push_lag_seconds`: a change committed to its dashboard update sent;
- `podium_ws_connections{role}`: open WebSockets (`pending` until their hello);
- store errors and outage seconds (read from the store's `OutageLog` when scraped).

The two histograms are observed on the hot path (every scan), so they are plain lists
of counts bucketed with `bisect` (a fraction of a microsecond) and turned into histogram
families at scrape time, not prometheus-client `Histogram`s, which take a lock per
observation. Everything runs on the event loop's thread.
"""

from __future__ import annotations

import bisect
import functools
import math
from collections import Counter as Tally
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .store.outage import OutageLog

# An answer within 5-50 ms is normal at full load (bench/checkins.py); above 1 s a scanner
# user waits visibly; the store's deadline is 5 s.
SCAN_ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Dashboards are pushed at most every 100-250 ms by design; a second is late.
PUSH_LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Counted elsewhere by name (`inc`), declared here so a graph has them from the start.
KNOWN_COUNTERS = (
    ("podium_scans_total", "scans recorded"),
    ("podium_relay_packets_dropped_total", "RTP packets the relay could not send to a viewer"),
)


class LatencyHistogram:
    """Counts per bucket and a sum; exposed as a Prometheus histogram."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = list(buckets)
        self.counts = [0] * (len(buckets) + 1)  # the last: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    @property
    def count(self) -> int:
        return sum(self.counts)

    def family(self) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, n in zip([*self.bounds, math.inf], self.counts, strict=True):
            running += n
            cumulative.append(("+Inf" if bound == math.inf else repr(bound), running))
        family = HistogramMetricFamily(self.name, self.documentation)
        family.add_metric([], cumulative, self.sum)
        return family


class _Collected(Collector):
    """Families built when scraped, from a function."""

    def __init__(self, collect: Callable[[], Iterator[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterator[Metric]:
        return self._collect()


class Metrics:
    """Owns the app's Prometheus registry: counters by name, gauges read on scrape, and
    the two latency histograms the hot paths observe."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Callable[[], float]] = {}
        self.scan_ack = LatencyHistogram(
            "podium_scan_ack_seconds",
            "a scan's frame read to its answer (durable) on /ws",
            SCAN_ACK_BUCKETS,
        )
        self.push_lag = LatencyHistogram(
            "podium_dashboard_push_lag_seconds",
            "a session's change committed to its dashboard update sent",
            PUSH_LAG_BUCKETS,
        )
        self.ws_open: Tally[str] = Tally()
        self._ws_gauge = Gauge(
            "podium_ws_connections",
            "open /ws connections by role (pending: no hello yet)",
            ["role"],
            registry=self.registry,
        )
        for role in ("pending", "staff", "organizer", "trainee"):
            self._ws_gauge.labels(role).set_function(
                functools.partial(self.ws_open.__getitem__, role)
            )
        self.registry.register(_Collected(self._histograms))
        for name, documentation in KNOWN_COUNTERS:  # shown at 0 before their first event
            self.inc(name, 0, documentation)

    def _histograms(self) -> Iterator[Metric]:
        yield self.scan_ack.family()
        yield self.push_lag.family()

    def collect_also(self, collect: Callable[[], Iterator[Metric]]) -> None:
        """Families built at scrape time by `collect` (the store outage figures)."""
        self.registry.register(_Collected(collect))

    def ws_role_changed(self, old: str | None, new: str | None) -> None:
        """A /ws connection opened (old None), said hello, or closed (new None)."""
        if old is not None:
            self.ws_open[old] -= 1
        if new is not None:
            self.ws_open[new] += 1

    def inc(self, name: str, amount: float = 1.0, help: str = "") -> None:
        """Counter `name` (ending in `_total`, as exposed) by `amount`, made on first use."""
        counter = self._counters.get(name)
        if counter is None:
            counter = self._counters[name] = Counter(name, help or name, registry=self.registry)
        counter.inc(amount)

    def gauge(self, name: str, read: Callable[[], float], help: str = "") -> None:
        """A gauge read on scrape (the latest `read` given for `name`); a read that fails
        shows NaN rather than failing the scrape."""

        def safe_read() -> float:
            try:
                return float(self._gauges[name]())
            except Exception:
                return math.nan

        if name not in self._gauges:
            Gauge(name, help or name, registry=self.registry).set_function(safe_read)
        self._gauges[name] = read

    def value(self, name: str) -> float:
        if name in self._gauges:
            return float(self._gauges[name]())
        found = self.registry.get_sample_value(name)
        if found is None:
            raise KeyError(name)
        return found

    def render(self) -> str:
        return generate_latest(self.registry).decode()


def store_outage_families(outage: OutageLog) -> Callable[[], Iterator[Metric]]:
    """The store's outage figures, read from its OutageLog when scraped."""

    def collect() -> Iterator[Metric]:
        yield CounterMetricFamily(
            "podium_store_errors",
            "store calls failed because the store could not be reached (answered unavailable)",
            value=outage.errors,
        )
        yield CounterMetricFamily(
            "podium_store_outage_seconds",
            "seconds the store could not be reached, the current outage included",
            value=outage.outage_seconds(),
        )
        yield GaugeMetricFamily(
            "podium_store_up", "0 while the store cannot be reached", value=0 if outage.down else 1
        )

    return collect
