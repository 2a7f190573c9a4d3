"""The read side of the SQLite store: plain functions over a `sqlite3.Connection`.

Each reads in whatever transaction its caller holds; the store chooses the connection
(its writer thread's, or the reader used inline on the loop for the hot-path reads).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from ...attendance.records import DoorScan, PairLedger, WatchInterval
from ...event.model import Participant
from ..records import (
    AUDIT_SCAN_MAX,
    ONLINE_STALE_S,
    RECENT_KEEP,
    AuditFilter,
    AuditPage,
    AuditRecord,
    SessionCounts,
    SessionLive,
    StoredReply,
    json_value,
)
from .reply_index import ReplyIndex

PARTICIPANT_COLUMNS = ("id", "name", "email", "organization", "org_type", "province", "mode")
_SCAN_COLUMNS = (
    "session_id, participant_id, scan_id, direction, at, device, received_at, annulled, seq"
)


def chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def join_pairs(c: sqlite3.Connection, pairs: list[tuple[str, str]], select: str) -> Iterator[Any]:
    """The rows of `select`, which reads the (session, participant) `pairs` as a table
    `w(s, p)`: one statement per 400 pairs, not one per pair."""
    for chunk in chunks(pairs, 400):
        values = ",".join("(?,?)" for _ in chunk)
        yield from c.execute(
            f"WITH w(s, p) AS (VALUES {values}) {select}", [x for pair in chunk for x in pair]
        )


def pair_heads(
    c: sqlite3.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool]]:
    """(version, watched) of each stored (session, participant) pair among `pairs`."""
    rows = join_pairs(
        c,
        pairs,
        "SELECT w.s, w.p, pairs.version, pairs.watched"
        " FROM w JOIN pairs ON pairs.session_id = w.s AND pairs.participant_id = w.p",
    )
    return {(r[0], r[1]): (int(r[2]), bool(r[3])) for r in rows}


def read_revoked_values(c: sqlite3.Connection, kind: str) -> frozenset[str]:
    """Every revoked value of a kind (a small table, read whole)."""
    return frozenset(r[0] for r in c.execute("SELECT value FROM revoked WHERE kind = ?", (kind,)))


def read_is_revoked(c: sqlite3.Connection, kind: str, value: str) -> bool:
    sql = "SELECT 1 FROM revoked WHERE kind = ? AND value = ?"
    return c.execute(sql, (kind, value)).fetchone() is not None


# -- event and roster ------------------------------------------------------------------


def read_event_json(c: sqlite3.Connection) -> Any | None:
    """The stored event as JSON data, or None before one is saved."""
    row = c.execute("SELECT body FROM event").fetchone()
    return None if row is None else json.loads(row["body"])


def _participant(row: sqlite3.Row) -> Participant:
    return Participant(**{k: row[k] for k in PARTICIPANT_COLUMNS})


def read_participants(c: sqlite3.Connection) -> list[Participant]:
    return [_participant(r) for r in c.execute("SELECT * FROM participants ORDER BY id")]


def read_participant(c: sqlite3.Connection, participant_id: str) -> Participant | None:
    row = c.execute("SELECT * FROM participants WHERE id = ?", (participant_id,)).fetchone()
    return None if row is None else _participant(row)


def read_participants_among(c: sqlite3.Connection, ids: list[str]) -> dict[str, Participant]:
    """The stored participants among `ids`, by id."""
    known: dict[str, Participant] = {}
    for part in chunks(ids):
        marks = ",".join("?" * len(part))
        for r in c.execute(f"SELECT * FROM participants WHERE id IN ({marks})", part):
            known[r["id"]] = _participant(r)
    return known


# -- the check-in lookup -----------------------------------------------------------------


def read_ledgers(
    c: sqlite3.Connection,
    index: ReplyIndex,
    keys: list[str],
    wanted: list[tuple[str, str]],
    have: dict[tuple[str, str], int],
) -> tuple[dict[str, StoredReply], dict[tuple[str, str], PairLedger], set[tuple[str, str]]]:
    """The stored answers among `keys`, and the ledgers of the `wanted` pairs: those
    whose version the caller `have`s already come back as unchanged instead."""
    replies = {
        key: StoredReply.from_json(json_value(body))
        for key, body in (index.answers(c, keys) if keys else {}).items()
    }
    found: dict[tuple[str, str], PairLedger] = {}
    unchanged: set[tuple[str, str]] = set()
    rows = pair_heads(c, wanted)
    # scans only for pairs that have some and whose cached version is stale
    stale: list[tuple[str, str]] = []
    for pair in wanted:
        version, _ = rows.get(pair, (0, False))
        if have.get(pair) == version:
            unchanged.add(pair)
        elif version > 0:
            stale.append(pair)
    scans = _scans_of(c, stale)
    for pair in wanted:
        if pair in unchanged:
            continue
        version, watched = rows.get(pair, (0, False))
        found[pair] = PairLedger(pair[0], pair[1], tuple(scans.get(pair, ())), version, watched)
    return replies, found, unchanged


def _scan(r: Any) -> DoorScan:
    return DoorScan(r[2], r[0], r[1], r[3], float(r[4]), r[5], float(r[6]), bool(r[7]), r[8])


def _scans_of(
    c: sqlite3.Connection, pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], list[DoorScan]]:
    """The door scans of `pairs`, each pair's in order."""
    out: dict[tuple[str, str], list[DoorScan]] = {}
    for r in join_pairs(
        c,
        pairs,
        f"SELECT {_SCAN_COLUMNS}"
        " FROM w JOIN door_scans d ON d.session_id = w.s AND d.participant_id = w.p"
        " ORDER BY d.session_id, d.participant_id, d.ver, d.k",
    ):
        out.setdefault((r[0], r[1]), []).append(_scan(r))
    return out


# -- dashboards and reports --------------------------------------------------------------


def _recent(c: sqlite3.Connection, session_id: str) -> list[Any]:
    return [
        json_value(r[0])
        for r in c.execute(
            "SELECT body FROM recent WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
            (session_id, RECENT_KEEP),
        )
    ]


def read_live(c: sqlite3.Connection, session_id: str, now: float) -> SessionLive:
    def ids(sql: str, *args: object) -> frozenset[str]:
        return frozenset(r[0] for r in c.execute(sql, (session_id, *args)))

    recent = [
        json.loads(r[0])
        for r in c.execute(
            "SELECT body FROM recent WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
            (session_id, RECENT_KEEP),
        )
    ]
    return SessionLive(
        session_id,
        inside=ids("SELECT participant_id FROM pairs WHERE session_id = ? AND inside = 1"),
        online=ids(
            "SELECT DISTINCT participant_id FROM watches"
            " WHERE session_id = ? AND open = 1 AND end >= ?",
            now - ONLINE_STALE_S,
        ),
        attended=ids(
            "SELECT participant_id FROM pairs WHERE session_id = ?"
            " AND (door_seen = 1 OR watched = 1)"
        ),
        recent=tuple(recent),
    )


def read_live_counts(c: sqlite3.Connection, session_id: str, now: float) -> SessionCounts:
    inside = c.execute(
        "SELECT count(*) FROM pairs WHERE session_id = ? AND inside = 1", (session_id,)
    ).fetchone()[0]
    online = c.execute(
        "SELECT count(DISTINCT participant_id) FROM watches"
        " WHERE session_id = ? AND open = 1 AND end >= ?",
        (session_id, now - ONLINE_STALE_S),
    ).fetchone()[0]
    provinces: dict[str, int] = {}
    org_types: dict[str, int] = {}
    attended = 0
    for province, org_type, n in c.execute(
        "SELECT coalesce(r.province, 'unknown'), coalesce(r.org_type, 'unknown'), count(*)"
        " FROM pairs p LEFT JOIN participants r ON r.id = p.participant_id"
        " WHERE p.session_id = ? AND (p.door_seen = 1 OR p.watched = 1)"
        " GROUP BY 1, 2",
        (session_id,),
    ):
        attended += n
        provinces[province] = provinces.get(province, 0) + n
        org_types[org_type] = org_types.get(org_type, 0) + n
    recent = tuple(_recent(c, session_id))
    return SessionCounts(session_id, inside, online, attended, provinces, org_types, recent)


def read_scans(c: sqlite3.Connection) -> list[DoorScan]:
    rows = c.execute(
        f"SELECT {_SCAN_COLUMNS} FROM door_scans ORDER BY session_id, participant_id, ver, k"
    ).fetchall()
    return [_scan(r) for r in rows]


def read_watches(c: sqlite3.Connection) -> list[WatchInterval]:
    rows = c.execute(
        "SELECT interval_id, session_id, participant_id, start, end, open FROM watches"
    ).fetchall()
    return [WatchInterval(r[1], r[2], r[0], r[3], r[4], bool(r[5])) for r in rows]


# -- the audit log -----------------------------------------------------------------------


def _audit_record(r: sqlite3.Row) -> AuditRecord:
    return AuditRecord(r["at"], r["kind"], r["device"], r["actor"], json.loads(r["detail"]))


def read_audit_tail(c: sqlite3.Connection, limit: int) -> list[AuditRecord]:
    """The last `limit` audit lines, oldest first."""
    rows = c.execute(
        "SELECT * FROM (SELECT * FROM audit ORDER BY seq DESC LIMIT ?) ORDER BY seq", (limit,)
    ).fetchall()
    return [_audit_record(r) for r in rows]


def read_audit_page(
    c: sqlite3.Connection, where: AuditFilter, before: int | None, limit: int
) -> AuditPage:
    """One page of the audit lines `where` matches, newest first, reading at most
    AUDIT_SCAN_MAX lines back from `before`."""
    clauses: list[str] = ["seq < ?", "seq >= ?"]
    params: list[str | int] = []
    if where.kind is not None:
        clauses.append("kind = ?")
        params.append(where.kind)
    if where.device is not None:  # the name, or "<name>@<token id>" (AuditFilter)
        clauses.append("(device = ? OR substr(device, 1, ?) = ?)")
        params += [where.device, len(where.device) + 1, f"{where.device}@"]
    if where.participant is not None:
        clauses.append("json_extract(detail, '$.participant') = ?")
        params.append(where.participant)
    top = c.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM audit").fetchone()[0]
    upper = top if before is None else min(before, top)
    floor = max(1, upper - AUDIT_SCAN_MAX)
    rows = c.execute(
        f"SELECT seq, at, kind, device, actor, detail FROM audit"
        f" WHERE {' AND '.join(clauses)} ORDER BY seq DESC LIMIT ?",
        (upper, floor, *params, limit),
    ).fetchall()
    entries = [(int(r["seq"]), _audit_record(r)) for r in rows]
    if len(entries) == limit and limit > 0:
        older: int | None = entries[-1][0]
    else:
        older = floor if floor > 1 else None
    return AuditPage(entries, older if older is None or older > 1 else None)
