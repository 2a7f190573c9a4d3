"""The node's caches and the pairs' turns, without a store: each rule on its own."""

from __future__ import annotations

from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.attendance.records import PairLedger
from podium_server.attendance_service.node_caches import BadgeChecks, PairLedgers
from podium_server.attendance_service.pair_turns import PairTurns, QueuedScan
from podium_server.auth import BadgeSigner

PAIR = ("s1", "p1")


def test_a_badge_is_verified_once_and_a_forgery_never_cached() -> None:
    signer = BadgeSigner.from_secret(b"s" * 32)
    checks = BadgeChecks(signer)
    code = signer.code_for("p1")
    first = checks.verify(code)
    assert first.participant_id == "p1"
    assert checks.verify(code) is first  # the cached check
    forged = BadgeSigner.from_secret(b"t" * 32).code_for("p1")  # another deployment's key
    refused = checks.verify(forged)
    assert refused.participant_id is None and refused.failure == "invalid_signature"
    assert checks.verify(forged) is not refused  # checked again each time


def test_a_pair_ledger_copy_never_goes_back_to_an_older_version() -> None:
    ledgers = PairLedgers()
    v2, v1 = PairLedger("s1", "p1", version=2), PairLedger("s1", "p1", version=1)
    ledgers.keep(PAIR, v2)
    ledgers.keep(PAIR, v1)  # a commit that returned late
    assert ledgers.by_pair[PAIR] is v2
    ledgers.drop(PAIR)
    assert PAIR not in ledgers.by_pair


def queued(rid: str) -> QueuedScan:
    answers: list[object] = []
    return QueuedScan(ScanRequest(rid, "c", "s1", "in"), Scanner("door", "a"), answers.append)


def test_held_scans_wait_for_their_pairs_write_and_go_in_order() -> None:
    turns = PairTurns()
    write = PairLedger("s1", "p1", version=3)
    turns.deciding[PAIR] = write
    first, second = queued("A"), queued("B")
    turns.hold(PAIR, first)
    turns.hold(PAIR, second)
    assert turns.ready() == []  # the write has not landed
    turns.landed(PAIR, PairLedger("s1", "p1", version=3))  # another ledger: not this write
    assert turns.ready() == []
    turns.landed(PAIR, write)
    assert turns.ready() == [first, second]
    assert turns.released[PAIR] == 2
    late = queued("C")
    turns.hold(PAIR, late)
    assert turns.ready() == []  # behind the released scans, still undecided
    assert turns.unrelease(first) and turns.unrelease(second)
    assert not turns.unrelease(first)  # once only
    assert turns.ready() == [late]


def test_stopping_takes_every_held_scan() -> None:
    turns = PairTurns()
    scans = [queued("A"), queued("B")]
    turns.hold(PAIR, scans[0])
    turns.hold(("s1", "p2"), scans[1])
    assert sorted(s.request.request_id for s in turns.take_held()) == ["A", "B"]
    assert turns.held == {}
