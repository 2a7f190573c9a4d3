from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance import eligibility as el
from podium_server.attendance.records import DoorScan, WatchInterval

from .conftest import T0, make_event

EV = make_event()
S1 = EV.sessions[0]


def door(direction: str, at: float, n: int = 0) -> DoorScan:
    return DoorScan(f"r{n}", "s1", "p1", direction, at, "d", at)


def watch(a: float, b: float, n: int = 0) -> WatchInterval:
    return WatchInterval("s1", "p1", f"w{n}", a, b, False)


def test_room_and_online_overlap_counts_once() -> None:
    a = el.session_attendance(
        S1, "p1", [door("in", T0), door("out", T0 + 1800)], [watch(T0 + 1200, T0 + 3000)], 0.75
    )
    assert a.room_s == 1800 and a.online_s == 1800 and a.total_s == 3000
    assert a.status == el.ATTENDED


def test_clipped_to_session_and_in_to_end() -> None:
    a = el.session_attendance(
        S1, "p1", [door("in", T0 - 1200)], [watch(T0 - 500, T0 + 99999)], 0.75
    )
    assert a.room_s == 3600 and a.online_s == 3600 and a.total_s == 3600


def test_statuses() -> None:
    assert el.session_attendance(S1, "p1", [], [], 0.75).status == el.ABSENT
    partial = el.session_attendance(S1, "p1", [door("in", T0), door("out", T0 + 60)], [], 0.75)
    assert partial.status == el.PARTIAL
    exact = el.session_attendance(S1, "p1", [door("in", T0), door("out", T0 + 2700)], [], 0.75)
    assert exact.status == el.ATTENDED


def test_live_view_stops_at_now() -> None:
    a = el.session_attendance(S1, "p1", [door("in", T0)], [], 0.75, now=T0 + 600)
    assert a.total_s == 600


seconds = st.floats(-4000, 8000)


@given(
    st.lists(st.tuples(st.sampled_from(["in", "out"]), seconds), max_size=12),
    st.lists(st.tuples(seconds, seconds).map(lambda t: (min(t), max(t))), max_size=8),
)
def test_never_double_counted(
    doors: list[tuple[str, float]], watches: list[tuple[float, float]]
) -> None:
    scans = [door(d, T0 + t, i) for i, (d, t) in enumerate(doors)]
    ws = [watch(T0 + a, T0 + b, i) for i, (a, b) in enumerate(watches)]
    a = el.session_attendance(S1, "p1", scans, ws, 0.75)
    assert 0 <= a.total_s <= S1.duration_s
    assert max(a.room_s, a.online_s) <= a.total_s + 1e-6
    assert a.total_s <= a.room_s + a.online_s + 1e-6
    # watching the same interval twice (two tabs) adds nothing
    twice = el.session_attendance(S1, "p1", scans, ws + ws, 0.75)
    assert abs(twice.total_s - a.total_s) < 1e-6


def att(sid: str, ok: bool) -> el.SessionAttendance:
    s = EV.session(sid)
    assert s is not None
    t = s.duration_s if ok else 0.0
    return el.SessionAttendance(sid, "p1", t, 0, t, s.duration_s, el.ATTENDED if ok else el.ABSENT)


def test_eligibility_all_required() -> None:
    assert el.required_sessions(EV) == ("s1", "s2", "s3")
    full = {sid: att(sid, True) for sid in ("s1", "s2", "s3")}
    assert el.eligibility(EV, "p1", full).eligible
    full["s2"] = att("s2", False)
    assert not el.eligibility(EV, "p1", full).eligible
    # the optional session does not make up for a required one
    full["s4"] = att("s4", True)
    assert not el.eligibility(EV, "p1", full).eligible


def test_eligibility_n_of_required() -> None:
    ev = make_event(required=2)
    table = {"s1": att("s1", True), "s2": att("s2", False), "s3": att("s3", True)}
    e = el.eligibility(ev, "p1", table)
    assert e.needed == 2 and e.eligible
    assert el.needed_count(make_event(required=9)) == 3


def test_minutes_rounds_down() -> None:
    assert el.minutes(119.9) == 1 and el.minutes(120) == 2
