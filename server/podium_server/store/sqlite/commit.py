"""What one SQLite batch commit runs: the checks and the inserts, in one transaction.

The writer process runs it for a file database; an in-memory database (tests), or a
file whose writer process cannot run, runs the same `commit_rows` in the store itself.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from ..records import RECENT_KEEP
from .queries import chunks, pair_heads
from .reply_index import AuditReplyRow, ReplyIndex
from .writes import (
    COMMITTED_RAW,
    CONFLICT_RAW,
    TOKEN_REVOKED_RAW,
    PairHead,
    PlainWrite,
    Raw,
    ScanRow,
)

_UPSERT_PAIR = (
    "INSERT INTO pairs (session_id, participant_id, version, inside, door_seen)"
    " VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT(session_id, participant_id) DO UPDATE SET"
    " version = excluded.version, inside = excluded.inside, door_seen = excluded.door_seen"
)
# Compare-and-set: a pair moves only from the version its write was decided on. A first
# write (version 1) may find no row, or one a watch made (version 0); a later write
# must find its row, at the version before its own.
_UPSERT_PAIR_IF_CURRENT = _UPSERT_PAIR + " WHERE pairs.version = excluded.version - 1"
_UPDATE_PAIR_IF_CURRENT = (
    "UPDATE pairs SET version = ?3, inside = ?4, door_seen = ?5"
    " WHERE session_id = ?1 AND participant_id = ?2 AND version = ?3 - 1"
)
# Where a PairHead (and a PairVersion) holds what: their rows go to SQL as they are.
_SESSION: Final = 0
_PARTICIPANT: Final = 1
_VERSION: Final = 2

_INSERT_AUDIT = (
    "INSERT INTO audit (at, kind, device, actor, detail, reply_key, reply)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def latest(recent_rows: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The rows of a batch a dashboard can ever show: the last RECENT_KEEP per session
    (it reads the newest RECENT_KEEP only; older ones in the same batch are never seen)."""
    if len(recent_rows) <= RECENT_KEEP:
        return recent_rows
    seen: dict[str, int] = {}
    keep: list[tuple[str, str]] = []
    for row in reversed(recent_rows):
        n = seen.get(row[0], 0)
        if n < RECENT_KEEP:
            seen[row[0]] = n + 1
            keep.append(row)
    keep.reverse()
    return keep


class _Rows:
    """The rows one batch appends, table by table."""

    def __init__(self) -> None:
        self.pairs: list[PairHead] = []
        self.scans: list[ScanRow] = []
        self.annuls: list[tuple[str, str, str, str]] = []
        self.recent: list[tuple[str, str]] = []
        # audit rows, each carrying its request's key and reply (the stored answer)
        self.audit: list[AuditReplyRow] = []

    def add(self, w: PlainWrite) -> None:
        key, head, scan_rows, annulled, recent, reply, audit_row, _, _, _ = w  # all at once
        if head is not None:
            session_id, participant_id, _version, _inside, _door_seen = head
            self.pairs.append(head)
            self.scans.extend(scan_rows)
            self.annuls.extend((session_id, participant_id, *scan) for scan in annulled)
            if recent is not None:
                self.recent.append((session_id, recent))
        self.audit.append((*audit_row, key, reply))

    def insert_rest(self, c: sqlite3.Connection) -> None:
        """Everything but the pairs; the audit rows last (`ReplyIndex.written` counts on
        their row ids being the last inserted)."""
        c.executemany(
            "INSERT INTO door_scans (session_id, participant_id, ver, k, scan_id,"
            " direction, at, device, received_at, annulled, seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self.scans,
        )
        if self.annuls:
            c.executemany(
                "UPDATE door_scans SET annulled = 1 WHERE session_id = ?"
                " AND participant_id = ? AND scan_id = ? AND device = ? AND annulled = 0",
                self.annuls,
            )
        c.executemany("INSERT INTO recent (session_id, body) VALUES (?, ?)", latest(self.recent))
        c.executemany(_INSERT_AUDIT, self.audit)


def _insert_all(
    c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex
) -> list[tuple[str, int]] | None:
    """Write the whole batch as decided, returning the answers' index entries; None (the
    caller rolls back) if a request has an answer already (or comes twice in the batch)
    or a pair is not at the version a write was decided on."""
    keys = {w.key for w in batch}
    if len(keys) != len(batch) or not index.seqs.keys().isdisjoint(keys):
        return None
    if (
        not _decided_on_current(c, batch)
        or _revoked_among(c, "badge", {w.unrevoked_badge for w in batch})
        or _revoked_among(c, "token", {w.token for w in batch})
    ):
        return None
    rows = _Rows()
    for w in batch:
        rows.add(w)
    before = c.total_changes
    # first writes before later ones: a pair's writes keep their order (versions rise)
    c.executemany(_UPSERT_PAIR_IF_CURRENT, [h for h in rows.pairs if h[_VERSION] == 1])
    c.executemany(_UPDATE_PAIR_IF_CURRENT, [h for h in rows.pairs if h[_VERSION] != 1])
    if c.total_changes - before != len(rows.pairs):
        return None  # some pair moved on since it was looked up
    rows.insert_rest(c)
    return index.written(c, rows.audit)


def _revoked_among(c: sqlite3.Connection, kind: str, values: set[str | None]) -> frozenset[str]:
    """Those of the `values` a batch's writes name (the badges they took as not
    revoked, the tokens they came with) that are revoked by now."""
    asked = [value for value in values if value is not None]
    if not asked:
        return frozenset()
    found: set[str] = set()
    for chunk in chunks(asked):
        marks = ",".join("?" * len(chunk))
        sql = f"SELECT value FROM revoked WHERE kind = ? AND value IN ({marks})"
        found.update(r[0] for r in c.execute(sql, (kind, *chunk)))
    return frozenset(found)


def _decided_on_current(c: sqlite3.Connection, batch: list[PlainWrite]) -> bool:
    """Whether every write decided on a pair it leaves alone finds that pair at the
    version it read: the one an earlier write of the batch leaves, else the stored one."""
    written: dict[tuple[str, str], int] = {}
    stored: list[tuple[tuple[str, str], int]] = []
    for w in batch:
        if w.decided_on is not None:
            session_id, participant_id, version = w.decided_on
            pk = (session_id, participant_id)
            if pk in written:
                if written[pk] != version:
                    return False
            else:
                stored.append((pk, version))
        if w.pair_head is not None:
            session_id, participant_id, version, _inside, _door_seen = w.pair_head
            written[(session_id, participant_id)] = version
    if not stored:
        return True
    heads = pair_heads(c, list(dict.fromkeys(pk for pk, _ in stored)))
    return all(heads.get(pk, (0, False))[0] == version for pk, version in stored)


def _write_checked(
    c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex
) -> tuple[list[Raw], list[tuple[str, int]]]:
    """Write a batch write by write inside the open transaction: a request whose token
    is revoked is refused, a request answered before gets its stored reply, a write
    decided on an older version of its pair a conflict (its scan is decided again), the
    others are written."""
    out: list[Raw] = []
    existing = {key: index.answer(c, key) for key in {w.key for w in batch} if key in index.seqs}
    wanted = list(
        dict.fromkeys(
            (x[_SESSION], x[_PARTICIPANT])
            for w in batch
            for x in (w.pair_head, w.decided_on)
            if x is not None
        )
    )
    versions = {pair: head[0] for pair, head in pair_heads(c, wanted).items()}
    revoked = _revoked_among(c, "badge", {w.unrevoked_badge for w in batch})
    revoked_tokens = _revoked_among(c, "token", {w.token for w in batch})
    written: dict[str, int] = {}
    # Versions a write of this batch would have made and did not: a later write of the
    # batch built on one was decided on a ledger that does not exist, so it is refused
    # too, even if the store holds a version of that number (another writer's ledger).
    unmade: dict[tuple[str, str], int] = {}
    rows = _Rows()
    for position, w in enumerate(batch):
        key, head, on = w.key, w.pair_head, w.decided_on
        # the pair this write moves, and the version it moves it to
        pk, version = ((head[_SESSION], head[_PARTICIPANT]), head[_VERSION]) if head else (None, 0)
        if w.token in revoked_tokens:
            if pk is not None:
                unmade[pk] = version
            out.append(TOKEN_REVOKED_RAW)
            continue
        if key in existing or key in written:
            out.append(("d", existing[key]) if key in existing else ("i", written[key]))
            if pk is not None:
                unmade[pk] = version
            continue
        if on is not None:
            on_session, on_participant, on_version = on
            on_pk = (on_session, on_participant)
            if (
                unmade.get(on_pk) == on_version
                or versions.get(on_pk, 0) != on_version
                or w.unrevoked_badge in revoked
            ):
                out.append(CONFLICT_RAW)  # answered on a ledger that moved on (or never was)
                continue
        if pk is not None:
            stale = unmade.get(pk) == version - 1 or versions.get(pk, 0) != version - 1
            if stale or w.unrevoked_badge in revoked:
                unmade[pk] = version
                out.append(CONFLICT_RAW)
                continue
            versions[pk] = version
        written[key] = position
        rows.add(w)
        out.append(COMMITTED_RAW)
    c.executemany(_UPSERT_PAIR, rows.pairs)
    rows.insert_rest(c)
    return out, index.written(c, rows.audit)


def commit_rows(c: sqlite3.Connection, batch: list[PlainWrite], index: ReplyIndex) -> list[Raw]:
    """One transaction for the batch, committed (durable) when this returns.

    Optimistic first: the batch was decided against the state its lookup read, so
    normally no request has an answer yet (the index says so, in memory) and every pair
    is at the version it was decided on (the pairs' upsert checks that itself: it only
    moves a pair from version v-1 to v), so no SELECT is needed. If either check trips,
    the savepoint is rolled back and the batch is written write by write (rare: a retry
    of a scan in flight, another writer)."""
    c.execute("BEGIN IMMEDIATE")
    try:
        index.catch_up(c)
        c.execute("SAVEPOINT optimistic")
        entries = _insert_all(c, batch, index)
        if entries is not None:
            c.execute("RELEASE optimistic")
            out: list[Raw] = [COMMITTED_RAW] * len(batch)
        else:
            c.execute("ROLLBACK TO optimistic")
            c.execute("RELEASE optimistic")
            out, entries = _write_checked(c, batch, index)
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    index.add(entries)
    return out
