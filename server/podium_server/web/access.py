"""Who may call each HTTP route: one row per route (or per sample call of a route).

This is the declared access policy. The handlers enforce it (`auth.require`); the role
matrix test (`tests/server/web/test_role_matrix.py`) calls every row as every kind of
caller against a real server and checks the status each gets, and fails for any route
the router serves that has no row here. A new route therefore comes with its row.

WebSocket message types have their table in `attendance.protocol.PERMISSIONS`, which
the same test walks the same way.

Callers (what the test sends):
  none           no Authorization header
  forged         a token not signed by this deployment
  expired        a genuine organizer token past its expiry
  revoked        a genuine organizer token, revoked
  organizer      an organizer token
  staff_bound    a staff token bound to session s1
  staff_unbound  a staff token for every session
  speaker        a speaker token for session s1
  trainee        a trainee token (participant P1)
A caller not allowed gets 401 if it has no genuine live token (none, forged, expired,
revoked), and 403 if it has one with the wrong role or scope.
"""

from __future__ import annotations

from dataclasses import dataclass

CALLERS = (
    "none",
    "forged",
    "expired",
    "revoked",
    "organizer",
    "staff_bound",
    "staff_unbound",
    "speaker",
    "trainee",
)
# Callers without a genuine live token: refused 401.
UNAUTHENTICATED = frozenset({"none", "forged", "expired", "revoked"})

PUBLIC = frozenset(CALLERS)
ORGANIZER = frozenset({"organizer"})


@dataclass(frozen=True)
class Access:
    """`method` and `path` as the route is registered (`*` for a route that takes
    several methods); `call` is the method the sample uses and `sample` a concrete
    path (default: `path`); `allow` the callers let through, who get `ok` back from
    the sample call (sent without a body: an answer past the role check, such as 415
    for a missing SDP offer, proves the caller got through)."""

    method: str
    path: str
    allow: frozenset[str]
    ok: int = 200
    sample: str = ""
    call: str = ""

    @property
    def sample_path(self) -> str:
        return self.sample or self.path

    @property
    def call_method(self) -> str:
        return self.call or self.method

    def expected(self, caller: str) -> int:
        if caller in self.allow:
            return self.ok
        return 401 if caller in UNAUTHENTICATED else 403


_REPORTS = "/api/v1/reports/{kind}.{fmt}"  # as the router names it (no patterns)
_WATCHERS = frozenset({"organizer", "trainee"})
_PUBLISHERS = frozenset({"organizer", "speaker"})

ROUTE_ACCESS: tuple[Access, ...] = (
    # Health and metrics: for load balancers and Prometheus. /metrics holds counts
    # only, never names; keep it off the public side of the proxy all the same.
    Access("GET", "/healthz", PUBLIC),
    Access("GET", "/readyz", PUBLIC),
    Access("GET", "/metrics", PUBLIC),
    # The programme and the badge public key are public by design.
    Access("GET", "/api/v1/event", PUBLIC),
    Access("GET", "/api/v1/badge-key", PUBLIC),
    # Personal data and badge codes: organizers only.
    Access("GET", "/api/v1/participants", ORGANIZER),
    Access("GET", "/api/v1/participants/{id}", ORGANIZER, sample="/api/v1/participants/P1"),
    Access("POST", "/api/v1/roster", ORGANIZER, ok=400),  # 400: the empty body
    Access("GET", _REPORTS, ORGANIZER, sample="/api/v1/reports/attendance.csv"),
    Access("GET", _REPORTS, ORGANIZER, sample="/api/v1/reports/certificates.xlsx"),
    Access("GET", "/api/v1/reports/statistics", ORGANIZER),
    # A session's live picture: organizers, and staff who may scan that session.
    Access(
        "GET",
        "/api/v1/sessions/{id}/attendance",
        frozenset({"organizer", "staff_bound", "staff_unbound"}),
        sample="/api/v1/sessions/s1/attendance",
    ),
    Access(
        "GET",
        "/api/v1/sessions/{id}/attendance",
        frozenset({"organizer", "staff_unbound"}),
        sample="/api/v1/sessions/s2/attendance",
    ),
    # Anyone holding a certificate may have it checked.
    Access("GET", "/verify/{certificate_id}", PUBLIC, ok=404, sample="/verify/PC1~x~P1~AAAA"),
    # The WebSocket: the handshake is open (plain GET: 400), the hello carries the
    # token and its message types are checked by PERMISSIONS.
    Access("GET", "/ws", PUBLIC, ok=400),
    # WHIP/WHEP (415: past the role check, no SDP offer sent). CORS preflights are open.
    Access("*", "/whip/{session_id}", _PUBLISHERS, ok=415, sample="/whip/s1", call="POST"),
    Access("*", "/whip/{session_id}", PUBLIC, ok=204, sample="/whip/s1", call="OPTIONS"),
    Access("*", "/whip/{session_id}", PUBLIC, ok=405, sample="/whip/s1", call="GET"),
    Access(
        "*",
        "/whip/{session_id}/{resource_id}",
        _PUBLISHERS,
        ok=404,  # past the role check: no such resource
        sample="/whip/s1/none",
        call="DELETE",
    ),
    Access(
        "*",
        "/whip/{session_id}/{resource_id}",
        frozenset({"organizer"}),
        ok=404,
        sample="/whip/s2/none",  # the speaker's token is for s1 only
        call="DELETE",
    ),
    Access("*", "/whep/{session_id}", _WATCHERS, ok=415, sample="/whep/s1", call="POST"),
    Access("*", "/whep/{session_id}", PUBLIC, ok=204, sample="/whep/s1", call="OPTIONS"),
    Access(
        "*",
        "/whep/{session_id}/{resource_id}",
        _WATCHERS,
        ok=404,
        sample="/whep/s1/none",
        call="DELETE",
    ),
)

# Rows for routes other work adds alongside this table (the pages, the organizer pages'
# endpoints, the trainee's and speaker's status routes), written ahead so each merge
# keeps the matrix whole: a row here is checked like any other once its route is
# served, and left aside until then. Move them up into ROUTE_ACCESS once all is merged.
ROUTES_ADDED_ALONGSIDE: tuple[Access, ...] = (
    # Pages and their files: public (a page holds no data; it asks the API with its token).
    Access("GET", "/", PUBLIC),
    Access("GET", "/watch/{session_id}", PUBLIC, sample="/watch/s1"),
    Access("GET", "/publish/{session_id}", PUBLIC, sample="/publish/s1"),
    Access("GET", "/scan", PUBLIC),
    Access("GET", "/dashboard", PUBLIC),
    Access("GET", "/admin", PUBLIC),
    Access("GET", "/static/{path}", PUBLIC, sample="/static/css/podium.css"),
    # A trainee's own minutes; who watches a session, for its speaker.
    Access(
        "GET",
        "/api/v1/sessions/{id}/attendance/me",
        frozenset({"trainee"}),
        sample="/api/v1/sessions/s1/attendance/me",
    ),
    Access(
        "GET",
        "/api/v1/sessions/{id}/viewers",
        frozenset({"organizer", "speaker"}),
        sample="/api/v1/sessions/s1/viewers",
    ),
    # The organizer pages' data and actions.
    Access("GET", "/api/v1/roster/summary", ORGANIZER),
    Access(
        "GET", "/api/v1/sessions/{id}/arrivals", ORGANIZER, sample="/api/v1/sessions/s1/arrivals"
    ),
    Access("GET", "/api/v1/audit", ORGANIZER),
    Access("GET", "/api/v1/badges.pdf", ORGANIZER),
    Access("GET", "/api/v1/invitations.csv", ORGANIZER),
    Access("GET", "/api/v1/links", ORGANIZER),
    Access("POST", "/api/v1/links", ORGANIZER, ok=400),  # 400: the empty body
    Access("POST", "/api/v1/revocations", ORGANIZER, ok=400),
    Access("PUT", "/api/v1/event", ORGANIZER, ok=400),
)
