"""Records the core exchanges with its adapters."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import cached_property

import orjson


@dataclass(frozen=True)
class WatchInterval:
    """Server-measured online presence of one trainee in one session.

    Reported again with the same `interval_id` as it grows (`open=True` while media is
    still being delivered and receiver reports still arrive), finally with `open=False`.
    Stores upsert by `interval_id`, so a crash loses at most the last few seconds.
    """

    session_id: str
    participant_id: str
    interval_id: str
    start: float
    end: float
    open: bool

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("watch interval ends before it starts")

    def to_json(self) -> dict[str, object]:
        return {
            "session_id": self.session_id,
            "participant_id": self.participant_id,
            "interval_id": self.interval_id,
            "start": self.start,
            "end": self.end,
            "open": self.open,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> WatchInterval:
        return cls(
            session_id=str(data["session_id"]),
            participant_id=str(data["participant_id"]),
            interval_id=str(data["interval_id"]),
            start=float(data["start"]),  # type: ignore[arg-type]
            end=float(data["end"]),  # type: ignore[arg-type]
            open=bool(data["open"]),
        )


# Scan outcomes (`scan.result.outcome`): part of the wire contract, never renamed.
ACCEPTED = "accepted"
ALREADY_INSIDE = "already_inside"
NOT_INSIDE = "not_inside"
UNKNOWN_BADGE = "unknown_badge"
INVALID_SIGNATURE = "invalid_signature"
REVOKED = "revoked"
WRONG_SESSION = "wrong_session"
OUTSIDE_WINDOW = "outside_window"
OUTCOMES = (
    ACCEPTED,
    ALREADY_INSIDE,
    NOT_INSIDE,
    UNKNOWN_BADGE,
    INVALID_SIGNATURE,
    REVOKED,
    WRONG_SESSION,
    OUTSIDE_WINDOW,
)
DIRECTIONS = ("in", "out")

# An annulment is allowed from the device that scanned, within this many seconds.
ANNUL_WINDOW_S = 15 * 60


@dataclass
class DoorScan:
    """An accepted door scan: one fact in the ledger of one (session, participant) pair.

    `scan_id` is the client's request id; `at` the time the scan happened at the door
    (the scanner's `scanned_at` for offline scans), `received_at` the server time it
    arrived. Annulled scans stay in the ledger, flagged, and stop counting.
    """

    scan_id: str
    session_id: str
    participant_id: str
    direction: str
    at: float
    device: str
    received_at: float
    annulled: bool = False
    seq: int = 0  # position in the pair's ledger (its version when accepted); 0 = unknown

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be 'in' or 'out', not {self.direction!r}")
        if not self.scan_id:
            raise ValueError("scan id is empty")

    def to_json(self) -> dict[str, object]:
        return {
            "scan_id": self.scan_id,
            "session_id": self.session_id,
            "participant_id": self.participant_id,
            "direction": self.direction,
            "at": self.at,
            "device": self.device,
            "received_at": self.received_at,
            "annulled": self.annulled,
            "seq": self.seq,
        }

    @cached_property
    def json_text(self) -> str:
        """`to_json()` encoded once: a pair's ledger is re-encoded on every write."""
        return orjson.dumps(self.to_json()).decode()

    @classmethod
    def from_json(cls, data: dict[str, object]) -> DoorScan:
        return cls(
            scan_id=str(data["scan_id"]),
            session_id=str(data["session_id"]),
            participant_id=str(data["participant_id"]),
            direction=str(data["direction"]),
            at=float(data["at"]),  # type: ignore[arg-type]
            device=str(data.get("device", "")),
            received_at=float(data["received_at"]),  # type: ignore[arg-type]
            annulled=bool(data.get("annulled", False)),
            seq=int(data.get("seq", 0)),  # type: ignore[call-overload]
        )


def door_order(scan: DoorScan) -> tuple[float, float, int, str]:
    """Door-time order; ties by arrival, then ledger position (`seq`: ids are client
    strings, "r10" sorts before "r9"), then id."""
    return (scan.at, scan.received_at, scan.seq, scan.scan_id)


@dataclass
class PairLedger:
    """Everything recorded for one trainee in one session, as the store keeps it.

    `version` grows by one on every write; writers compare-and-set on it, so two nodes
    deciding on the same pair at once cannot both win.
    """

    session_id: str
    participant_id: str
    scans: tuple[DoorScan, ...] = ()
    version: int = 0
    watched: bool = False

    def __post_init__(self) -> None:
        if self.version < 0:
            raise ValueError("version must be >= 0")

    @cached_property
    def live_scans(self) -> tuple[DoorScan, ...]:
        return tuple(s for s in self.scans if not s.annulled)

    @cached_property
    def ordered(self) -> tuple[DoorScan, ...]:
        """The live scans in door order (what the rules walk), sorted once per ledger."""
        return tuple(sorted(self.live_scans, key=door_order))

    def with_scan(self, scan: DoorScan) -> PairLedger:
        """This ledger plus one live scan, version + 1. The door order is carried over by
        one insertion when it was already known, not sorted again (ledgers are cached
        and grow one scan at a time)."""
        new = PairLedger(
            self.session_id,
            self.participant_id,
            (*self.scans, scan),
            self.version + 1,
            self.watched,
        )
        if "ordered" in self.__dict__ and not scan.annulled:
            ordered = self.ordered
            order = door_order(scan)
            if not ordered or order >= door_order(ordered[-1]):
                at = len(ordered)  # the usual case, checked first: no search
            else:
                at = bisect.bisect_right(ordered, order, key=door_order)  # as sorted()
            if at == len(ordered):  # the latest scan so far
                new.__dict__["ordered"] = (*ordered, scan)
                if "inside_last" in self.__dict__:
                    new.__dict__["inside_last"] = _inside_after(self.inside_last, scan)
            else:
                new.__dict__["ordered"] = (*ordered[:at], scan, *ordered[at:])
        return new

    @cached_property
    def inside_last(self) -> DoorScan | None:
        """The `in` scan that has the trainee inside after every live scan, or None:
        `intervals.inside_at_ordered(self.ordered, t)` for any t at or after the last
        scan, kept up by `with_scan` without walking the ledger again."""
        opened: DoorScan | None = None
        for scan in self.ordered:
            opened = _inside_after(opened, scan)
        return opened

    def scans_json(self) -> str:
        """The scans as a JSON array (each scan's text encoded once and reused)."""
        return "[" + ",".join(s.json_text for s in self.scans) + "]"


def _inside_after(opened: DoorScan | None, scan: DoorScan) -> DoorScan | None:
    """One step of the door walk: who is inside after `scan`, given `opened` before it."""
    if scan.direction == "in":
        return scan if opened is None else opened
    return None
