"""The SQLite store's writes other than the check-in commit: the event, the roster,
watch intervals, revocations and audit lines. Plain functions over the store's writer
connection (its own thread), each one transaction."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ...attendance.records import WatchInterval
from ...event.model import Participant
from ..records import AuditRecord
from .queries import PARTICIPANT_COLUMNS


def write_event(c: sqlite3.Connection, event_json: Any) -> None:
    c.execute(
        "INSERT INTO event (singleton, body) VALUES (1, ?) "
        "ON CONFLICT(singleton) DO UPDATE SET body = excluded.body",
        (json.dumps(event_json),),
    )


def write_participants(c: sqlite3.Connection, participants: list[Participant]) -> tuple[int, int]:
    """Add or update `participants`; (added, updated)."""
    rows = [tuple(getattr(p, col) for col in PARTICIPANT_COLUMNS) for p in participants]
    c.execute("BEGIN IMMEDIATE")
    try:
        ids = [r[0] for r in rows]
        existing: set[str] = set()
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            existing.update(
                r[0] for r in c.execute(f"SELECT id FROM participants WHERE id IN ({marks})", part)
            )
        c.executemany(
            "INSERT INTO participants (id, name, email, organization, org_type, province, mode)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET"
            " name=excluded.name, email=excluded.email, organization=excluded.organization,"
            " org_type=excluded.org_type, province=excluded.province, mode=excluded.mode",
            rows,
        )
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise
    updated = len(existing)
    return len(set(ids)) - updated, updated


def write_watch(c: sqlite3.Connection, w: WatchInterval) -> None:
    c.execute("BEGIN IMMEDIATE")
    try:
        c.execute(
            "INSERT INTO watches (interval_id, session_id, participant_id, start, end, open)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(interval_id) DO UPDATE SET"
            " start = min(start, excluded.start), end = max(end, excluded.end),"
            " open = excluded.open",
            (w.interval_id, w.session_id, w.participant_id, w.start, w.end, int(w.open)),
        )
        if w.end > w.start:
            c.execute(
                "INSERT INTO pairs (session_id, participant_id, version, watched)"
                " VALUES (?, ?, 0, 1) ON CONFLICT(session_id, participant_id)"
                " DO UPDATE SET watched = 1",
                (w.session_id, w.participant_id),
            )
        c.execute("COMMIT")
    except BaseException:
        c.execute("ROLLBACK")
        raise


def write_revocation(c: sqlite3.Connection, kind: str, value: str, at: float) -> None:
    c.execute("INSERT OR IGNORE INTO revoked (kind, value, at) VALUES (?, ?, ?)", (kind, value, at))


def write_audit_line(c: sqlite3.Connection, record: AuditRecord) -> None:
    c.execute(
        "INSERT INTO audit (at, kind, device, actor, detail) VALUES (?, ?, ?, ?, ?)",
        (
            record.at,
            record.kind,
            record.device,
            record.actor,
            json.dumps(record.detail, sort_keys=True, default=str),
        ),
    )
