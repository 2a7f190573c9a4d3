"""What the store keeps and hands back: audit lines, ledger writes and their commit
results, lookups, a session's live picture. The store's roles (what it does with them)
are in `roles.py`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import orjson

from ..attendance.records import DoorScan, PairLedger
from ..event.model import Participant


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


# ---- attendance: pair ledger writes, lookups and live pictures ------------------------

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
