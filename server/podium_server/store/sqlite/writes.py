"""One ledger write as the rows the SQLite commit inserts, and the commit's answer per write.

The event loop encodes each `LedgerWrite` once (`plain_write`); the rows cross the pipe
to the writer process pickled, the child commits them and answers one `Raw` per write,
which the loop turns back into a `CommitResult` (`commit_result`).

The rows cross as plain tuples, in `PlainWrite`'s field order: pickling a NamedTuple
costs the loop three to four times a tuple's (each goes through its `__reduce_ex__`),
measured. The commit names them on arrival (`named`), off the loop.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple

from ..records import (
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    TOKEN_REVOKED,
    CommitResult,
    LedgerWrite,
    StoredReply,
    audit_text,
    json_text,
    json_value,
)

# A row of `pairs`: (session, participant, version, inside, door_seen).
PairHead = tuple[str, str, int, int, int]
# A row of `door_scans`: (session, participant, ver, k, scan id, direction, at, device,
# received_at, annulled, seq).
ScanRow = tuple[str, str, int, int, str, str, float, str, float, int, int]
# An audit row without its request's key and answer: (at, kind, device, actor, detail).
AuditRow = tuple[float, str, str, str, str]
# A pair at a version: (session, participant, version).
PairVersion = tuple[str, str, int]


class PlainWrite(NamedTuple):
    """One ledger write as the rows the commit inserts, its JSON already encoded."""

    key: str  # the request's dedupe key
    pair_head: PairHead | None  # the pair's row after the write; None: the pair is left alone
    scan_rows: tuple[ScanRow, ...]  # door scans appended
    annulled: tuple[tuple[str, str], ...]  # (scan id, device) of the scans it annuls
    recent: str | None  # the dashboard's recent-activity item, if any
    reply: str  # the stored answer (JSON)
    audit_row: AuditRow
    decided_on: PairVersion | None  # the pair a write that leaves it alone was decided on
    unrevoked_badge: str | None  # the participant whose badge it took as not revoked
    token: str | None  # the id of the token the request came with


# PlainWrite's fields as a plain tuple: what the loop builds and pickles.
WireWrite = tuple[
    str,
    PairHead | None,
    tuple[ScanRow, ...],
    tuple[tuple[str, str], ...],
    str | None,
    str,
    AuditRow,
    PairVersion | None,
    str | None,
    str | None,
]

# Per write: COMMITTED_RAW, CONFLICT_RAW, TOKEN_REVOKED_RAW, ("d", stored reply body) for
# a request answered before, ("i", index) for the same request earlier in this batch.
COMMITTED_RAW = 1
CONFLICT_RAW = 0
TOKEN_REVOKED_RAW = 2
Raw = int | tuple[str, Any]

# Each pickled batch and each answer travels length-prefixed.
FRAME = struct.Struct(">I")

_COMMITTED = CommitResult(COMMITTED)  # immutable: one for every committed write
_CONFLICT = CommitResult(CONFLICT)
_TOKEN_REVOKED = CommitResult(TOKEN_REVOKED)


def named(batch: list[WireWrite]) -> list[PlainWrite]:
    """A batch as it crossed the pipe, its fields named."""
    return list(map(PlainWrite._make, batch))


def plain_write(w: LedgerWrite) -> WireWrite:
    """A ledger write as the rows the writer inserts (encoded here, once)."""
    p = w.pair
    a = w.audit
    audit = (a.at, a.kind, a.device, a.actor, audit_text(a.detail))
    if p is None:
        body = json_text(w.stored.to_json())
        return (
            w.dedupe_key,
            None,
            (),
            (),
            None,
            body,
            audit,
            w.decided_on,
            w.unrevoked_badge,
            w.token,
        )
    return (
        w.dedupe_key,
        (p.session_id, p.participant_id, p.version, int(w.inside), int(w.door_seen)),
        tuple(
            (
                p.session_id,
                p.participant_id,
                p.version,
                k,
                d.scan_id,
                d.direction,
                d.at,
                d.device,
                d.received_at,
                int(d.annulled),
                d.seq,
            )
            for k, d in enumerate(w.appended)
        ),
        tuple(w.annulled),
        json_text(w.recent) if w.recent is not None else None,
        json_text(w.stored.to_json()),
        audit,
        None,
        w.unrevoked_badge,
        w.token,
    )


def commit_result(raw: Raw, batch: list[LedgerWrite]) -> CommitResult:
    """The commit's answer for one write of `batch`, as the store's callers read it."""
    if raw == COMMITTED_RAW:
        return _COMMITTED
    if raw == CONFLICT_RAW:
        return _CONFLICT
    if raw == TOKEN_REVOKED_RAW:
        return _TOKEN_REVOKED
    assert isinstance(raw, tuple)
    kind, value = raw
    if kind == "i":  # the same request earlier in the batch, written now
        return CommitResult(DUPLICATE, batch[value].stored)
    return CommitResult(DUPLICATE, StoredReply.from_json(json_value(value)))
