"""Interval arithmetic on epoch seconds: union, clipping, door intervals.

An interval is a `(start, end)` tuple of floats with `start <= end`, half-open in
spirit (touching intervals merge). Everything here is pure and total: bad input is
normalised (reversed pairs are dropped), never raised on, so the report never fails
because one scanner sent something odd.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .records import DoorScan, door_order

Interval = tuple[float, float]


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, disjoint, non-touching intervals covering exactly the same points."""
    ordered = sorted((a, b) for a, b in intervals if b > a)
    out: list[Interval] = []
    for start, end in ordered:
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1] = (out[-1][0], end)
        else:
            out.append((start, end))
    return out


def clip(intervals: Iterable[Interval], lo: float, hi: float) -> list[Interval]:
    """The parts of `intervals` inside `[lo, hi]` (empty parts dropped)."""
    out: list[Interval] = []
    for start, end in intervals:
        a, b = max(start, lo), min(end, hi)
        if b > a:
            out.append((a, b))
    return out


def length(intervals: Iterable[Interval]) -> float:
    """Total length of the union (overlaps count once)."""
    return sum(b - a for a, b in union(intervals))


def intersect(xs: Iterable[Interval], ys: Iterable[Interval]) -> list[Interval]:
    """Points in both unions."""
    a, b = union(xs), union(ys)
    out: list[Interval] = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if hi > lo:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def ordered_scans(scans: Iterable[DoorScan]) -> list[DoorScan]:
    """Live (not annulled) scans in door-time order; ties by arrival, then ledger position
    (`seq`: ids are client strings, "r10" sorts before "r9"), then id."""
    live = [s for s in scans if not s.annulled]
    return sorted(live, key=door_order)


def door_intervals(scans: Iterable[DoorScan], open_until: float) -> list[Interval]:
    """Presence in the room from door scans: in -> out, or in -> `open_until`.

    A second `in` while inside and an `out` while outside change nothing, so any
    sequence of scans (offline uploads arrive late and out of order) has one meaning.
    `open_until` is the session end for reports, or "now" for a live view.
    """
    out: list[Interval] = []
    opened: float | None = None
    for scan in ordered_scans(scans):
        if scan.direction == "in":
            if opened is None:
                opened = scan.at
        elif opened is not None:
            out.append((opened, scan.at))
            opened = None
    if opened is not None:
        out.append((opened, max(opened, open_until)))
    return union(out)


def inside_at(scans: Sequence[DoorScan], t: float) -> DoorScan | None:
    """The `in` scan that has the trainee inside at time `t`, or None if outside.

    Scans at exactly `t` count as before `t` (so an `out` at t means outside at t).
    """
    return inside_at_ordered(ordered_scans(scans), t)


def inside_at_ordered(ordered: Sequence[DoorScan], t: float) -> DoorScan | None:
    """`inside_at` for scans already live and in door order (`PairLedger.ordered`)."""
    opened: DoorScan | None = None
    for scan in ordered:
        if scan.at > t:
            break
        if scan.direction == "in":
            if opened is None:
                opened = scan
        else:
            opened = None
    return opened


def first_in_ordered(ordered: Sequence[DoorScan]) -> float | None:
    """`first_in` for scans already live and in door order."""
    for scan in ordered:
        if scan.direction == "in":
            return scan.at
    return None


def first_in(scans: Iterable[DoorScan]) -> float | None:
    times = [s.at for s in scans if not s.annulled and s.direction == "in"]
    return min(times) if times else None
