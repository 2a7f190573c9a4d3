"""The `/ws` wire format, sans I/O: text frame in -> typed request or error out, and
the services' answers (`answers.py`) -> the frames that carry them.

Every way a frame can be wrong ends in a `ProtocolError` carrying one of the WebSocket
error codes (bad_message, unknown_type, forbidden, rate_limited) and the request id when
one could be read, so the adapter answers `{"type":"error","re":..,"code":..}` and
carries on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import orjson

from .answers import AnnulAnswer, Answer, Refusal, ScanAnswer, ScannedPerson, SyncAnswer
from .checkin import ScanRequest
from .records import DIRECTIONS

MAX_FRAME_BYTES = 64 * 1024
MAX_ID_LEN = 128
MAX_SYNC_SCANS = 500
MAX_QUERY_LEN = 100
PRESENCE_STATES = ("watching", "hidden", "left")

# Which roles may send which message types (hello is handled before roles exist).
PERMISSIONS: dict[str, frozenset[str]] = {
    "scan": frozenset({"staff", "organizer"}),
    "sync": frozenset({"staff", "organizer"}),
    "annul": frozenset({"staff", "organizer"}),
    "search": frozenset({"staff", "organizer"}),
    "presence": frozenset({"trainee"}),
    # staff: one door session's counts (the scanner page's in-room figure), see ws.py
    "subscribe": frozenset({"organizer", "staff"}),
    "ping": frozenset({"staff", "organizer", "trainee"}),
}
# Roles that may open a /ws session at all.
WS_ROLES = frozenset({"staff", "organizer", "trainee"})


class ProtocolError(Exception):
    def __init__(self, code: str, message: str, re: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.re = re

    def reply(self) -> dict[str, Any]:
        return error_reply(self.re, self.code, self.message)


def error_reply(re: str | None, code: str, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if re is not None:
        out["re"] = re
    return out


def answer_frame(re: str | None, answer: Answer) -> dict[str, Any]:
    """The reply to request `re`: `scan.result`, `annul.result` or `error`. Also the form
    an answer is kept in for a retry (see answer_from_frame): stored replies have always
    been the frames sent, so any node answers a retry the same."""
    if isinstance(answer, ScanAnswer):
        frame: dict[str, Any] = {"type": "scan.result", "re": re, "outcome": answer.outcome}
        person = answer.participant
        if person is not None:
            frame["participant"] = {
                "id": person.id,
                "name": person.name,
                "organization": person.organization,
                "province": person.province,
            }
        if answer.first_seen_at is not None:
            frame["first_seen_at"] = answer.first_seen_at
        if answer.manual:
            frame["manual"] = True
        return frame
    if isinstance(answer, AnnulAnswer):
        return {"type": "annul.result", "re": re, "scan_id": answer.scan_id, "outcome": "annulled"}
    return error_reply(re, answer.code, answer.message)


def sync_frame(sync_id: str, answer: SyncAnswer) -> dict[str, Any]:
    """`sync.result`: every scan's own reply, in the order uploaded."""
    results = [answer_frame(re, item) for re, item in answer.results]
    return {"type": "sync.result", "re": sync_id, "results": results}


def answer_from_frame(frame: dict[str, Any]) -> Answer:
    """An answer kept for a retry (an `answer_frame`), as the value it was made from;
    ValueError for anything else."""
    kind = frame.get("type")
    if kind == "scan.result":
        person = frame.get("participant")
        return ScanAnswer(
            frame["outcome"],
            ScannedPerson(person["id"], person["name"], person["organization"], person["province"])
            if person is not None
            else None,
            frame.get("first_seen_at"),
            bool(frame.get("manual", False)),
        )
    if kind == "annul.result":
        return AnnulAnswer(frame["scan_id"])
    if kind == "error":
        return Refusal(frame["code"], frame["message"])
    raise ValueError(f"not a stored answer: {str(kind)[:40]!r}")


@dataclass(frozen=True)
class Hello:
    id: str
    token: str
    device: str


@dataclass(frozen=True)
class Sync:
    id: str
    scans: tuple[ScanRequest | ProtocolError, ...]


@dataclass(frozen=True)
class Annul:
    id: str
    scan_id: str


@dataclass(frozen=True)
class Search:
    id: str
    query: str


@dataclass(frozen=True)
class Presence:
    id: str
    session: str
    state: str


@dataclass(frozen=True)
class Subscribe:
    id: str
    session: str | None


@dataclass(frozen=True)
class Ping:
    id: str


Request = ScanRequest | Sync | Annul | Search | Presence | Subscribe | Ping


def decode(text: str | bytes) -> dict[str, Any]:
    """A JSON object, or ProtocolError(bad_message)."""
    if len(text) > MAX_FRAME_BYTES:
        raise ProtocolError("bad_message", "frame too large")
    try:
        msg = orjson.loads(text)  # ValueError on bad JSON, bad UTF-8, too deep
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ProtocolError("bad_message", "not JSON") from None
    if not isinstance(msg, dict):
        raise ProtocolError("bad_message", "a message is a JSON object")
    return msg


def encode(msg: dict[str, Any]) -> str:
    """A message as the text of one frame (compact, UTF-8 as is)."""
    try:
        return orjson.dumps(msg).decode()
    except TypeError:  # what orjson refuses (non-str keys, huge ints): the stdlib way
        return _encoder(msg)


_encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def request_id(msg: dict[str, Any]) -> str:
    rid = msg.get("id")
    if not isinstance(rid, str) or not 1 <= len(rid) <= MAX_ID_LEN:
        raise ProtocolError("bad_message", "id must be a 1-128 character string")
    if _CONTROL.search(rid):
        raise ProtocolError("bad_message", "id must not contain control characters")
    return rid


# Ids and device names are joined into the store's dedupe keys with control characters
# as separators: kept out of both, the keys of two requests can never coincide.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def re_of(msg: dict[str, Any]) -> str | None:
    rid = msg.get("id")
    return rid if isinstance(rid, str) and 1 <= len(rid) <= MAX_ID_LEN else None


def _str(msg: dict[str, Any], key: str, rid: str, *, max_len: int = 256) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise ProtocolError("bad_message", f"{key} must be a non-empty string", rid)
    return value


def parse_hello(msg: dict[str, Any]) -> Hello:
    if msg.get("type") != "hello":
        raise ProtocolError("bad_message", "the first message must be hello", re_of(msg))
    rid = request_id(msg)
    token = msg.get("token")
    if not isinstance(token, str):
        token = ""
    device = msg.get("device", "")
    if not isinstance(device, str) or len(device) > 64 or _CONTROL.search(device):
        raise ProtocolError(
            "bad_message", "device must be at most 64 characters, no control characters", rid
        )
    return Hello(rid, token, device.strip())


def parse_scan(msg: dict[str, Any]) -> ScanRequest:
    rid = request_id(msg)
    code, participant = "", None
    if msg.get("participant") is None:
        code = _str(msg, "code", rid)
    elif msg.get("code") is None:  # a manual check-in (the person found by search)
        participant = _str(msg, "participant", rid, max_len=64)
    else:
        raise ProtocolError("bad_message", "a scan has a code or a participant, not both", rid)
    session = _str(msg, "session", rid, max_len=64)
    direction = msg.get("direction", "in")
    if direction not in DIRECTIONS:
        raise ProtocolError("bad_message", "direction must be 'in' or 'out'", rid)
    scanned_at = msg.get("scanned_at")
    if scanned_at is not None:
        if isinstance(scanned_at, bool) or not isinstance(scanned_at, int | float):
            raise ProtocolError("bad_message", "scanned_at must be epoch seconds", rid)
        if not math.isfinite(scanned_at) or scanned_at < 0:
            raise ProtocolError("bad_message", "scanned_at must be epoch seconds", rid)
        scanned_at = float(scanned_at)
    return ScanRequest(rid, code, session, direction, scanned_at, participant)


def parse(msg: dict[str, Any], role: str) -> Request:
    """A typed request from a decoded message, checked against the sender's role."""
    kind = msg.get("type")
    rid = re_of(msg)
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "type must be a string", rid)
    if kind not in PERMISSIONS:
        raise ProtocolError("unknown_type", f"unknown message type {kind[:40]!r}", rid)
    if role not in PERMISSIONS[kind]:
        raise ProtocolError("forbidden", f"a {role} may not send {kind}", rid)
    rid = request_id(msg)
    if kind == "scan":
        return parse_scan(msg)
    if kind == "sync":
        scans = msg.get("scans")
        if not isinstance(scans, list) or len(scans) > MAX_SYNC_SCANS:
            raise ProtocolError(
                "bad_message", f"scans must be a list of at most {MAX_SYNC_SCANS}", rid
            )
        items: list[ScanRequest | ProtocolError] = []
        for item in scans:
            try:
                if not isinstance(item, dict):
                    raise ProtocolError("bad_message", "each scan is an object")
                items.append(parse_scan(item))
            except ProtocolError as err:
                items.append(err)
        return Sync(rid, tuple(items))
    if kind == "annul":
        return Annul(rid, _str(msg, "scan_id", rid, max_len=MAX_ID_LEN))
    if kind == "search":
        query = msg.get("query")
        if not isinstance(query, str) or len(query) > MAX_QUERY_LEN:
            raise ProtocolError("bad_message", "query must be a string of at most 100", rid)
        return Search(rid, query.strip())
    if kind == "presence":
        session = _str(msg, "session", rid, max_len=64)
        state = msg.get("state")
        if state not in PRESENCE_STATES:
            raise ProtocolError("bad_message", "state must be watching, hidden or left", rid)
        return Presence(rid, session, str(state))
    if kind == "subscribe":
        wanted = msg.get("session")
        if wanted is not None and (not isinstance(wanted, str) or len(wanted) > 64):
            raise ProtocolError("bad_message", "session must be a string", rid)
        return Subscribe(rid, wanted or None)
    return Ping(rid)


class RateLimiter:
    """A token bucket per connection; time is passed in."""

    def __init__(self, rate: float, burst: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._last: float | None = None

    def allow(self, now: float, cost: float = 1.0) -> bool:
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now if self._last is None else max(self._last, now)
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        return False
