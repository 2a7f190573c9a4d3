"""The limits one /ws connection obeys, as plain state: no socket, no task, no clock of
its own (each call is given `now`). The aiohttp adapter (web/ws.py) asks, and does what
the answer says: handle the frame, refuse it `rate_limited`, or close the connection.
"""

from __future__ import annotations

from enum import Enum

from .protocol import RateLimiter

# A door scanner sends ~1 scan/s; a busy gate or an offline upload more.
RATE_PER_S = 200.0
BURST = 400.0
# Frames refused `rate_limited` are counted in a bucket of their own: a client refused
# more than FLOOD_REFUSALS_BURST beyond FLOOD_REFUSALS_PER_S is flooding, not retrying,
# and is closed (1008); its frames would go on taking the loop from everyone else's.
FLOOD_REFUSALS_PER_S = 100.0
# Frames are charged as they are read, so a queue sent scan by scan without waiting
# meets the limit all at once: room for a few thousand before it counts as a flood.
FLOOD_REFUSALS_BURST = 4000.0
# Staff search (manual check-in): a person at the door is looked up a few times a
# second at most; more is someone walking the roster, refused `rate_limited`.
SEARCH_PER_S = 2.0
SEARCH_BURST = 10.0
# A dashboard that only listens, and frames that are no request, are checked against a
# node-wide copy of the revoked set: how stale that copy may be is AUTH_RECHECK_S (it is
# read at most every half of that, and looked at every half).
AUTH_RECHECK_S = 1.0
LOOK_EVERY_S = AUTH_RECHECK_S / 2


class Admission(Enum):
    HANDLE = "handle"  # within the limit
    SLOW_DOWN = "slow_down"  # refuse it `rate_limited`; the client may retry later
    FLOODING = "flooding"  # close the connection (1008): nothing more is read


class AuthCheck(Enum):
    VALID = "valid"
    EXPIRED = "expired"  # refuse and close (4401)
    LOOK_UP = "look_up"  # ask the node's copy of the revoked set, then carry on


class ConnectionRules:
    """Owns one connection's rate, flood and search buckets and when its token was last
    looked up. Frame times are monotonic (a wall clock stepped back would stop the
    refill); token times are the wall clock the token's expiry is in."""

    def __init__(self, authenticated_at: float) -> None:
        self.frames = RateLimiter(RATE_PER_S, BURST)
        self.refusals = RateLimiter(FLOOD_REFUSALS_PER_S, FLOOD_REFUSALS_BURST)
        self.searches = RateLimiter(SEARCH_PER_S, SEARCH_BURST)
        self.flood = False
        self.auth_checked_at = authenticated_at

    def admit_frame(self, now: float) -> Admission:
        """Charge one frame. A refusal is charged to the flood bucket too; once that is
        empty the connection is flooding for good."""
        if self.frames.allow(now):
            return Admission.HANDLE
        self.flood = self.flood or not self.refusals.allow(now)
        return Admission.FLOODING if self.flood else Admission.SLOW_DOWN

    def admit_search(self, now: float) -> bool:
        return self.searches.allow(now)

    def check_token(self, now: float, expires_at: float) -> AuthCheck:
        """Expired, or due a look at the revoked set (at most every LOOK_EVERY_S)."""
        if now >= expires_at:
            return AuthCheck.EXPIRED
        if now - self.auth_checked_at >= LOOK_EVERY_S:
            self.auth_checked_at = now
            return AuthCheck.LOOK_UP
        return AuthCheck.VALID
