"""The check-in state machine: (state, message, now) -> decision, sans I/O.

The state of one trainee in one session is their `PairLedger` (every accepted door
scan so far). A scan is decided against it plus the facts an adapter looked up
(badge signature, roster, revocation); the decision carries the outcome for the reply
and, when accepted, the new ledger to write. Nothing here reads a clock or a store.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from ..event.model import Event, Session, valid_id
from . import intervals
from .records import (
    ACCEPTED,
    ALREADY_INSIDE,
    ANNUL_WINDOW_S,
    DIRECTIONS,
    INVALID_SIGNATURE,
    NOT_INSIDE,
    OUTSIDE_WINDOW,
    REVOKED,
    UNKNOWN_BADGE,
    WRONG_SESSION,
    DoorScan,
    PairLedger,
)

# A scanner clock ahead of ours by up to this much is forgiven (clamped to now); a
# `scanned_at` further ahead is refused (see `future_scan_error`).
MAX_CLOCK_SKEW_S = 300.0


@dataclass(slots=True)
class ScanRequest:
    """One `scan` message, validated for shape (not yet for meaning).

    A manual check-in (staff found the person by `search`, no badge at hand) names the
    `participant` instead of a badge `code` (which is then empty)."""

    request_id: str
    code: str
    session_id: str
    direction: str
    scanned_at: float | None = None
    participant: str | None = None

    def __post_init__(self) -> None:
        if not self.request_id or len(self.request_id) > 128:
            raise ValueError("id must be a 1-128 character string")
        if (self.participant is None) == (not self.code):
            raise ValueError("a scan names either a badge code or a participant")
        if self.direction not in DIRECTIONS:
            raise ValueError("direction must be 'in' or 'out'")
        if self.scanned_at is not None and (
            not math.isfinite(self.scanned_at) or self.scanned_at < 0
        ):
            raise ValueError("scanned_at must be a finite, non-negative epoch time")


@dataclass(frozen=True)
class Scanner:
    """Who is scanning: the device named in hello and the token that authorised it."""

    device: str
    actor: str
    bound_session: str | None = None  # a staff token issued for one session
    # When its token was issued. An offline scan dated more than QUEUED_BEFORE_TOKEN_S
    # earlier is refused: a leaked token cannot make up attendance of sessions long past.
    authorized_from: float | None = None


@dataclass(slots=True)
class BadgeCheck:
    """What the badge signature said: a participant id, or why not. A manual check-in
    has no badge: its participant id is taken as named (see `manual_check`)."""

    participant_id: str | None
    failure: str | None = None  # 'malformed' | 'invalid_signature'

    def __post_init__(self) -> None:
        if (self.participant_id is None) == (self.failure is None):
            raise ValueError("a badge check has either a participant id or a failure")


def manual_check(participant_id: str) -> BadgeCheck:
    """The check of a manual check-in: the id as named, if it can be one at all (one
    not on the roster is answered unknown_badge, like a badge of nobody we know)."""
    if valid_id(participant_id):
        return BadgeCheck(participant_id)
    return BadgeCheck(None, "malformed")


@dataclass(slots=True)
class ScanFacts:
    """What the store knew when the scan was decided."""

    known: bool  # the participant is on the roster
    revoked: bool  # their badge is revoked
    pair: PairLedger


@dataclass(slots=True)
class ScanDecision:
    outcome: str
    at: float
    participant_id: str | None = None
    first_seen_at: float | None = None
    # The ledger to write, with this scan appended: for every door scan of a known,
    # unrevoked badge in its window (accepted, already_inside, not_inside) that is not
    # a repeat (see REPEAT_WINDOW_S), else None.
    new_pair: PairLedger | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome == ACCEPTED


# How long before its scanner's token was issued an offline scan may be dated (see
# Scanner.authorized_from): a queue kept over a token renewal (tokens last 12 h) and a
# device clock running behind still upload; last week's sessions cannot be made up.
QUEUED_BEFORE_TOKEN_S = 24 * 3600.0


def scan_time(request: ScanRequest, now: float) -> float:
    """When the scan happened: the scanner's `scanned_at` (offline queue), never later than now."""
    if request.scanned_at is None:
        return now
    return min(request.scanned_at, now)


def future_scan_error(request: ScanRequest, now: float) -> str | None:
    """Why an offline scan dated ahead of the server's clock cannot be taken, or None.

    Clamping it to now would record a time that never happened (and a clock far ahead
    would date every queued scan "now"); the scanner is told to fix its clock instead.
    """
    if request.scanned_at is None or request.scanned_at <= now + MAX_CLOCK_SKEW_S:
        return None
    ahead = request.scanned_at - now
    return (
        f"scanned_at is {ahead:.0f} s ahead of the server clock (more than"
        f" {MAX_CLOCK_SKEW_S:.0f} s): set the scanner's clock and send it again"
    )


def check_session(event: Event | None, scanner: Scanner, session_id: str) -> bool:
    """True if this scanner may record door scans for this session."""
    if event is None or not valid_id(session_id):
        return False
    session = event.session(session_id)
    if session is None or session.mode == "online":
        return False
    return scanner.bound_session is None or scanner.bound_session == session_id


def decide_scan(
    event: Event | None,
    request: ScanRequest,
    scanner: Scanner,
    badge: BadgeCheck,
    facts: ScanFacts | None,
    now: float,
) -> ScanDecision:
    """Decide one scan. `facts` may be None only when the badge did not verify."""
    at = scan_time(request, now)
    if not check_session(event, scanner, request.session_id):
        return ScanDecision(WRONG_SESSION, at, badge.participant_id)
    assert event is not None
    if badge.participant_id is None:
        outcome = INVALID_SIGNATURE if badge.failure == "invalid_signature" else UNKNOWN_BADGE
        return ScanDecision(outcome, at)
    pid = badge.participant_id
    if scanner.authorized_from is not None and at < scanner.authorized_from - QUEUED_BEFORE_TOKEN_S:
        return ScanDecision(OUTSIDE_WINDOW, at, pid)
    if facts is None:
        raise ValueError("a verified badge needs the store's facts")
    if not facts.known:
        return ScanDecision(UNKNOWN_BADGE, at, pid)
    pair = facts.pair
    if pair.session_id != request.session_id or pair.participant_id != pid:
        raise ValueError("facts are for another pair")
    # A revoked badge enters no more; its holder's exit is still recorded, or they would
    # count as present until the session ends.
    if facts.revoked and (request.direction == "in" or _inside_at(pair, at) is None):
        return ScanDecision(REVOKED, at, pid)
    session = event.session(request.session_id)
    assert session is not None
    ordered = pair.ordered  # live scans in door order, cached on the ledger
    first_seen = intervals.first_in_ordered(ordered)
    if request.direction == "in":
        opens, closes = event.checkin.window(session)
        if not opens <= at <= closes:
            return ScanDecision(OUTSIDE_WINDOW, at, pid, first_seen)
        outcome = ACCEPTED if _inside_at(pair, at) is None else ALREADY_INSIDE
        first_seen = at if first_seen is None else min(first_seen, at)
    else:
        outcome = ACCEPTED if _inside_at(pair, at) is not None else NOT_INSIDE
    if outcome != ACCEPTED and _repeats_last(ordered, request.direction, scanner.device, at):
        return ScanDecision(outcome, at, pid, first_seen)
    # A scan answered already_inside / not_inside changes nothing now, but it is kept in
    # the ledger all the same: a scan dated earlier that arrives later (another door's
    # offline queue) can make it count -- e.g. in@0, in@600 (already inside), then
    # out@300 from door B: inside 0-300 and from 600. `intervals.door_intervals` gives
    # every order of arrival one meaning only if every door scan is there to read (but
    # a repeat, above).
    scan = DoorScan(
        scan_id=request.request_id,
        session_id=request.session_id,
        participant_id=pid,
        direction=request.direction,
        at=at,
        device=scanner.device,
        received_at=now,
        seq=pair.version + 1,
    )
    return ScanDecision(outcome, at, pid, first_seen, pair.with_scan(scan))


# The outcomes decide_scan reaches only past its revocation check: answers that took
# the badge as not revoked (the store confirms that at commit).
BADGE_TAKEN_AS_VALID = frozenset({ACCEPTED, ALREADY_INSIDE, NOT_INSIDE, OUTSIDE_WINDOW})


# Annulment outcomes (reply `annul.result.outcome`, or an error code for the adapter).
ANNULLED = "annulled"
ANNUL_NOT_FOUND = "not_found"
ANNUL_FORBIDDEN = "forbidden"


@dataclass(frozen=True)
class AnnulDecision:
    outcome: str  # annulled | not_found | forbidden
    reason: str = ""
    new_pair: PairLedger | None = None
    scan: DoorScan | None = None  # the scan it flags, when it changes the ledger


def decide_annul(pair: PairLedger | None, scan_id: str, device: str, now: float) -> AnnulDecision:
    """Undo a recorded scan: only from the device that made it, within 15 minutes. Ids
    are the client's, so two devices may have used the same one: each annuls its own."""
    same_id = [s for s in pair.scans if s.scan_id == scan_id] if pair is not None else []
    scan = next((s for s in same_id if s.device == device), None)
    if pair is None or not same_id:
        return AnnulDecision(ANNUL_NOT_FOUND, "no recorded scan with that id")
    if scan is None:
        return AnnulDecision(ANNUL_FORBIDDEN, "only the device that scanned may annul")
    if now - scan.received_at > ANNUL_WINDOW_S:
        return AnnulDecision(ANNUL_FORBIDDEN, "scans can be annulled for 15 minutes only")
    if scan.annulled:
        return AnnulDecision(ANNULLED, "already annulled")
    scans = tuple(dataclasses.replace(s, annulled=True) if s is scan else s for s in pair.scans)
    return AnnulDecision(
        ANNULLED, "", dataclasses.replace(pair, scans=scans, version=pair.version + 1), scan
    )


@dataclass(slots=True)
class PairFlags:
    """Live dashboard membership of one pair after a write."""

    inside: bool  # in the room now, by the door scans
    door_seen: bool  # has any live `in` scan


def pair_flags(pair: PairLedger, now: float) -> PairFlags:
    # inside after every scan (at max(now, the last scan's time): all of them count)
    return PairFlags(
        inside=pair.inside_last is not None,
        door_seen=intervals.first_in_ordered(pair.ordered) is not None,
    )


# A badge read again at the same door, the same way, this soon after the pair's last
# scan is a repeat (a camera that keeps seeing the badge, a second tap): answered, not
# kept, so a stuck scanner keeps one scan in 5 s, not every read. What dropping it could
# change: an exit through another door dated between the two reads, i.e. out and back in
# within 5 s -- which would then count the rest of the session as out. Kept short so
# that this cannot happen on foot.
REPEAT_WINDOW_S = 5.0


def _repeats_last(ordered: tuple[DoorScan, ...], direction: str, device: str, at: float) -> bool:
    if not ordered:
        return False
    last = ordered[-1]
    return (
        last.direction == direction
        and last.device == device
        and 0 <= at - last.at < REPEAT_WINDOW_S
    )


def inside_now(inside: int, session: Session | None, now: float) -> int:
    """The dashboard's `inside` from the store's count of pairs last scanned in: nobody
    once the session is over. Few scan out as a session ends; the report closes their
    entry at the end too, and the room empties for the next session."""
    if session is not None and now >= session.end_ts:
        return 0
    return inside


def _inside_at(pair: PairLedger, t: float) -> DoorScan | None:
    """`intervals.inside_at_ordered(pair.ordered, t)`; at or after the last scan (a live
    scan, the usual case) from the ledger's running answer, without a walk."""
    ordered = pair.ordered
    if not ordered or t >= ordered[-1].at:
        return pair.inside_last
    return intervals.inside_at_ordered(ordered, t)
