"""One /ws connection after its upgrade, as plain state: no socket, no task, no clock of
its own (every call that needs the time is given it).

The aiohttp adapter (web/ws.py) reads frames and feeds them in; what comes back says
what to do: a request to hand to the attendance service, an answer to send, or a
refusal (say why, then close once the answers owed are out). It feeds back what the
I/O found: a scan answered, a token looked up. Waiting -- for room to read on, for a
scan's answer before its annul -- stays the adapter's; whether to wait is decided here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..auth.tokens import Claims
from ..errors import WS_CLOSE_FORBIDDEN, WS_CLOSE_UNAUTHORIZED, Forbidden, PodiumError, TokenRevoked
from . import protocol
from .checkin import Scanner
from .connection_rules import Admission, AuthCheck, ConnectionRules

# Scans taken and not answered yet, per connection: past this the adapter stops reading
# (backpressure) until one is answered. Syncs and annuls (handled concurrently) have a
# bound of their own, the same size.
MAX_IN_FLIGHT = 256
# WebSocket close codes (RFC 6455 7.4.1) used besides the 44xx of errors.py.
CLOSE_POLICY_VIOLATION = 1008  # flooding
CLOSE_TRY_AGAIN_LATER = 1013  # the store is down at hello: the same token works later

SLOW_DOWN = "too many messages: slow down"

Waiter = TypeVar("Waiter")  # what an annul waits on in the adapter (its future)


@dataclass(frozen=True, slots=True)
class RefuseAndClose:
    """Say `reply`, then close with `code`: after the answers owed, once refused while
    running. `audited`: a revoked token's use, to record first."""

    reply: dict[str, Any]
    code: int
    audited: bool = False


@dataclass(frozen=True, slots=True)
class SendReply:
    """Send `reply` (an error: the frame was no request it could handle). `authorize`:
    first check the token as for a frame that is no request (its expiry, and the node's
    copy of the revoked set when due): nothing else checks it."""

    reply: dict[str, Any]
    authorize: bool = False


# What one frame read comes to: a request for the service, an answer, a refusal, or
# nothing at all (refused already, or flooding).
Decision = protocol.Request | SendReply | RefuseAndClose | None


def _id_of(text: str) -> str | None:
    """The request's id for a `re`, if the frame is a message that has a fitting one."""
    try:
        return protocol.re_of(protocol.decode(text))
    except protocol.ProtocolError:
        return None


class ConnectionState(Generic[Waiter]):
    """Owns one /ws connection's rules and bookkeeping: its hello and token (and when
    that was last looked up), its limits (ConnectionRules), whether it is refused, the
    scans and other requests in flight (the backpressure bounds), the annuls waiting for
    their scan's answer, the answers not yet written (this turn's batch, then a backlog
    for a client that falls behind), and a dashboard's pending, merged update."""

    # One per socket, thousands held idle: no instance dict.
    __slots__ = (
        "backlog",
        "claims",
        "device",
        "max_in_flight",
        "outbox",
        "pending_text",
        "pending_update",
        "refused",
        "rules",
        "scanner",
        "scans_in_flight",
        "tasks_in_flight",
        "unanswered",
    )

    def __init__(self, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        self.max_in_flight = max_in_flight
        self.claims: Claims | None = None
        self.device = ""
        self.scanner: Scanner | None = None  # who this connection scans as, after hello
        self.rules = ConnectionRules(authenticated_at=0.0)
        self.refused = False  # refused (a revoked token, a flood) and closing: no more frames
        self.scans_in_flight = 0
        self.tasks_in_flight = 0  # syncs and annuls being handled
        # Ids of the scans (alone or in a sync) taken and not answered yet, each with the
        # annuls of it waiting for its answer (see wait_for_answer).
        self.unanswered: dict[str, list[Waiter] | None] = {}
        self.outbox: list[str] = []  # answers for this loop turn's write
        self.backlog: list[str] = []  # answers for the writer task, in order
        self.pending_update: dict[str, Any] = {}
        self.pending_text: str | None = None  # pending_update already encoded, if unmerged

    # -- hello ----------------------------------------------------------------------------

    @staticmethod
    def hello_missing() -> RefuseAndClose:
        """No hello before the deadline."""
        return RefuseAndClose(
            protocol.error_reply(None, "bad_message", "hello expected"), WS_CLOSE_UNAUTHORIZED
        )

    @staticmethod
    def hello(text: str | None) -> protocol.Hello | RefuseAndClose:
        """The first frame read (`None`: not a text frame): the hello to authenticate,
        or why the connection is refused."""
        if text is None:
            reply = protocol.error_reply(None, "bad_message", "text frames only")
            return RefuseAndClose(reply, WS_CLOSE_UNAUTHORIZED)
        try:
            return protocol.parse_hello(protocol.decode(text))
        except protocol.ProtocolError as err:
            return RefuseAndClose(err.reply(), WS_CLOSE_UNAUTHORIZED)

    @staticmethod
    def hello_refused(hello: protocol.Hello, err: PodiumError) -> RefuseAndClose:
        """The hello's token was not accepted. The store down is no bad token: 1013, try
        again later, with the same token."""
        if isinstance(err, Forbidden):
            reply = protocol.error_reply(
                hello.id, "forbidden", "this token's role has no use for /ws"
            )
            return RefuseAndClose(reply, WS_CLOSE_FORBIDDEN)
        code = CLOSE_TRY_AGAIN_LATER if err.code == "unavailable" else WS_CLOSE_UNAUTHORIZED
        return RefuseAndClose(protocol.error_reply(hello.id, err.ws_code(), err.message), code)

    def welcome(
        self, hello: protocol.Hello, claims: Claims, now: float, event: dict[str, Any] | None
    ) -> dict[str, Any]:
        """The hello's token is valid (checked at `now`): the connection's identity, and
        the welcome to send."""
        self.claims = claims
        self.rules.auth_checked_at = now
        # A token bound to a device names it; otherwise the name a client chose is
        # scoped by its token, so another token calling itself "door-A-1" can neither
        # annul this device's scans nor collide with its request ids.
        self.device = claims.device or f"{hello.device or claims.role}@{claims.jti[:8]}"
        self.scanner = Scanner(
            device=self.device,
            actor=claims.jti,
            bound_session=claims.session if claims.role == "staff" else None,
            authorized_from=float(claims.iat),
        )
        return {
            "type": "welcome",
            "re": hello.id,
            "role": claims.role,
            "device": self.device,
            "session": claims.session,
            "participant": claims.participant,
            "event": event,
            "server_time": now,
        }

    # -- frames ---------------------------------------------------------------------------

    def receive_text(self, text: str, now: float, mono: float) -> Decision:
        """A text frame read at wall time `now` (the token's expiry is in it) and
        monotonic time `mono` (the limits': a wall clock stepped back would stop the
        refill)."""
        if self.refused:
            return None  # refused and closing: nothing more is handled
        assert self.claims is not None
        if now >= self.claims.exp:
            return self.refuse(protocol.error_reply(_id_of(text), "forbidden", "expired token"))
        # Charged before decoding: a flood of malformed frames is limited like any other.
        verdict = self.rules.admit_frame(mono)
        if verdict is Admission.FLOODING:
            return self._flooding()
        try:
            if verdict is Admission.SLOW_DOWN:
                raise protocol.ProtocolError("rate_limited", SLOW_DOWN, _id_of(text))
            return protocol.parse(protocol.decode(text), self.claims.role)
        except protocol.ProtocolError as err:
            # Not a request, so no request's check: the node's copy of the revoked set
            # stops a revoked token's junk within AUTH_RECHECK_S.
            return SendReply(err.reply(), authorize=True)

    def receive_binary(self, mono: float) -> SendReply | RefuseAndClose | None:
        """A binary frame, after its token was checked (see check_token): never a
        request, but charged like one -- a flood of them is closed too."""
        if self.refused:
            return None
        verdict = self.rules.admit_frame(mono)
        if verdict is Admission.FLOODING:
            return self._flooding()
        if verdict is Admission.SLOW_DOWN:
            return SendReply(protocol.error_reply(None, "rate_limited", SLOW_DOWN))
        return SendReply(protocol.error_reply(None, "bad_message", "text frames only"))

    def _flooding(self) -> RefuseAndClose | None:
        """Past the flood limit: close (1008); nothing more is read or answered."""
        reply = protocol.error_reply(None, "rate_limited", "flooding: closed")
        return self.refuse(reply, CLOSE_POLICY_VIOLATION)

    def admit_search(self, mono: float) -> bool:
        return self.rules.admit_search(mono)

    # -- the token ------------------------------------------------------------------------

    def check_token(self, now: float) -> AuthCheck:
        """For what no request's check covers (a frame that is no request, a push to a
        dashboard): expired, or due a look at the node's copy of the revoked set."""
        assert self.claims is not None
        return self.rules.check_token(now, self.claims.exp)

    def refuse_token(self, reason: str) -> RefuseAndClose | None:
        """The token expired or was found revoked by a check of check_token's."""
        return self.refuse(protocol.error_reply(None, "forbidden", reason))

    def refuse_revoked(self, rid: str | None) -> RefuseAndClose | None:
        """The token was revoked, found by a request's own check: said once, its use
        audited; the scans still in flight come back refused too (their commits check
        the same token)."""
        reply = protocol.error_reply(rid, "forbidden", TokenRevoked().message)
        return self.refuse(reply, audited=True)

    def refuse(
        self, reply: dict[str, Any], code: int = WS_CLOSE_UNAUTHORIZED, audited: bool = False
    ) -> RefuseAndClose | None:
        """Stop handling frames now; None if refused already (said once)."""
        if self.refused:
            return None
        self.refused = True
        return RefuseAndClose(reply, code, audited)

    # -- scans, syncs and annuls in flight ------------------------------------------------

    def take_scan(self, rid: str) -> bool:
        """Count a scan in flight, if there is room; False: stop reading until one is
        answered (scan_answered), then take it again."""
        if self.scans_in_flight >= self.max_in_flight:
            return False
        self.scans_in_flight += 1
        # (the same id again, a retry: annuls already waiting for it go on waiting)
        self.unanswered.setdefault(rid, None)
        return True

    def scan_answered(self, rid: str) -> list[Waiter] | None:
        """A scan taken is answered: room for another; the annuls waiting for it go."""
        self.scans_in_flight -= 1
        return self.unanswered.pop(rid, None)

    def expect_answer(self, rid: str) -> None:
        """A sync's scan is queued: an annul of it waits for its answer too."""
        self.unanswered.setdefault(rid, None)

    def answered(self, rid: str) -> list[Waiter] | None:
        """A sync's scan is answered: the annuls waiting for it go."""
        return self.unanswered.pop(rid, None)

    def wait_for_answer(self, scan_id: str, waiter: Waiter) -> bool:
        """An annul of a scan taken here and not answered yet waits for its answer (so
        it finds the scan recorded, not `not_found`): True, and `waiter` is handed back
        by scan_answered or answered. False: nothing to wait for."""
        if scan_id not in self.unanswered:
            return False
        waiting = self.unanswered[scan_id]
        if waiting is None:
            waiting = self.unanswered[scan_id] = []
        waiting.append(waiter)
        return True

    def take_task(self) -> bool:
        """Count a sync or annul in flight, if there is room; False: stop reading until
        one is done (task_done)."""
        if self.tasks_in_flight >= self.max_in_flight:
            return False
        self.tasks_in_flight += 1
        return True

    def task_done(self) -> None:
        self.tasks_in_flight -= 1

    # -- answers to write -----------------------------------------------------------------

    def answer_ready(self, reply: dict[str, Any]) -> bool:
        """A scan's answer for this loop turn's write; True: the first of the batch, so
        a write is due once the turn's other answers are in."""
        first = not self.outbox
        self.outbox.append(protocol.encode(reply))
        return first

    def take_batch(self, writable: bool) -> list[str] | None:
        """This turn's answers: returned to write in one go if the socket is `writable`
        (its buffer not full) and nothing is backlogged; otherwise added to the backlog,
        to go after what is there, in order (None)."""
        batch, self.outbox = self.outbox, []
        if writable and not self.backlog:
            return batch
        self.backlog.extend(batch)
        return None

    def next_backlogged(self) -> str | None:
        return self.backlog.pop(0) if self.backlog else None

    # -- a dashboard's updates ------------------------------------------------------------

    def queue_update(self, update: dict[str, Any], text: str) -> None:
        """Coalesce: a slow dashboard gets the newest counts, never a backlog. The common
        case (nothing pending) sends the text the service encoded once for everyone."""
        if not self.pending_update:
            self.pending_update = {
                "sessions": dict(update["sessions"]),
                "server_time": update["server_time"],
            }
            self.pending_text = text
        else:
            self.pending_update["sessions"].update(update["sessions"])
            self.pending_update["server_time"] = update["server_time"]
            self.pending_text = None

    def take_update(self) -> str | None:
        """The update to push now, merged and encoded; None if nothing is pending."""
        update, self.pending_update = self.pending_update, {}
        text, self.pending_text = self.pending_text, None
        if not update:
            return None
        return text if text is not None else protocol.encode({"type": "update", **update})
