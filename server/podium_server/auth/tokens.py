"""Signed, expiring, revocable bearer tokens.

Format: `pd1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>`. Compact enough for a
URL fragment, verifiable without the store; revocation (by `jti`) is checked against the
store on every use by the caller (`web.auth.authenticate`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Unauthorized

ROLES = ("organizer", "staff", "speaker", "trainee")
_PREFIX = "pd1"
_MAX_TOKEN_LEN = 2048


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_TTL_RE = re.compile(r"^(\d+)([smhd]?)$")
# The longest a token may live: an event's links last days, not years. A leaked token
# stays good until it expires or is revoked; past 30 days that is a forgotten credential.
MAX_TTL_S = 30 * 86400


def check_ttl(ttl_s: int) -> int:
    if ttl_s <= 0:
        raise ValueError("ttl must be positive")
    if ttl_s > MAX_TTL_S:
        raise ValueError(
            f"ttl of {ttl_s} s is too long: at most 30 days ({MAX_TTL_S} s), e.g. 12h or 3d;"
            " issue a new token when it runs out"
        )
    return ttl_s


def parse_ttl(text: str) -> int:
    """'12h' -> 43200 seconds; units s, m, h, d; a bare number is seconds."""
    m = _TTL_RE.match(text.strip())
    if not m:
        raise ValueError(f"bad ttl {text!r}: use e.g. 90s, 30m, 12h, 2d")
    n = int(m.group(1))
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if n <= 0:
        raise ValueError("ttl must be positive")
    try:
        return check_ttl(n * unit)
    except ValueError:
        raise ValueError(f"ttl {text.strip()!r} is too long: at most 30 days (30d)") from None


def load_or_create_secret(path: Path) -> bytes:
    """Read the deployment secret; create it (0600, never world-readable) on first start."""
    if path.exists():
        if path.stat().st_mode & 0o077:
            # Anyone who reads it can mint organizer tokens and forge badges.
            raise ValueError(
                f"secret file {path} is readable by others: chmod 600 {path} (or replace it)"
            )
        raw = path.read_text().strip()
        secret = bytes.fromhex(raw)
        if len(secret) < 32:
            raise ValueError(f"secret in {path} is shorter than 32 bytes")
        return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    # Written whole under another name, then linked into place: processes starting at
    # once (two nodes on a shared volume) agree on one secret and never read half a file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secret.hex() + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process got there first: theirs it is
            return load_or_create_secret(path)
        except OSError:  # a file system without hard links: create it in place
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secret.hex() + "\n")
                f.flush()
                os.fsync(f.fileno())
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)
    return secret


def _fsync_dir(directory: Path) -> None:
    """The new name itself on disk (a crash right after must not lose the secret)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Claims:
    """What a bearer token says: its id (`jti`, the one revoked), role, issue and
    expiry times, and what it is bound to (a session, a participant, a device)."""

    jti: str
    role: str
    iat: int
    exp: int
    session: str | None = None
    participant: str | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if self.role == "trainee" and not self.participant:
            raise ValueError("a trainee token needs a participant")
        if self.role == "speaker" and not self.session:
            raise ValueError("a speaker token needs a session")

    def may_scan(self, session_id: str) -> bool:
        if self.role == "organizer":
            return True
        return self.role == "staff" and (self.session is None or self.session == session_id)

    def may_publish(self, session_id: str) -> bool:
        return self.role == "organizer" or (self.role == "speaker" and self.session == session_id)

    def may_watch(self, session_id: str) -> bool:
        if self.role == "organizer":
            return True
        return self.role == "trainee" and (self.session is None or self.session == session_id)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jti": self.jti, "role": self.role, "iat": self.iat, "exp": self.exp}
        for key in ("session", "participant", "device"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


class TokenSigner:
    """Issues and checks bearer tokens. Owns the token key (derived from the deployment
    secret, apart from the badge key); revocation is the store's."""

    def __init__(self, secret: bytes) -> None:
        # A key of its own so the badge key (derived from the same secret) never doubles as it.
        self._key = hmac.new(secret, b"podium token key v1", hashlib.sha256).digest()

    def _sign(self, body: str) -> str:
        return b64e(hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest())

    def issue(
        self,
        role: str,
        *,
        now: float,
        ttl_s: int = 12 * 3600,
        session: str | None = None,
        participant: str | None = None,
        device: str | None = None,
    ) -> str:
        claims = Claims(
            jti=secrets.token_hex(8),
            role=role,
            iat=int(now),
            exp=int(now) + ttl_s,
            session=session,
            participant=participant,
            device=device,
        )
        body = b64e(json.dumps(claims.to_json(), separators=(",", ":")).encode())
        head = f"{_PREFIX}.{body}"
        return f"{head}.{self._sign(head)}"

    def verify(self, token: object, *, now: float) -> Claims:
        """Claims of a well-formed, authentic, unexpired token; else Unauthorized."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("missing token")
        if len(token) > _MAX_TOKEN_LEN or not token.isascii():
            raise Unauthorized("malformed token")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _PREFIX:
            raise Unauthorized("malformed token")
        head = f"{parts[0]}.{parts[1]}"
        if not hmac.compare_digest(self._sign(head).encode(), parts[2].encode()):
            raise Unauthorized("forged token: bad signature")
        try:
            data = json.loads(b64d(parts[1]))
            claims = Claims(
                jti=str(data["jti"]),
                role=str(data["role"]),
                iat=int(data["iat"]),
                exp=int(data["exp"]),
                session=data.get("session"),
                participant=data.get("participant"),
                device=data.get("device"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise Unauthorized("malformed token") from exc
        if now >= claims.exp:
            raise Unauthorized("expired token")
        return claims
