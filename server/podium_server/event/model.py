"""Validating dataclasses for the event, its sessions and its participants.

Times are timezone-aware datetimes; the pure attendance core works on epoch seconds
(`Session.start_ts` / `end_ts`) so it needs no clock and no timezone database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Literal

ORG_TYPES = (
    "government",
    "university",
    "research_institute",
    "industrial_park",
    "transfer_center",
    "enterprise",
    "other",
)
PARTICIPANT_MODES = ("in_person", "online", "hybrid")
SESSION_MODES = ("in_person", "online", "hybrid")

SessionMode = Literal["in_person", "online", "hybrid"]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def valid_id(value: object) -> bool:
    """Ids appear in URLs, Redis keys and CSV cells: keep them short and plain."""
    return isinstance(value, str) and _valid_id_text(value)


@lru_cache(maxsize=4096)
def _valid_id_text(value: str) -> bool:
    # cached: the same few session ids arrive with every scan
    return bool(_ID_RE.match(value))


@dataclass(frozen=True)
class Session:
    """One session of the programme: its times, room, mode, whether it is streamed and
    whether a certificate requires it."""

    id: str
    title: str
    start: datetime
    end: datetime
    room: str = ""
    mode: SessionMode = "hybrid"
    stream: bool = False
    required: bool = True
    speakers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not valid_id(self.id):
            raise ValueError(f"session id {self.id!r} must be 1-64 letters, digits, _ . -")
        if not self.title.strip():
            raise ValueError(f"session {self.id}: title is empty")
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError(f"session {self.id}: start and end need a timezone")
        if self.end <= self.start:
            raise ValueError(f"session {self.id}: end must be after start")
        if self.mode not in SESSION_MODES:
            raise ValueError(f"session {self.id}: mode must be one of {', '.join(SESSION_MODES)}")

    # Epoch seconds, computed once (every scan's check-in window needs them).
    @cached_property
    def start_ts(self) -> float:
        return self.start.timestamp()

    @cached_property
    def end_ts(self) -> float:
        return self.end.timestamp()

    @property
    def duration_s(self) -> float:
        return self.end_ts - self.start_ts

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "room": self.room,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "mode": self.mode,
            "stream": self.stream,
            "required": self.required,
            "speakers": list(self.speakers),
        }


@dataclass(frozen=True)
class CheckinPolicy:
    opens_before_min: int = 30
    closes_after_start_min: int | None = None  # None: the door closes at session end

    def __post_init__(self) -> None:
        if self.opens_before_min < 0:
            raise ValueError("checkin.opens_before_min must be >= 0")
        if self.closes_after_start_min is not None and self.closes_after_start_min < 0:
            raise ValueError("checkin.closes_after_start_min must be >= 0")

    def window(self, session: Session) -> tuple[float, float]:
        """The epoch-second interval in which a door scan *in* is accepted."""
        opens = session.start_ts - self.opens_before_min * 60
        if self.closes_after_start_min is None:
            closes = session.end_ts
        else:
            closes = min(session.end_ts, session.start_ts + self.closes_after_start_min * 60)
        return opens, closes


@dataclass(frozen=True)
class CertificatePolicy:
    min_fraction: float = 0.75
    required: Literal["all"] | int = "all"

    def __post_init__(self) -> None:
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValueError("certificate.min_fraction must be in (0, 1]")
        if self.required != "all" and (
            isinstance(self.required, bool)
            or not isinstance(self.required, int)
            or self.required < 1
        ):
            raise ValueError('certificate.required must be "all" or a positive integer')


@dataclass(frozen=True)
class Event:
    """The programme: its sessions, and the check-in and certificate policies."""

    id: str
    title: str
    timezone: str
    sessions: tuple[Session, ...]
    checkin: CheckinPolicy = field(default_factory=CheckinPolicy)
    certificate: CertificatePolicy = field(default_factory=CertificatePolicy)

    def __post_init__(self) -> None:
        if not valid_id(self.id):
            raise ValueError(f"event id {self.id!r} must be 1-64 letters, digits, _ . -")
        if not self.title.strip():
            raise ValueError("event title is empty")
        seen: set[str] = set()
        for s in self.sessions:
            if s.id in seen:
                raise ValueError(f"duplicate session id {s.id!r}")
            seen.add(s.id)

    def session(self, session_id: str) -> Session | None:
        return self._sessions_by_id.get(session_id)

    @cached_property
    def _sessions_by_id(self) -> dict[str, Session]:
        return {s.id: s for s in self.sessions}

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "title": self.title,
            "timezone": self.timezone,
            "sessions": [s.to_json() for s in self.sessions],
            "checkin": {
                "opens_before_min": self.checkin.opens_before_min,
                "closes_after_start_min": self.checkin.closes_after_start_min,
            },
            "certificate": {
                "min_fraction": self.certificate.min_fraction,
                "required": self.certificate.required,
            },
        }


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Participant:
    """One trainee on the roster, as imported (`problems()` lists what is wrong with
    a row)."""

    id: str
    name: str
    email: str
    organization: str
    org_type: str
    province: str
    mode: str = "in_person"

    def __post_init__(self) -> None:
        errors = self.problems()
        if errors:
            raise ValueError("; ".join(errors))

    def problems(self) -> list[str]:
        out: list[str] = []
        for name in ("id", "name", "email", "organization", "org_type", "province", "mode"):
            if _CONTROL_RE.search(getattr(self, name)):
                # Invisible, and spreadsheets refuse them: a report would fail on this row.
                out.append(f"{name} contains a control character")
        if not valid_id(self.id):
            out.append(f"id {self.id!r} must be 1-64 letters, digits, _ . -")
        if not self.name.strip():
            out.append("name is empty")
        if len(self.name) > 200:
            out.append("name is longer than 200 characters")
        if self.email and not _EMAIL_RE.match(self.email):
            out.append(f"email {self.email!r} is not an address")
        if len(self.organization) > 300:
            out.append("organization is longer than 300 characters")
        if self.org_type not in ORG_TYPES:
            out.append(f"org_type {self.org_type!r} must be one of {', '.join(ORG_TYPES)}")
        if not self.province.strip() or len(self.province) > 100:
            out.append("province is empty or too long")
        if self.mode not in PARTICIPANT_MODES:
            out.append(f"mode {self.mode!r} must be one of {', '.join(PARTICIPANT_MODES)}")
        return out

    def to_json(self) -> dict[str, str]:
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "organization": self.organization,
            "org_type": self.org_type,
            "province": self.province,
            "mode": self.mode,
        }
