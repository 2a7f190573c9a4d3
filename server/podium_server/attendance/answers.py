"""What the attendance services answer a scanner with, as plain values.

The services return these; the web layer turns them into frames (`protocol.answer_frame`
and `protocol.sync_frame`), so the wire format is made in one place, at the edge. An
answer kept in the store for a retry decodes back into one of these
(`protocol.answer_from_frame`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# The two made for every scan are NamedTuples: as immutable as a frozen dataclass, and
# a few times cheaper to build (a frozen dataclass sets each field through
# object.__setattr__), which the scan path (over 11,000 a second) feels.


class ScannedPerson(NamedTuple):
    """The trainee a scan named, as the scanner's card shows them."""

    id: str
    name: str
    organization: str
    province: str


class ScanAnswer(NamedTuple):
    """A scan decided and durable: its outcome (`records.OUTCOMES`), whom it named when
    the badge was read, when they were first seen in the session, and whether staff
    picked them by search instead of reading a badge."""

    outcome: str
    participant: ScannedPerson | None = None
    first_seen_at: float | None = None
    manual: bool = False


@dataclass(frozen=True, slots=True)
class AnnulAnswer:
    """The scan `scan_id` no longer counts."""

    scan_id: str


@dataclass(frozen=True, slots=True)
class Refusal:
    """A request answered with an error code from the WebSocket set (`errors.WS_CODES`)
    and why: nothing was recorded for it, or (an annul refused) only its audit line."""

    code: str
    message: str


Answer = ScanAnswer | AnnulAnswer | Refusal


@dataclass(frozen=True, slots=True)
class SyncAnswer:
    """An upload's scans answered, in the order sent: each with its request id (None
    when the item had no readable one) and its answer."""

    results: tuple[tuple[str | None, Answer], ...]
