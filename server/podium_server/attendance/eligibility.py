"""Attended seconds per trainee per session, and certificate eligibility.

Presence is the union of door intervals (in -> out, or in -> session end) and
server-measured online intervals, clipped to the session; a trainee never counts twice.
A session is attended when attended_seconds >= min_fraction x duration.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..event.model import Event, Session
from . import intervals
from .records import DoorScan, WatchInterval

ATTENDED = "attended"
PARTIAL = "partial"
ABSENT = "absent"


@dataclass(frozen=True)
class SessionAttendance:
    """One trainee's attended time in one session (room, online, their union) and its
    status."""

    session_id: str
    participant_id: str
    room_s: float
    online_s: float
    total_s: float
    duration_s: float
    status: str

    def __post_init__(self) -> None:
        if not 0 <= self.total_s <= self.duration_s + 1e-6:
            raise ValueError("attended time must lie within the session")
        if self.total_s + 1e-6 < max(self.room_s, self.online_s):
            raise ValueError("total is the union: never less than either part")
        if self.status not in (ATTENDED, PARTIAL, ABSENT):
            raise ValueError(f"bad status {self.status!r}")

    @property
    def attended(self) -> bool:
        return self.status == ATTENDED


def session_attendance(
    session: Session,
    participant_id: str,
    scans: Iterable[DoorScan],
    watches: Iterable[WatchInterval],
    min_fraction: float,
    now: float | None = None,
) -> SessionAttendance:
    """Attendance of one trainee in one session; `now` limits a session still running."""
    lo, hi = session.start_ts, session.end_ts
    if now is not None:
        hi = max(lo, min(hi, now))
    room = intervals.clip(intervals.door_intervals(scans, hi), lo, hi)
    online = intervals.clip([(w.start, w.end) for w in watches], lo, hi)
    room_s = intervals.length(room)
    online_s = intervals.length(online)
    total_s = intervals.length(room + online)
    needed = min_fraction * session.duration_s
    if total_s + 1e-6 >= needed:
        status = ATTENDED
    elif total_s > 0:
        status = PARTIAL
    else:
        status = ABSENT
    return SessionAttendance(
        session.id, participant_id, room_s, online_s, total_s, session.duration_s, status
    )


@dataclass(frozen=True)
class Eligibility:
    participant_id: str
    required_sessions: tuple[str, ...]
    attended_required: tuple[str, ...]
    needed: int
    attended_total: int

    def __post_init__(self) -> None:
        if not 0 <= self.needed <= len(self.required_sessions):
            raise ValueError("needed must be between 0 and the number of required sessions")

    @property
    def eligible(self) -> bool:
        return len(self.attended_required) >= self.needed and self.attended_total > 0


def required_sessions(event: Event) -> tuple[str, ...]:
    """Sessions marked required; when none is marked, every session counts."""
    marked = tuple(s.id for s in event.sessions if s.required)
    return marked or tuple(s.id for s in event.sessions)


def needed_count(event: Event) -> int:
    required = required_sessions(event)
    rule = event.certificate.required
    if rule == "all":
        return len(required)
    return min(int(rule), len(required))


def eligibility(
    event: Event, participant_id: str, attendance: Mapping[str, SessionAttendance]
) -> Eligibility:
    """Certificate eligibility per `[certificate]` from per-session attendance."""
    required = required_sessions(event)
    attended = tuple(sid for sid in required if sid in attendance and attendance[sid].attended)
    total = sum(1 for a in attendance.values() if a.attended)
    return Eligibility(participant_id, required, attended, needed_count(event), total)


def minutes(seconds: float) -> int:
    """Whole minutes for reports, rounded down (never credit time not spent)."""
    return int(math.floor(seconds / 60.0 + 1e-9))
