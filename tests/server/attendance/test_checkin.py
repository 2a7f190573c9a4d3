from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance import checkin
from podium_server.attendance import records as r
from podium_server.attendance.checkin import (
    ANNULLED,
    BadgeCheck,
    ScanFacts,
    Scanner,
    ScanRequest,
    decide_annul,
    decide_scan,
    pair_flags,
)
from podium_server.attendance.records import PairLedger
from podium_server.event.model import Event

from .conftest import T0, make_event

SCANNER = Scanner(device="door-A-1", actor="jti1")
SCANNER_B = Scanner(device="door-B-1", actor="jti2")
OK = BadgeCheck("p1")


def facts(
    pair: PairLedger | None = None, *, known: bool = True, revoked: bool = False
) -> ScanFacts:
    return ScanFacts(known, revoked, pair or PairLedger("s1", "p1"))


def req(
    rid: str = "r1", direction: str = "in", session: str = "s1", at: float | None = None
) -> ScanRequest:
    return ScanRequest(rid, "PB1.p1.x", session, direction, at)


def test_accepted_in_then_already_inside_then_out_then_not_inside(event: Event) -> None:
    now = T0 + 60
    d = decide_scan(event, req("r1"), SCANNER, OK, facts(), now)
    assert d.outcome == r.ACCEPTED and d.first_seen_at == now and d.new_pair is not None
    assert d.new_pair.version == 1
    d2 = decide_scan(event, req("r2"), SCANNER_B, OK, facts(d.new_pair), now + 10)
    assert d2.outcome == r.ALREADY_INSIDE and d2.first_seen_at == now
    # kept in the ledger, changing nothing: still inside since the first scan
    assert d2.new_pair is not None and d2.new_pair.version == 2
    assert checkin_inside_at(d2.new_pair, now + 15) is d.new_pair.scans[0]
    d3 = decide_scan(event, req("r3", "out"), SCANNER, OK, facts(d2.new_pair), now + 20)
    assert d3.outcome == r.ACCEPTED and d3.new_pair is not None
    d4 = decide_scan(event, req("r4", "out"), SCANNER_B, OK, facts(d3.new_pair), now + 30)
    assert d4.outcome == r.NOT_INSIDE and d4.new_pair is not None
    assert not pair_flags(d4.new_pair, now + 30).inside


def test_a_badge_read_again_at_the_same_door_is_answered_not_kept(event: Event) -> None:
    """A camera that keeps seeing a badge, a second tap: the same device, the same way,
    within REPEAT_WINDOW_S of the pair's last scan. Answered, but the ledger stays as it
    is (a stuck scanner cannot grow it); another door's read, or a later one, is kept."""
    now = T0 + 60
    inside = decide_scan(event, req("r1"), SCANNER, OK, facts(), now).new_pair
    assert inside is not None
    window = checkin.REPEAT_WINDOW_S
    for n in range(1, 50):
        again = decide_scan(event, req(f"x{n}"), SCANNER, OK, facts(inside), now + n / 10)
        assert again.outcome == r.ALREADY_INSIDE and again.new_pair is None
    other_door = decide_scan(event, req("b1"), SCANNER_B, OK, facts(inside), now + 5)
    assert other_door.outcome == r.ALREADY_INSIDE and other_door.new_pair is not None
    later = decide_scan(event, req("r2"), SCANNER, OK, facts(inside), now + window)
    assert later.outcome == r.ALREADY_INSIDE and later.new_pair is not None
    # an exit read twice: the second is a repeat too
    out = decide_scan(event, req("o1", "out"), SCANNER, OK, facts(inside), now + 100).new_pair
    assert out is not None
    twice = decide_scan(event, req("o2", "out"), SCANNER, OK, facts(out), now + 101)
    assert twice.outcome == r.NOT_INSIDE and twice.new_pair is None


def test_badge_failures(event: Event) -> None:
    now = T0
    forged = decide_scan(event, req(), SCANNER, BadgeCheck(None, "invalid_signature"), None, now)
    assert forged.outcome == r.INVALID_SIGNATURE
    junk = decide_scan(event, req(), SCANNER, BadgeCheck(None, "malformed"), None, now)
    assert junk.outcome == r.UNKNOWN_BADGE
    assert (
        decide_scan(event, req(), SCANNER, OK, facts(known=False), now).outcome == r.UNKNOWN_BADGE
    )
    assert decide_scan(event, req(), SCANNER, OK, facts(revoked=True), now).outcome == r.REVOKED


def test_a_revoked_badge_enters_no_more_but_its_exit_is_recorded(event: Event) -> None:
    now = T0 + 60
    inside = decide_scan(event, req("a"), SCANNER, OK, facts(), now).new_pair
    assert inside is not None
    revoked_inside = ScanFacts(True, True, inside)
    again = decide_scan(event, req("b"), SCANNER, OK, revoked_inside, now + 10)
    assert again.outcome == r.REVOKED and again.new_pair is None
    out = decide_scan(event, req("c", "out"), SCANNER, OK, revoked_inside, now + 20)
    assert out.outcome == r.ACCEPTED and out.new_pair is not None
    assert out.new_pair.scans[-1].direction == "out"
    gone = ScanFacts(True, True, out.new_pair)
    assert decide_scan(event, req("d", "out"), SCANNER, OK, gone, now + 30).outcome == r.REVOKED
    assert decide_scan(event, req("e"), SCANNER, OK, gone, now + 40).outcome == r.REVOKED


def test_wrong_session(event: Event) -> None:
    now = T0
    bound = Scanner("d", "a", bound_session="s2")
    assert decide_scan(event, req(), bound, OK, facts(), now).outcome == r.WRONG_SESSION
    assert (
        decide_scan(event, req(session="nope"), SCANNER, OK, facts(), now).outcome
        == r.WRONG_SESSION
    )
    # an online-only session has no door
    assert (
        decide_scan(event, req(session="s3"), SCANNER, OK, facts(), now).outcome == r.WRONG_SESSION
    )
    assert decide_scan(None, req(), SCANNER, OK, facts(), now).outcome == r.WRONG_SESSION


@pytest.mark.parametrize(
    ("offset", "outcome"),
    [
        (-31 * 60, r.OUTSIDE_WINDOW),
        (-30 * 60, r.ACCEPTED),
        (3600, r.ACCEPTED),
        (3601, r.OUTSIDE_WINDOW),
    ],
)
def test_checkin_window(event: Event, offset: float, outcome: str) -> None:
    assert decide_scan(event, req(), SCANNER, OK, facts(), T0 + offset).outcome == outcome


def test_closes_after_start() -> None:
    ev = make_event()
    ev = dataclasses.replace(ev, checkin=dataclasses.replace(ev.checkin, closes_after_start_min=15))
    assert decide_scan(ev, req(), SCANNER, OK, facts(), T0 + 16 * 60).outcome == r.OUTSIDE_WINDOW


def test_offline_scan_uses_scanned_at_and_never_the_future(event: Event) -> None:
    d = decide_scan(event, req(at=T0 + 5), SCANNER, OK, facts(), T0 + 500)
    assert d.at == T0 + 5
    # a scanner clock a little ahead is forgiven: the scan is dated now
    skew = checkin.MAX_CLOCK_SKEW_S
    assert checkin.future_scan_error(req(at=T0 + 500 + skew), T0 + 500) is None
    d = decide_scan(event, req(at=T0 + 500 + skew), SCANNER, OK, facts(), T0 + 500)
    assert d.at == T0 + 500
    # further ahead is refused, saying why (the service answers it with bad_message)
    error = checkin.future_scan_error(req(at=T0 + 501 + skew), T0 + 500)
    assert error is not None and "301 s ahead" in error and "clock" in error
    assert checkin.future_scan_error(req(), T0 + 500) is None  # a live scan: dated now


def test_inside_now_is_nobody_once_the_session_is_over(event: Event) -> None:
    s1 = event.session("s1")
    assert s1 is not None
    assert checkin.inside_now(7, s1, s1.end_ts - 1) == 7
    assert checkin.inside_now(7, s1, s1.end_ts) == 0
    assert checkin.inside_now(7, None, s1.end_ts + 1) == 7  # unknown session: as stored


def test_an_offline_scan_dated_before_its_scanner_was_authorized_is_refused(
    event: Event,
) -> None:
    """A leaked token cannot make up past attendance: scans dated long before it was
    issued (a day: a queue kept over a token renewal still uploads) are refused, both
    ways, and change no ledger."""
    issued = T0 + 1000 + checkin.QUEUED_BEFORE_TOKEN_S
    door = Scanner("door", "jti", authorized_from=issued)
    inside = decide_scan(event, req("a", at=T0 + 10), SCANNER, OK, facts(), T0 + 20).new_pair
    assert inside is not None
    for request, pair in ((req("b", at=T0 + 100), None), (req("c", "out", at=T0 + 100), inside)):
        d = decide_scan(event, request, door, OK, facts(pair), issued + 60)
        assert d.outcome == r.OUTSIDE_WINDOW and d.new_pair is None
    slack = issued - checkin.QUEUED_BEFORE_TOKEN_S
    late = decide_scan(event, req("d", at=slack), door, OK, facts(), issued + 60)
    assert late.outcome == r.ACCEPTED and late.at == slack
    d = decide_scan(event, req("e", at=slack - 1), door, OK, facts(), issued + 60)
    assert d.outcome == r.OUTSIDE_WINDOW
    forged = BadgeCheck(None, "invalid_signature")  # a forged badge is said to be forged
    old = decide_scan(event, req("f", at=T0 + 100), door, forged, None, issued + 60)
    assert old.outcome == r.INVALID_SIGNATURE


def test_late_offline_in_before_an_earlier_recorded_in(event: Event) -> None:
    first = decide_scan(event, req("a", at=T0 + 600), SCANNER, OK, facts(), T0 + 600).new_pair
    assert first is not None
    late = decide_scan(event, req("b", at=T0 + 100), SCANNER, OK, facts(first), T0 + 900)
    assert late.outcome == r.ACCEPTED and late.first_seen_at == T0 + 100


def test_annul_same_device_within_15_minutes(event: Event) -> None:
    d = decide_scan(event, req("r1"), SCANNER, OK, facts(), T0)
    assert d.new_pair is not None
    assert pair_flags(d.new_pair, T0).inside
    other = decide_annul(d.new_pair, "r1", "door-B", T0 + 10)
    assert other.outcome == "forbidden"
    late = decide_annul(d.new_pair, "r1", "door-A-1", T0 + 15 * 60 + 1)
    assert late.outcome == "forbidden"
    missing = decide_annul(d.new_pair, "zz", "door-A-1", T0 + 10)
    assert missing.outcome == "not_found"
    # door B used the same request id for its own scan (ids are the client's): each
    # door annuls its own scan only
    b = decide_scan(event, req("r1", "out"), SCANNER_B, OK, facts(d.new_pair), T0 + 5)
    assert b.new_pair is not None
    only_b = decide_annul(b.new_pair, "r1", "door-B-1", T0 + 10)
    assert only_b.outcome == ANNULLED and only_b.new_pair is not None
    assert only_b.scan is not None and only_b.scan.device == "door-B-1"
    assert [(s.device, s.annulled) for s in only_b.new_pair.scans] == [
        ("door-A-1", False),
        ("door-B-1", True),
    ]
    ok = decide_annul(d.new_pair, "r1", "door-A-1", T0 + 10)
    assert ok.outcome == ANNULLED and ok.new_pair is not None
    assert ok.new_pair.version == 2
    flags = pair_flags(ok.new_pair, T0 + 10)
    assert not flags.inside and not flags.door_seen
    again = decide_annul(ok.new_pair, "r1", "door-A-1", T0 + 20)
    assert again.outcome == ANNULLED and again.new_pair is None
    # once annulled, the same person can be scanned in again
    d2 = decide_scan(event, req("r2"), SCANNER, OK, facts(ok.new_pair), T0 + 30)
    assert d2.outcome == r.ACCEPTED


@given(st.lists(st.tuples(st.sampled_from(["in", "out"]), st.floats(0, 3600)), max_size=25))
def test_state_machine_alternates_in_live_order(steps: list[tuple[str, float]]) -> None:
    """Scanned live (times non-decreasing), accepted scans alternate in/out starting with
    in; every door scan in the window is kept, the others change nothing."""
    event = make_event()
    pair = PairLedger("s1", "p1")
    now = T0
    accepted: list[str] = []
    kept = 0
    for i, (direction, dt) in enumerate(steps):
        now += dt / 10
        d = decide_scan(event, req(f"r{i}", direction), SCANNER, OK, facts(pair), now)
        if d.outcome == r.ACCEPTED:
            accepted.append(direction)
        else:
            assert d.outcome in (r.ALREADY_INSIDE, r.NOT_INSIDE, r.OUTSIDE_WINDOW)
        if d.new_pair is not None:
            assert d.outcome != r.OUTSIDE_WINDOW
            pair = d.new_pair
            kept += 1
    assert accepted == ["in", "out"] * (len(accepted) // 2) + ["in"] * (len(accepted) % 2)
    assert pair.version == kept


@given(
    # distinct times: scans at the very same instant are ordered by arrival (door_order)
    st.lists(
        st.tuples(st.sampled_from(["in", "out"]), st.integers(0, 3000)),
        max_size=12,
        unique_by=lambda scan: scan[1],
    ),
    st.randoms(use_true_random=False),
)
def test_door_scans_mean_the_same_in_any_order_of_arrival(
    scans: list[tuple[str, int]], rnd: object
) -> None:
    """Offline queues upload late and out of order (door B's queue after door A's): the
    ledger reached, and so the time in the room, must not depend on the arrival order."""
    import random

    from podium_server.attendance import intervals

    assert isinstance(rnd, random.Random)
    event = make_event()

    def room_after(order: list[int]) -> list[tuple[float, float]]:
        pair = PairLedger("s1", "p1")
        for n, i in enumerate(order):
            direction, at = scans[i]
            request = req(f"r{i}", direction, at=T0 + at)
            door = Scanner(f"door-{i}", "jti")  # (one door's repeats: see the test below)
            d = decide_scan(event, request, door, OK, facts(pair), T0 + 3600 + n)
            assert d.new_pair is not None, d.outcome  # every door scan is kept
            pair = d.new_pair
        return intervals.door_intervals(pair.scans, T0 + 3600)

    arrival = list(range(len(scans)))
    shuffled = arrival[:]
    rnd.shuffle(shuffled)
    assert room_after(arrival) == room_after(shuffled)


def test_a_late_exit_from_another_door_counts_whichever_queue_comes_first(event: Event) -> None:
    """Door A's queue: in@0, in@600 (already inside); door B's: out@300. Inside 0-300 and
    600 on, whichever door uploads first."""
    from podium_server.attendance import intervals

    door_a = [req("a1", at=T0), req("a2", at=T0 + 600)]
    door_b = [req("b1", "out", at=T0 + 300)]
    for uploads in (door_a + door_b, door_b + door_a):
        pair = PairLedger("s1", "p1")
        for request in uploads:
            d = decide_scan(event, request, SCANNER, OK, facts(pair), T0 + 900)
            assert d.new_pair is not None
            pair = d.new_pair
        room = intervals.door_intervals(pair.scans, T0 + 3600)
        assert room == [(T0, T0 + 300), (T0 + 600, T0 + 3600)]


@given(
    st.lists(
        st.tuples(st.sampled_from(["in", "out"]), st.integers(0, 20), st.booleans()),
        max_size=25,
    )
)
def test_inside_last_kept_by_with_scan_matches_a_walk(steps: list[tuple[str, int, bool]]) -> None:
    """`with_scan` carries the running answer (and the door order) over; it must agree
    with walking the ledger from scratch, whatever order the scans arrive in."""
    from podium_server.attendance import intervals

    pair = PairLedger("s1", "p1")
    pair.inside_last  # noqa: B018 -- computed once, then carried over
    for n, (direction, at, late) in enumerate(steps):
        scan = r.DoorScan(f"x{n}", "s1", "p1", direction, T0 + at, "d", T0 + 100 + n, late, n + 1)
        pair = pair.with_scan(scan)
        fresh = PairLedger("s1", "p1", pair.scans, pair.version)
        assert pair.ordered == fresh.ordered
        assert pair.inside_last == intervals.inside_at_ordered(fresh.ordered, float("inf"))
        for t in range(-1, 22):
            assert checkin_inside_at(pair, T0 + t) == intervals.inside_at_ordered(
                fresh.ordered, T0 + t
            )


def checkin_inside_at(pair: PairLedger, t: float) -> r.DoorScan | None:
    from podium_server.attendance.checkin import _inside_at

    return _inside_at(pair, t)
