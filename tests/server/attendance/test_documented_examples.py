"""The worked examples of docs/attendance.md, through the pure core: the figures and
answers the document states are the ones the code gives."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from podium_server.attendance import records as r
from podium_server.attendance.checkin import (
    ANNULLED,
    BadgeCheck,
    ScanFacts,
    Scanner,
    ScanRequest,
    decide_annul,
    decide_scan,
)
from podium_server.attendance.eligibility import (
    SessionAttendance,
    eligibility,
    minutes,
    session_attendance,
)
from podium_server.attendance.records import DoorScan, PairLedger, WatchInterval
from podium_server.event.demo import demo_event
from podium_server.event.model import CertificatePolicy, CheckinPolicy, Event, Session

TZ = ZoneInfo("Asia/Shanghai")
DAY = datetime(2021, 4, 24, tzinfo=TZ)
POLICY = Session(
    "policy", "Policy", DAY.replace(hour=9, minute=40), DAY.replace(hour=11, minute=40)
)
EVENT = Event("ciep", "CIEP", "Asia/Shanghai", (POLICY,), CheckinPolicy(), CertificatePolicy())
DOOR_A, DOOR_B = Scanner("door-A", "jti-a"), Scanner("door-B", "jti-b")
BADGE = BadgeCheck("T001")
UPLOADED_AT = DAY.replace(hour=11, minute=30).timestamp()  # the queues arrive late


def at(hhmm: str, seconds: int = 0) -> float:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return DAY.replace(hour=hour, minute=minute, second=seconds).timestamp()


def scan(sid: str, direction: str, hhmm: str, device: str = "door-A") -> DoorScan:
    return DoorScan(sid, "policy", "T001", direction, at(hhmm), device, at(hhmm))


def attended(
    scans: list[DoorScan], online: tuple[tuple[str, str], ...] = ()
) -> tuple[int, int, int, str]:
    watches = [
        WatchInterval("policy", "T001", f"w{i}", at(a), at(b), False)
        for i, (a, b) in enumerate(online)
    ]
    a = session_attendance(POLICY, "T001", scans, watches, 0.75)
    return minutes(a.room_s), minutes(a.online_s), minutes(a.total_s), a.status


def upload(
    queue: list[tuple[Scanner, str, str, str]], pair: PairLedger
) -> tuple[list[str], PairLedger]:
    """Decide each queued scan (scanner, id, direction, time) in turn, keeping the ledger."""
    answers = []
    for scanner, sid, direction, hhmm in queue:
        request = ScanRequest(sid, "PB1.T001.x", "policy", direction, at(hhmm))
        facts = ScanFacts(known=True, revoked=False, pair=pair)
        decision = decide_scan(EVENT, request, scanner, BADGE, facts, UPLOADED_AT)
        answers.append(decision.outcome)
        pair = decision.new_pair or pair
    return answers, pair


def test_1_in_the_room_stepping_out_once() -> None:
    scans = [scan("1", "in", "09:35"), scan("2", "out", "10:20"), scan("3", "in", "10:30")]
    assert attended(scans) == (110, 0, 110, "attended")


def test_2_online_then_in_the_room_counts_once() -> None:
    scans = [scan("1", "in", "10:15"), scan("2", "out", "11:00")]
    assert attended(scans, (("09:40", "10:30"),)) == (45, 50, 80, "partial")


def test_3_two_doors_uploading_late_mean_the_same_in_either_order() -> None:
    door_a = [(DOOR_A, "a1", "in", "09:50"), (DOOR_A, "a2", "in", "10:10")]
    door_b = [(DOOR_B, "b1", "out", "10:05")]
    empty = PairLedger("policy", "T001")
    a_first, pair_1 = upload(door_a + door_b, empty)
    b_first, pair_2 = upload(door_b + door_a, empty)
    assert a_first == [r.ACCEPTED, r.ALREADY_INSIDE, r.ACCEPTED]
    assert b_first == [r.NOT_INSIDE, r.ACCEPTED, r.ACCEPTED]
    for pair in (pair_1, pair_2):
        assert [(s.direction, s.at) for s in pair.ordered] == [
            ("in", at("09:50")),
            ("out", at("10:05")),
            ("in", at("10:10")),
        ]
        assert attended(list(pair.scans)) == (105, 0, 105, "attended")


def test_4_a_repeat_within_5_seconds_is_answered_not_kept() -> None:
    def read(pair: PairLedger, sid: str, seconds: int) -> tuple[str, PairLedger | None]:
        request = ScanRequest(sid, "PB1.T001.x", "policy", "in")
        facts = ScanFacts(known=True, revoked=False, pair=pair)
        d = decide_scan(EVENT, request, DOOR_A, BADGE, facts, at("09:45", seconds))
        return d.outcome, d.new_pair

    first, pair = read(PairLedger("policy", "T001"), "r1", 0)
    assert first == r.ACCEPTED and pair is not None
    assert read(pair, "r2", 3) == (r.ALREADY_INSIDE, None)
    later, kept = read(pair, "r3", 7)
    assert later == r.ALREADY_INSIDE and kept is not None and len(kept.scans) == 2


def test_5_an_annulled_scan_stops_counting() -> None:
    pair = PairLedger("policy", "T001").with_scan(scan("r1", "in", "09:50"))
    undone = decide_annul(pair, "r1", "door-A", at("09:55"))
    assert undone.outcome == ANNULLED and undone.new_pair is not None
    assert attended(list(undone.new_pair.scans)) == (0, 0, 0, "absent")
    # Another phone may not annul it, nor the same one after 15 minutes.
    assert decide_annul(pair, "r1", "door-B", at("09:55")).outcome == "forbidden"
    assert decide_annul(pair, "r1", "door-A", at("10:06")).outcome == "forbidden"


def test_6_a_certificate_needs_every_required_session() -> None:
    event = demo_event()
    required = [s for s in event.sessions if s.required]
    assert len(event.sessions) == 7 and len(required) == 6

    def record(fractions: list[float]) -> dict[str, SessionAttendance]:
        out = {}
        for s, fraction in zip(required, fractions, strict=True):
            left = s.start + timedelta(seconds=fraction * s.duration_s)
            scans = [
                DoorScan("i", s.id, "T001", "in", s.start_ts, "door-A", s.start_ts),
                DoorScan("o", s.id, "T001", "out", left.timestamp(), "door-A", s.start_ts),
            ]
            out[s.id] = session_attendance(s, "T001", scans, [], 0.75)
        return out

    five_and_a_bit = record([0.8, 0.9, 1.0, 0.75, 0.8, 0.6])
    assert not eligibility(event, "T001", five_and_a_bit).eligible
    five = Event(
        event.id,
        event.title,
        event.timezone,
        event.sessions,
        event.checkin,
        CertificatePolicy(min_fraction=0.75, required=5),
    )
    assert eligibility(five, "T001", five_and_a_bit).eligible
    assert eligibility(event, "T001", record([0.75] * 6)).eligible
