"""An event from plain data, checked whole: the tables of a programme's TOML, or the
JSON the store keeps. Every problem is collected and listed before refusing, so a bad
programme is never half-used. No files and no parsing of text here (`loaders.py` reads
those): the store reads its stored event back through this alone."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InvalidFile
from .model import (
    CertificatePolicy,
    CheckinPolicy,
    Event,
    Session,
)


def event_from_dict(data: dict[str, Any], source: str = "event") -> Event:
    """Build an Event from TOML-shaped data, collecting every problem before refusing."""
    errors: list[dict[str, Any]] = []

    def bad(field: str, reason: str) -> None:
        errors.append({"field": field, "reason": reason})

    head = data.get("event")
    if not isinstance(head, dict):
        bad("event", "missing [event] table")
        head = {}
    tz_name = head.get("timezone", "UTC")
    tz: ZoneInfo | None = None
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError):
        bad("event.timezone", f"unknown timezone {tz_name!r}")
    for key in ("id", "title"):
        if not isinstance(head.get(key), str):
            bad(f"event.{key}", "missing or not a string")

    sessions: list[Session] = []
    raw_sessions = data.get("sessions", [])
    if not isinstance(raw_sessions, list) or not raw_sessions:
        bad("sessions", "need at least one [[sessions]] entry")
        raw_sessions = []
    seen: set[str] = set()
    for i, item in enumerate(raw_sessions):
        where = f"sessions[{i}]"
        if not isinstance(item, dict):
            bad(where, "not a table")
            continue
        sid = item.get("id")
        if isinstance(sid, str):
            where = f"sessions[{i}] ({sid})"
            if sid in seen:
                bad(where, "duplicate session id")
            seen.add(sid)
        try:
            start = _aware(item.get("start"), tz, "start")
            end = _aware(item.get("end"), tz, "end")
            speakers = item.get("speakers", [])
            if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
                raise ValueError("speakers must be a list of strings")
            for flag in ("stream", "required"):
                if flag in item and not isinstance(item[flag], bool):
                    raise ValueError(f"{flag} must be true or false")
            sessions.append(
                Session(
                    id=_str(item, "id"),
                    title=_str(item, "title"),
                    room=str(item.get("room", "")),
                    start=start,
                    end=end,
                    mode=item.get("mode", "hybrid"),
                    stream=bool(item.get("stream", False)),
                    required=bool(item.get("required", True)),
                    speakers=tuple(speakers),
                )
            )
        except (ValueError, TypeError) as exc:
            bad(where, str(exc))

    checkin = CheckinPolicy()
    raw_checkin = data.get("checkin", {})
    try:
        if not isinstance(raw_checkin, dict):
            raise ValueError("must be a table")
        opens = raw_checkin.get("opens_before_min", 30)
        closes = raw_checkin.get("closes_after_start_min")
        if not _is_int(opens) or (closes is not None and not _is_int(closes)):
            raise ValueError("minutes must be whole numbers")
        checkin = CheckinPolicy(opens_before_min=opens, closes_after_start_min=closes)
    except ValueError as exc:
        bad("checkin", str(exc))

    certificate = CertificatePolicy()
    raw_cert = data.get("certificate", {})
    try:
        if not isinstance(raw_cert, dict):
            raise ValueError("must be a table")
        fraction = raw_cert.get("min_fraction", 0.75)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError("min_fraction must be a number")
        certificate = CertificatePolicy(
            min_fraction=float(fraction), required=raw_cert.get("required", "all")
        )
        if isinstance(certificate.required, int) and certificate.required > len(sessions):
            raise ValueError("required is more than the number of sessions")
    except ValueError as exc:
        bad("certificate", str(exc))

    if errors:
        raise InvalidFile(f"{source} refused: {len(errors)} problem(s)", errors)
    try:
        return Event(
            id=head["id"],
            title=head["title"],
            timezone=str(tz_name),
            sessions=tuple(sessions),
            checkin=checkin,
            certificate=certificate,
        )
    except ValueError as exc:
        raise InvalidFile(f"{source} refused", [{"field": "event", "reason": str(exc)}]) from exc


def event_from_json(data: dict[str, Any]) -> Event:
    """The inverse of Event.to_json (what the store keeps)."""
    converted = {
        "event": {k: data[k] for k in ("id", "title", "timezone")},
        "sessions": [
            s
            | {"start": datetime.fromisoformat(s["start"]), "end": datetime.fromisoformat(s["end"])}
            for s in data["sessions"]
        ],
        "checkin": {k: v for k, v in data.get("checkin", {}).items() if v is not None},
        "certificate": data.get("certificate", {}),
    }
    return event_from_dict(converted, source="stored event")


def _str(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise ValueError(f"{key} missing or not a string")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _aware(value: object, tz: ZoneInfo | None, name: str) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        if tz is None:
            raise ValueError(f"{name} has no offset and the event timezone is unknown")
        return value.replace(tzinfo=tz)
    if isinstance(value, date | time):
        raise ValueError(f"{name} needs a date and a time, e.g. 2021-09-15T09:00:00")
    raise ValueError(f"{name} missing or not a TOML datetime")
