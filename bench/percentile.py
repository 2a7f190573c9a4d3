"""The percentile every bench reports its latencies with."""

from __future__ import annotations


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values` by nearest rank, an observed value; NaN when
    there are none (a run that measured nothing shows as such, not as 0)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
