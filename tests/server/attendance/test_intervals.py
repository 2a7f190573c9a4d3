from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance import intervals
from podium_server.attendance.records import DoorScan, PairLedger

times = st.floats(min_value=0, max_value=10_000, allow_nan=False, allow_infinity=False)
pairs = st.lists(st.tuples(times, times).map(lambda t: (min(t), max(t))), max_size=30)


def covered(xs: list[tuple[float, float]], t: float) -> bool:
    return any(a <= t < b for a, b in xs)


def test_union_merges_overlaps_and_touching() -> None:
    assert intervals.union([(5, 7), (0, 2), (1, 3), (3, 4)]) == [(0, 4), (5, 7)]


def test_union_drops_empty_and_reversed() -> None:
    assert intervals.union([(3, 3), (5, 1)]) == []


def test_clip() -> None:
    assert intervals.clip([(0, 10), (12, 20), (30, 40)], 5, 15) == [(5, 10), (12, 15)]


@given(pairs)
def test_union_is_sorted_disjoint_and_covers_the_same_points(xs: list[tuple[float, float]]) -> None:
    u = intervals.union(xs)
    for (a, b), (c, d) in zip(u, u[1:], strict=False):
        assert a < b < c < d
    probes = {p for a, b in xs for p in (a, b, (a + b) / 2)}
    for t in probes:
        assert covered(u, t) == covered(xs, t)


@given(pairs, pairs)
def test_union_length_bounds(xs: list[tuple[float, float]], ys: list[tuple[float, float]]) -> None:
    both = intervals.length(xs + ys)
    assert both <= intervals.length(xs) + intervals.length(ys) + 1e-6
    assert both + 1e-6 >= max(intervals.length(xs), intervals.length(ys))
    # inclusion-exclusion: in-room + online is counted once
    overlap = intervals.length(intervals.intersect(xs, ys))
    assert abs(both - (intervals.length(xs) + intervals.length(ys) - overlap)) < 1e-6


@given(pairs, times, times)
def test_clip_stays_inside_and_never_grows(
    xs: list[tuple[float, float]], a: float, b: float
) -> None:
    lo, hi = min(a, b), max(a, b)
    c = intervals.clip(xs, lo, hi)
    assert all(lo <= s <= e <= hi for s, e in c)
    assert intervals.length(c) <= min(intervals.length(xs), hi - lo) + 1e-6


@given(pairs)
def test_union_idempotent(xs: list[tuple[float, float]]) -> None:
    u = intervals.union(xs)
    assert intervals.union(u) == u
    assert intervals.union(u + xs) == u


def scan(direction: str, at: float, n: int = 0, annulled: bool = False) -> DoorScan:
    return DoorScan(f"r{n}-{at}", "s1", "p1", direction, at, "dev", at, annulled)


def test_door_in_out() -> None:
    assert intervals.door_intervals([scan("in", 10), scan("out", 50)], 100) == [(10, 50)]


def test_door_in_to_session_end_when_nobody_scans_out() -> None:
    assert intervals.door_intervals([scan("in", 10)], 100) == [(10, 100)]


def test_door_double_in_and_stray_out_change_nothing() -> None:
    scans = [scan("out", 5), scan("in", 10), scan("in", 20), scan("out", 30), scan("out", 40)]
    assert intervals.door_intervals(scans, 100) == [(10, 30)]


def test_door_order_is_by_time_not_arrival() -> None:
    scans = [scan("out", 30), scan("in", 10)]
    assert intervals.door_intervals(scans, 100) == [(10, 30)]


def test_annulled_scans_do_not_count() -> None:
    assert intervals.door_intervals([scan("in", 10, annulled=True)], 100) == []


directions = st.sampled_from(["in", "out"])


@given(st.lists(st.tuples(directions, times), max_size=20), times)
def test_door_intervals_lie_between_first_in_and_the_end(
    events: list[tuple[str, float]], end: float
) -> None:
    scans = [scan(d, t, i) for i, (d, t) in enumerate(events)]
    out = intervals.door_intervals(scans, end)
    first = intervals.first_in(scans)
    if first is None:
        assert out == []
    for a, b in out:
        assert first is not None and a >= first
        assert b <= max([end, *(s.at for s in scans)])
    # whatever the arrival order, the meaning is the same
    assert intervals.door_intervals(list(reversed(scans)), end) == out


@given(st.lists(st.tuples(directions, times), max_size=20), times)
def test_inside_at_agrees_with_door_intervals(events: list[tuple[str, float]], t: float) -> None:
    scans = [scan(d, at, i) for i, (d, at) in enumerate(events)]
    horizon = 20_000.0
    inside = intervals.inside_at(scans, t) is not None
    ivs = intervals.door_intervals(scans, horizon)
    # inside at t (scans at t applied) <=> t in [a, b) of some interval
    assert inside == any(a <= t < b for a, b in ivs) or any(s.at == t for s in scans)


small_times = st.sampled_from([0.0, 1.0, 2.0, 3.0])  # many ties: exercise the tie-breaks


@given(
    st.lists(
        st.tuples(st.sampled_from(["in", "out"]), small_times, small_times, st.booleans()),
        max_size=25,
    ),
    st.lists(st.integers(min_value=0, max_value=25), max_size=5),
)
def test_ledger_door_order_kept_by_insertion_matches_a_fresh_sort(
    events: list[tuple[str, float, float, bool]], touch: list[int]
) -> None:
    """A cached ledger grown scan by scan (`with_scan`) walks the same door order, the
    same `inside_at` and `first_in`, as the same scans sorted from scratch."""
    pair = PairLedger("s", "p")
    for i, (direction, at, received, annulled) in enumerate(events):
        if i in touch or i % 3 == 0:
            _ = pair.ordered  # computed: the next with_scan inserts instead of sorting
        scan = DoorScan(f"r{i % 4}", "s", "p", direction, at, "d", received, annulled, i % 2)
        pair = pair.with_scan(scan)
        fresh = PairLedger("s", "p", pair.scans, pair.version)
        assert pair.ordered == fresh.ordered == tuple(intervals.ordered_scans(pair.scans))
        for t in (-1.0, 0.0, 1.5, 3.0, math.inf):
            assert intervals.inside_at_ordered(pair.ordered, t) == intervals.inside_at(
                pair.scans, t
            )
        assert intervals.first_in_ordered(pair.ordered) == intervals.first_in(pair.scans)
