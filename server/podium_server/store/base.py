"""The Store protocol: everything durable goes through it.

Two backends implement it: `sqlite.py` (embedded default, WAL) and `redis.py` (several
nodes). Both pass the same contract tests (tests/server/store/test_contract.py).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import orjson

from ..attendance.records import DoorScan, PairLedger, WatchInterval
from ..event.model import Event, Participant


@dataclass(slots=True)
class AuditRecord:
    """One line of the append-only audit log."""

    at: float  # epoch seconds, server clock
    kind: str  # scan, annul, sync, token_use, token_refused, roster_import, revoke, ...
    device: str = ""
    actor: str = ""  # token id or role that acted
    detail: dict[str, Any] = field(default_factory=dict)


# One page of the audit log reads at most this many lines back: a filter that matches
# nothing must not read a million-line log in one request. The page then says where it
# stopped (`AuditPage.older`), and the next page goes on from there.
AUDIT_SCAN_MAX = 20_000


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """Which audit lines an organizer asks for; None matches any."""

    kind: str | None = None
    # A scanner whose token names no device is logged as "<its name>@<token id>": the
    # name alone finds those lines too.
    device: str | None = None
    participant: str | None = None  # detail["participant"]: scans, manual check-ins, badges

    def matches(self, record: AuditRecord) -> bool:
        return (
            (self.kind is None or record.kind == self.kind)
            and (
                self.device is None
                or record.device == self.device
                or record.device.startswith(f"{self.device}@")
            )
            and (self.participant is None or record.detail.get("participant") == self.participant)
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    """Matching lines, newest first, each with its position in the log; `older` is the
    position to pass as `before` for the next (older) page, None at the log's start."""

    entries: list[tuple[int, AuditRecord]]
    older: int | None


class Subscription(Protocol):
    """Messages from `Store.publish` on any node; iterate, then `aclose()`. After a lost
    connection is back, the iteration gives `RESYNC`: messages may have been missed."""

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]: ...
    async def aclose(self) -> None: ...


RESYNC: dict[str, Any] = {"resync": True}

# Check-in lookups answer badge revocation from the whole set, read at most this often:
# a revocation made through the same store counts at once, one made elsewhere (another
# node, `podium badge revoke`) within this time.
REVOKED_FRESH_S = 1.0


class RevokedBadges:
    """A store's copy of the revoked badges for its check-in lookups (see
    REVOKED_FRESH_S): `due` says when to read the whole set again, `read` keeps it,
    `revoked` (a revocation through this store) makes the next lookup read it."""

    def __init__(self) -> None:
        self.ids: frozenset[str] = frozenset()
        self._read_at = -math.inf
        self._revocations = 0

    def due(self, now: float) -> bool:
        return now - self._read_at > REVOKED_FRESH_S

    def token(self) -> int:
        """Taken before a read: a read that overlapped a revocation is not fresh."""
        return self._revocations

    def read(self, ids: Iterable[str], now: float, token: int) -> None:
        self.ids = frozenset(ids)
        if self._revocations == token:  # else read again next time
            self._read_at = now

    def revoked(self) -> None:
        self._revocations += 1
        self._read_at = -math.inf

    def among(self, participant_ids: Iterable[str]) -> frozenset[str]:
        return self.ids.intersection(participant_ids)


@runtime_checkable
class Store(Protocol):
    # How many ledger lookups, and how many commits, the check-in batcher may have
    # outstanding at once (batches are still decided one at a time, in order). Commits
    # may then land out of order; their version checks turn that into conflicts (decided
    # again), never into lost or double writes. 1 where the work runs on the event loop
    # itself; more where each is a round trip to another process.
    lookups_in_flight: int
    commits_in_flight: int

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # event and roster
    async def save_event(self, event: Event) -> None: ...
    async def load_event(self) -> Event | None: ...
    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        """All or nothing. Returns (added, updated); never drops recorded attendance."""
        ...

    async def list_participants(self) -> list[Participant]: ...
    async def get_participant(self, participant_id: str) -> Participant | None: ...

    # revocation (tokens by jti, badges by participant id)
    async def revoke(self, kind: str, value: str, at: float) -> None: ...
    async def is_revoked(self, kind: str, value: str) -> bool: ...
    async def revoked_values(self, kind: str) -> frozenset[str]:
        """Every revoked value of a kind, read whole (there are few)."""
        ...

    # audit
    async def append_audit(self, record: AuditRecord) -> None: ...
    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]: ...
    async def audit_page(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 50
    ) -> AuditPage:
        """Up to `limit` lines matching `where` at positions below `before` (default:
        the newest), newest first, reading at most AUDIT_SCAN_MAX lines back."""
        ...

    # ---- attendance ledger --------------------------------------------------------
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
    async def publish(self, message: dict[str, Any]) -> None:
        """Tell every node (this one included) about a change; JSON-able message."""
        ...

    async def subscribe(self) -> Subscription:
        """Messages published by any node from the moment this returns."""
        ...


# ---- attendance ledger records -------------------------------------------------------

COMMITTED = "committed"
DUPLICATE = "duplicate"
CONFLICT = "conflict"
# The request's token was revoked by commit time: nothing written, the request refused.
TOKEN_REVOKED = "token_revoked"
# The stored "recent" list of a session keeps this many items.
RECENT_KEEP = 20
# An open online interval not extended for this long no longer counts as "online now".
ONLINE_STALE_S = 60.0


@dataclass(slots=True)
class StoredReply:
    """What a request id is bound to: the reply sent, and the pair it touched, if any."""

    reply: dict[str, Any]
    session_id: str | None = None
    participant_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"reply": self.reply, "s": self.session_id, "p": self.participant_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredReply:
        return cls(data["reply"], data.get("s"), data.get("p"))


@dataclass(slots=True)
class LedgerWrite:
    """One answered request, stored atomically: reply (for dedupe), audit line, and the
    pair's new ledger with its live flags when the request changed it.

    Stores keep door scans append-only: a pair write says what changed since the stored
    version `pair.version - 1` -- the scans it `appended` and the ids of scans it
    `annulled` -- and only that is written (plus the pair's version and flags); `pair`
    is the whole new ledger, for the caller's cache and the flags.
    """

    dedupe_key: str
    stored: StoredReply
    audit: AuditRecord
    pair: PairLedger | None = None
    inside: bool = False
    door_seen: bool = False
    recent: dict[str, Any] | None = None  # shown in the session's dashboard `recent[]`
    appended: tuple[DoorScan, ...] = ()  # new door scans, in order (the pair's last ones)
    # (scan id, device) of the scans flagged annulled by this write: ids are the
    # client's, two devices may use the same one
    annulled: tuple[tuple[str, str], ...] = ()
    # A write that leaves its pair alone but was decided on it (already inside, not
    # inside...): (session, participant, version it read). Refused as a conflict if the
    # pair is at another version by then, as a pair write is: so every answer about a
    # pair is confirmed at commit, and the batcher can decide on its cache unread.
    decided_on: tuple[str, str, int] | None = None
    # The participant whose badge the answer took as not revoked (accepted, already
    # inside...): refused as a conflict if it is revoked by then, so a revocation made
    # anywhere (the CLI, another node) counts from the next scan, whatever the node's
    # copy of the revoked set says. Revocations are never taken back: one way suffices.
    unrevoked_badge: str | None = None
    # The id (jti) of the token the request came with: the write is refused
    # (TOKEN_REVOKED) if that token is revoked by then, so revoking a scanner's token
    # stops its very next request on a socket opened before, on any node.
    token: str | None = None

    def __post_init__(self) -> None:
        if not self.dedupe_key:
            raise ValueError("dedupe key is empty")
        if self.decided_on is not None and self.pair is not None:
            raise ValueError("a pair write is checked by its own version")
        if self.pair is not None:
            if self.pair.version < 1:
                raise ValueError("a written pair has version >= 1")
            if not self.appended and not self.annulled:
                raise ValueError("a pair write names its appended or annulled scans")
        elif self.appended or self.annulled:
            raise ValueError("scans are written with their pair")
        if self.recent is not None and self.pair is None:
            raise ValueError("recent items come with a pair write")


@dataclass(slots=True)
class CommitResult:
    status: str  # committed | duplicate | conflict | token_revoked
    stored: StoredReply | None = None  # the earlier reply, for a duplicate

    def __post_init__(self) -> None:
        if self.status not in (COMMITTED, DUPLICATE, CONFLICT, TOKEN_REVOKED):
            raise ValueError(f"bad commit status {self.status!r}")


@dataclass(frozen=True)
class LedgerLookup:
    replies: dict[str, StoredReply]  # dedupe key -> stored reply, for those seen before
    pairs: dict[tuple[str, str], PairLedger]  # every asked pair not `unchanged` (empty if none)
    participants: dict[str, Participant]  # asked participant ids found on the roster
    revoked: frozenset[str]  # asked participant ids whose badge is revoked
    unchanged: frozenset[tuple[str, str]] = frozenset()  # cached pairs still current

    @property
    def known(self) -> frozenset[str]:
        return frozenset(self.participants)


class LookupArgs(NamedTuple):
    """`Store.lookup`'s arguments as both stores read them: lists, duplicates dropped."""

    keys: list[str]
    pairs: list[tuple[str, str]]
    participant_ids: list[str]
    roster_ids: list[str]  # participants to read from the roster
    cached: dict[tuple[str, str], int]

    @classmethod
    def of(
        cls,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        participant_ids: Sequence[str],
        roster_ids: Sequence[str] | None,
        cached: Mapping[tuple[str, str], int] | None,
    ) -> LookupArgs:
        pids = list(dict.fromkeys(participant_ids))
        return cls(
            list(dedupe_keys),
            list(dict.fromkeys(pairs)),
            pids,
            pids if roster_ids is None else list(dict.fromkeys(roster_ids)),
            dict(cached or {}),
        )


@dataclass(frozen=True)
class SessionLive:
    """The live picture of one session, as stored (counts are derived by the caller)."""

    session_id: str
    inside: frozenset[str]
    online: frozenset[str]
    attended: frozenset[str]
    recent: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class SessionCounts:
    """A session's live picture as numbers (what a dashboard shows)."""

    session_id: str
    inside: int
    online: int
    attended: int
    by_province: dict[str, int]  # of the attended; "unknown" when not on the roster
    by_org_type: dict[str, int]
    recent: tuple[dict[str, Any], ...]


def json_text(value: Any) -> str:
    """Compact JSON text (orjson; the stdlib for what orjson refuses)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _std_dumps(value)


def audit_text(value: Any) -> str:
    """JSON text of audit data: keys sorted, anything odd as its str()."""
    try:
        return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return _std_dumps_audit(value)


json_value = orjson.loads
_std_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_std_dumps_audit = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, sort_keys=True, default=str
).encode


def audit_to_json(record: AuditRecord) -> dict[str, Any]:
    return {
        "at": record.at,
        "kind": record.kind,
        "device": record.device,
        "actor": record.actor,
        "detail": record.detail,
    }


def audit_from_json(data: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        at=float(data["at"]),
        kind=str(data["kind"]),
        device=str(data.get("device", "")),
        actor=str(data.get("actor", "")),
        detail=dict(data.get("detail") or {}),
    )
