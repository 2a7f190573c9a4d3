"""The store's roles: small protocols, each what one kind of caller needs.

Two backends implement all of them: `sqlite.py` (embedded default, WAL) and `redis.py`
(several nodes); both pass the same contract tests (tests/server/store/). A caller asks
for the narrowest role it uses, so what it may do to the store reads from its signature.
Telling other nodes about a change is not the store's job: that is the message bus
(`bus.py`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from ..attendance.records import DoorScan, WatchInterval
from ..event.model import Event, Participant
from .records import (
    AuditFilter,
    AuditPage,
    AuditRecord,
    CommitResult,
    LedgerLookup,
    LedgerWrite,
    SessionCounts,
    SessionLive,
)


class EventRoster(Protocol):
    """The programme and who is registered for it."""

    async def save_event(self, event: Event) -> None: ...
    async def load_event(self) -> Event | None: ...
    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        """All or nothing. Returns (added, updated); never drops recorded attendance."""
        ...

    async def list_participants(self) -> list[Participant]: ...
    async def get_participant(self, participant_id: str) -> Participant | None: ...


class Revocations(Protocol):
    """Revoked tokens (by id, `jti`) and badges (by participant id): never taken back."""

    async def revoke(self, kind: str, value: str, at: float) -> None: ...
    async def is_revoked(self, kind: str, value: str) -> bool: ...
    async def revoked_values(self, kind: str) -> frozenset[str]:
        """Every revoked value of a kind, read whole (there are few)."""
        ...


class AuditLog(Protocol):
    """The append-only log of who did what: scans, annuls, token uses and refusals."""

    async def append_audit(self, record: AuditRecord) -> None: ...
    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]: ...
    async def audit_page(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 50
    ) -> AuditPage:
        """Up to `limit` lines matching `where` at positions below `before` (default:
        the newest), newest first, reading at most AUDIT_SCAN_MAX lines back."""
        ...


class AttendanceStore(Protocol):
    """Each trainee's door scans and online intervals per session, written in atomic
    batches, and the live picture and lists built from them."""

    # How many lookups, and how many commits, the scan batcher may have outstanding at
    # once (batches are still decided one at a time, in order). Commits may then land
    # out of order; their version checks turn that into conflicts (decided again), never
    # into lost or double writes. 1 where the work runs on the event loop itself; more
    # where each is a round trip to another process.
    lookups_in_flight: int
    commits_in_flight: int

    async def lookup(
        self,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        participant_ids: Sequence[str],
        *,
        roster_ids: Sequence[str] | None = None,
        cached: Mapping[tuple[str, str], int] | None = None,
    ) -> LedgerLookup:
        """Everything a batch of requests is decided on, read in one round trip.

        Revocation is read for `participant_ids`; roster entries for `roster_ids` (default:
        the same ids; a caller holding the roster asks only for ids it lacks). A pair in
        `cached` whose stored version is that number is listed in `unchanged` instead of
        being read and decoded again.
        """
        ...

    async def commit(self, writes: Sequence[LedgerWrite]) -> list[CommitResult]:
        """Apply writes in order, each all-or-nothing, durable before this returns.

        A write whose `dedupe_key` is already stored is a `duplicate` (its stored reply
        comes back, nothing is written); a write whose pair's stored version is not
        `pair.version - 1` (or, for a write `decided_on` a pair, not that version) is a
        `conflict` (nothing written; decide again). Writes earlier in the batch count.
        Before all that, a write whose `token` is revoked is `token_revoked` (nothing
        written, not even a retry answered: the token may no longer be used).
        """
        ...

    async def record_watch(self, interval: WatchInterval) -> None:
        """Upsert an online interval by `interval_id` and mark the pair as watched."""
        ...

    async def live(self, session_id: str, now: float) -> SessionLive: ...
    async def live_counts(self, session_id: str, now: float) -> SessionCounts:
        """The dashboard figures of one session, aggregated by the store (`live`'s sizes,
        attended broken down by the current roster's province and org type)."""
        ...

    async def list_scans(self) -> list[DoorScan]:
        """Every accepted door scan (annulled ones flagged), for reports."""
        ...

    async def list_watches(self) -> list[WatchInterval]: ...


@runtime_checkable
class Store(EventRoster, Revocations, AuditLog, AttendanceStore, Protocol):
    """A whole backend: every role, opened and closed once by the app factory."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...
