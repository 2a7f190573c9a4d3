"""The /ws connection rules without a socket: frames, refusals, floods, searches, tokens."""

from __future__ import annotations

from podium_server.attendance.connection_rules import (
    BURST,
    FLOOD_REFUSALS_BURST,
    FLOOD_REFUSALS_PER_S,
    LOOK_EVERY_S,
    RATE_PER_S,
    SEARCH_BURST,
    Admission,
    AuthCheck,
    ConnectionRules,
)


def test_a_burst_is_handled_then_the_next_frame_is_told_to_slow_down() -> None:
    rules = ConnectionRules(authenticated_at=0.0)
    verdicts = [rules.admit_frame(10.0) for _ in range(int(BURST) + 1)]
    assert verdicts[:-1] == [Admission.HANDLE] * int(BURST)
    assert verdicts[-1] is Admission.SLOW_DOWN


def test_the_bucket_refills_at_the_rate() -> None:
    rules = ConnectionRules(authenticated_at=0.0)
    for _ in range(int(BURST)):
        rules.admit_frame(10.0)
    assert rules.admit_frame(10.0) is Admission.SLOW_DOWN
    # one frame's worth of time later, one more frame passes, and only one
    later = 10.0 + 1.0 / RATE_PER_S
    assert rules.admit_frame(later) is Admission.HANDLE
    assert rules.admit_frame(later) is Admission.SLOW_DOWN


def test_refusals_past_their_own_burst_are_a_flood_for_good() -> None:
    rules = ConnectionRules(authenticated_at=0.0)
    for _ in range(int(BURST)):
        rules.admit_frame(10.0)
    refused = [rules.admit_frame(10.0) for _ in range(int(FLOOD_REFUSALS_BURST))]
    assert set(refused) == {Admission.SLOW_DOWN}
    assert rules.admit_frame(10.0) is Admission.FLOODING
    # the refusal bucket refilling does not undo it: a flooding client is being closed
    later = 10.0 + FLOOD_REFUSALS_BURST / FLOOD_REFUSALS_PER_S
    for _ in range(int(BURST) + 1):
        last = rules.admit_frame(later)
    assert last is Admission.FLOODING


def test_a_clock_stepped_back_neither_refills_nor_breaks_the_bucket() -> None:
    rules = ConnectionRules(authenticated_at=0.0)
    for _ in range(int(BURST)):
        rules.admit_frame(100.0)
    assert rules.admit_frame(50.0) is Admission.SLOW_DOWN


def test_searches_have_their_own_small_bucket() -> None:
    rules = ConnectionRules(authenticated_at=0.0)
    allowed = [rules.admit_search(5.0) for _ in range(int(SEARCH_BURST) + 1)]
    assert allowed == [True] * int(SEARCH_BURST) + [False]
    assert rules.admit_frame(5.0) is Admission.HANDLE  # frames are charged apart


def test_a_token_is_looked_up_at_most_every_half_second_and_expires_on_time() -> None:
    rules = ConnectionRules(authenticated_at=1000.0)
    expires = 2000.0
    assert rules.check_token(1000.0 + LOOK_EVERY_S / 2, expires) is AuthCheck.VALID
    assert rules.check_token(1000.0 + LOOK_EVERY_S, expires) is AuthCheck.LOOK_UP
    assert rules.check_token(1000.0 + LOOK_EVERY_S * 1.5, expires) is AuthCheck.VALID
    assert rules.check_token(1000.0 + LOOK_EVERY_S * 2, expires) is AuthCheck.LOOK_UP
    assert rules.check_token(expires, expires) is AuthCheck.EXPIRED
