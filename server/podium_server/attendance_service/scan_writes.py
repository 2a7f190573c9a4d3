"""What a decided scan or annul writes: the answer kept for a retry, its audit line and
the store write carrying both (the pair's new ledger, the dashboard's `recent` entry).
Pure: the decision is attendance.checkin's, the durability the store's.
"""

from __future__ import annotations

from typing import Any

from ..attendance import checkin, protocol
from ..attendance.answers import ScanAnswer, ScannedPerson
from ..attendance.checkin import BadgeCheck, ScanFacts, Scanner, ScanRequest
from ..attendance.records import DoorScan, PairLedger
from ..event.model import Event, Participant, valid_id
from ..store.records import AuditRecord, LedgerWrite, StoredReply


def dedupe_key(device: str, request_id: str) -> str:
    """Request ids are unique per scanner device; the device name scopes them."""
    return f"{device}\x1f{request_id}"


def scan_write(
    event: Event | None,
    req: ScanRequest,
    scanner: Scanner,
    via: str,
    check: BadgeCheck,
    key: str,
    people: dict[str, Participant],
    revoked: frozenset[str],
    working: dict[tuple[str, str], PairLedger],
    now: float,
) -> tuple[LedgerWrite, ScanAnswer]:
    """Decide one scan (checkin.decide_scan): its write, and its answer once durable."""
    facts = None
    person: Participant | None = None
    if check.participant_id is not None:
        pid = check.participant_id
        pair = working.get((req.session_id, pid)) or PairLedger(
            req.session_id if valid_id(req.session_id) else "invalid", pid
        )
        person = people.get(pid)
        facts = ScanFacts(person is not None, pid in revoked, pair)
    decision = checkin.decide_scan(event, req, scanner, check, facts, now)
    answer = ScanAnswer(
        decision.outcome,
        ScannedPerson(person.id, person.name, person.organization, person.province)
        if person is not None
        else None,
        decision.first_seen_at,
        req.participant is not None,
    )
    # Kept as the frame sent (the stored form every node reads): a retry is answered
    # the same.
    reply = protocol.answer_frame(req.request_id, answer)
    detail: dict[str, Any] = {
        "id": req.request_id,
        "session": req.session_id,
        "direction": req.direction,
        "outcome": decision.outcome,
        "at": decision.at,
    }
    if decision.participant_id:
        detail["participant"] = decision.participant_id
    if req.participant is not None:
        detail["manual"] = True  # no badge read: staff found them by search
    if req.scanned_at is not None:
        detail["scanned_at"] = req.scanned_at
    if via:
        detail["sync"] = via
    audit = AuditRecord(
        at=now, kind="scan", device=scanner.device, actor=scanner.actor, detail=detail
    )
    # answers that took the badge as not revoked: confirmed at commit
    unrevoked = (
        person.id
        if person is not None
        and facts is not None
        and not facts.revoked
        and decision.outcome in checkin.BADGE_TAKEN_AS_VALID
        else None
    )
    if decision.new_pair is None:
        on = None
        if facts is not None and valid_id(req.session_id):
            read = facts.pair  # what the answer read: confirmed at commit
            on = (read.session_id, read.participant_id, read.version)
        write = LedgerWrite(
            key,
            StoredReply(reply),
            audit,
            decided_on=on,
            unrevoked_badge=unrevoked,
            token=scanner.actor,
        )
        return write, answer
    new_pair = decision.new_pair
    working[(new_pair.session_id, new_pair.participant_id)] = new_pair
    # The dashboard's `recent[]` lists the scans that moved someone; one that moved
    # nobody (already inside, not inside) is kept in the pair's ledger only.
    recent = (
        {
            "scan_id": req.request_id,
            "participant": new_pair.participant_id,
            "name": person.name if person else "",
            "province": person.province if person else "",
            "direction": req.direction,
            "at": decision.at,
            "device": scanner.device,
            **({"manual": True} if req.participant is not None else {}),
        }
        if decision.accepted
        else None
    )
    # the door scan: all the store appends
    write = pair_write(
        key,
        reply,
        audit,
        new_pair,
        now,
        recent,
        appended=new_pair.scans[-1:],
        unrevoked_badge=unrevoked,
        token=scanner.actor,
    )
    return write, answer


def pair_write(
    key: str,
    reply: dict[str, Any],
    audit: AuditRecord,
    pair: PairLedger,
    now: float,
    recent: dict[str, Any] | None,
    *,
    appended: tuple[DoorScan, ...] = (),
    annulled: tuple[tuple[str, str], ...] = (),
    unrevoked_badge: str | None = None,
    token: str | None = None,
) -> LedgerWrite:
    """A write that changes a pair's ledger: its reply bound to the pair, and the pair's
    live dashboard flags after the change."""
    flags = checkin.pair_flags(pair, now)
    return LedgerWrite(
        key,
        StoredReply(reply, pair.session_id, pair.participant_id),
        audit,
        pair,
        flags.inside,
        flags.door_seen,
        recent,
        appended=appended,
        annulled=annulled,
        unrevoked_badge=unrevoked_badge,
        token=token,
    )
