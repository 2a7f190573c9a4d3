"""`/ws`: the WebSocket adapter for scanners, watch pages and dashboards (DESIGN).

Thin: frames are decoded and checked by `attendance.protocol` (sans I/O), decisions
are the attendance service's. Scans are handled concurrently per connection (replies
carry `re`), so a scanner may pipeline; a bounded number are in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from .. import appkeys as keys
from ..attendance import protocol
from ..attendance.answers import Answer
from ..attendance.checkin import Scanner, ScanRequest, check_session
from ..attendance.connection_rules import LOOK_EVERY_S, Admission, AuthCheck, ConnectionRules
from ..attendance_service import DashboardSubscriber, ScanDone
from ..auth.tokens import Claims
from ..errors import (
    WS_CLOSE_FORBIDDEN,
    WS_CLOSE_UNAUTHORIZED,
    Forbidden,
    PodiumError,
    TokenRevoked,
)
from ..store.base import AuditRecord
from .auth import RevokedTokens, authenticate_token, refused_use
from .ws_socket import PodiumWebSocket

log = logging.getLogger(__name__)

REVOKED_TOKENS = web.AppKey("revoked_tokens", RevokedTokens)

HELLO_TIMEOUT_S = 10.0
# Rate, flood and search limits, and how often a token is looked up: the sans-I/O
# attendance/connection_rules.py. A request is refused from the first use after its
# token was revoked: scans (the hot path) by their commit, which checks the token with
# the write; every other request by a store read before it is handled; a dashboard that
# only listens before each push, against the node's copy of the revoked set.
MAX_IN_FLIGHT = 256
# Liveness (aiohttp's heartbeat, which counts any bytes received): a connection silent
# for HEARTBEAT_S is pinged, and dropped if no answer comes in HEARTBEAT_S / 2 (a
# scanner whose Wi-Fi vanished).
HEARTBEAT_S = 30.0
# A transport asked to close still holds what it could not send; a peer that reads
# nothing keeps it open for ever (and its handler waiting), so it is cut this long after.
STUCK_CLOSE_S = 5.0
# Answers are written straight to the socket while less than this is waiting in it.
RAW_WRITE_LIMIT = 256 * 1024


_dumps = protocol.encode
_WS_ROLES = tuple(sorted(protocol.WS_ROLES))


def _id_of(text: str) -> str | None:
    """The request's id for a `re`, if the frame is a message that has a fitting one."""
    try:
        return protocol.re_of(protocol.decode(text))
    except protocol.ProtocolError:
        return None


_SLOW_DOWN = "too many messages: slow down"


class Connection:
    """One /ws connection after its upgrade: the hello, then each frame read, checked and
    handed to the attendance service, and the answers written back. Owns the socket's
    per-connection state: its limits (ConnectionRules), scans in flight and the annuls
    waiting for them, the answers not yet written, and a dashboard's pending update."""

    def __init__(
        self,
        app: web.Application,
        ws: PodiumWebSocket,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.app = app
        self.ws = ws
        # The socket under `ws`, for writing a batch of answers in one go (see
        # write_replies); None: every answer goes through aiohttp, one by one.
        self.transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.service = app[keys.ATTENDANCE]
        self.metrics = app[keys.METRICS]
        self.claims: Claims | None = None
        self.refused = False  # refused (a revoked token, a flood) and closing: no more frames
        self.device = ""
        self.rules = ConnectionRules(authenticated_at=0.0)
        self.in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.tasks: set[asyncio.Task[None]] = set()
        self.subscriber: DashboardSubscriber | None = None
        self.pending_update: dict[str, Any] = {}
        self.pending_text: str | None = None  # pending_update already encoded, if unmerged
        self.update_ready = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        # Scans: no task each; the service calls back, and the answers one commit
        # released are flushed together right after (see flush_replies).
        self.scanner: Scanner | None = None
        self.scans_in_flight = 0
        self.room = asyncio.Event()  # set when scans_in_flight drops below the bound
        # Ids of the scans (alone or in a sync) sent here and not answered yet, each with
        # the annuls of it waiting for its answer (see unanswered_first).
        self.unanswered: dict[str, list[asyncio.Future[None]] | None] = {}
        self.outbox: list[str] = []  # answers waiting for this loop turn's flush
        self.backlog: list[str] = []  # answers for the writer task (aiohttp's way)
        self.backlog_ready = asyncio.Event()
        self.backlog_empty = asyncio.Event()
        self.backlog_empty.set()
        self.writer: asyncio.Task[None] | None = None

    async def send(self, msg: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        await self.send_text(_dumps(msg), msg.get("type", ""))

    async def send_text(self, text: str, kind: str) -> None:
        """Compressed only if its type and size make it worth it (see ws_socket)."""
        compress = self.ws.compression_for(kind, len(text))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(text, compress=compress)

    async def refuse(self, reply: dict[str, Any], code: int) -> None:
        """Say why, then close; a peer that reads nothing is cut after STUCK_CLOSE_S."""
        try:
            async with asyncio.timeout(STUCK_CLOSE_S):
                await self.send(reply)
                await self.ws.close(code=code, message=reply.get("code", "").encode())
        except TimeoutError:
            if self.transport is not None:
                self.transport.abort()

    # -- hello ------------------------------------------------------------------------

    async def hello(self) -> bool:
        try:
            # One deadline for the whole hello: pings (answered inside receive) do not
            # push it back.
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                msg = await self.ws.receive()
        except TimeoutError:
            await self.refuse(
                protocol.error_reply(None, "bad_message", "hello expected"), WS_CLOSE_UNAUTHORIZED
            )
            return False
        except ConnectionError:  # gone before hello (answering its ping, say)
            return False
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            log.info("connection ended before hello: %s %r", msg.type.name, msg.data)
            return False
        if msg.type != WSMsgType.TEXT:
            await self.refuse(
                protocol.error_reply(None, "bad_message", "text frames only"), WS_CLOSE_UNAUTHORIZED
            )
            return False
        try:
            hello = protocol.parse_hello(protocol.decode(msg.data))
        except protocol.ProtocolError as err:
            await self.refuse(err.reply(), WS_CLOSE_UNAUTHORIZED)
            return False
        try:
            # The role is checked before the use is audited: a refusal is counted, not a row.
            claims = await authenticate_token(
                self.app, hello.token, device=hello.device, roles=_WS_ROLES
            )
        except Forbidden:
            await self.refuse(
                protocol.error_reply(hello.id, "forbidden", "this token's role has no use for /ws"),
                WS_CLOSE_FORBIDDEN,
            )
            return False
        except PodiumError as err:
            # The store down is no bad token: 1013, try again later, with the same token.
            code = (
                WSCloseCode.TRY_AGAIN_LATER if err.code == "unavailable" else WS_CLOSE_UNAUTHORIZED
            )
            await self.refuse(protocol.error_reply(hello.id, err.ws_code(), err.message), code)
            return False
        self.claims = claims
        self.metrics.ws_role_changed("pending", claims.role)
        self.rules.auth_checked_at = self.app[keys.CLOCK]()  # authenticate_token just checked
        # A token bound to a device names it; otherwise the name a client chose is
        # scoped by its token, so another token calling itself "door-A-1" can neither
        # annul this device's scans nor collide with its request ids.
        self.device = claims.device or f"{hello.device or claims.role}@{claims.jti[:8]}"
        event = self.app[keys.EVENT].event
        await self.send(
            {
                "type": "welcome",
                "re": hello.id,
                "role": claims.role,
                "device": self.device,
                "session": claims.session,
                "participant": claims.participant,
                "event": event.to_json() if event else None,
                "server_time": self.app[keys.CLOCK](),
            }
        )
        return True

    # -- messages -----------------------------------------------------------------------

    async def run(self) -> None:
        if not await self.hello():
            return
        self.scanner = self.build_scanner()
        self.writer = asyncio.create_task(self.write_replies())
        async for msg in self.ws:
            if self.refused:
                continue  # refused and closing: nothing more is handled
            if msg.type == WSMsgType.TEXT:
                await self.on_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                now = self.app[keys.CLOCK]()
                if not await self.still_authorized(now):
                    continue  # refused: closing once its answers are out
                verdict = self.admit()  # a flood of them too
                if verdict is Admission.HANDLE:
                    await self.send(protocol.error_reply(None, "bad_message", "text frames only"))
                elif verdict is Admission.SLOW_DOWN:
                    await self.send(protocol.error_reply(None, "rate_limited", _SLOW_DOWN))
            elif msg.type == WSMsgType.ERROR:
                break

    async def still_authorized(self, now: float) -> bool:
        """Expiry, and revocation within AUTH_RECHECK_S (the node's copy): before a push
        to a dashboard, and for frames that are no request. False: refused, closing."""
        assert self.claims is not None
        check = self.rules.check_token(now, self.claims.exp)
        reason = "expired token" if check is AuthCheck.EXPIRED else None
        if check is AuthCheck.LOOK_UP and await self.app[REVOKED_TOKENS].contains(self.claims.jti):
            reason = "revoked token"
        if reason is None:
            return True
        if not self.refused:
            reply = protocol.error_reply(None, "forbidden", reason)
            self._refuse_soon(reply, WS_CLOSE_UNAUTHORIZED)
        return False

    async def on_text(self, text: str) -> None:
        assert self.claims is not None
        now = self.app[keys.CLOCK]()
        if now >= self.claims.exp:
            reply = protocol.error_reply(_id_of(text), "forbidden", "expired token")
            self._refuse_soon(reply, WS_CLOSE_UNAUTHORIZED)
            return
        # Charged before decoding: a flood of malformed frames is limited like any other.
        verdict = self.admit()
        try:
            if verdict is Admission.FLOODING:
                return
            if verdict is Admission.SLOW_DOWN:
                raise protocol.ProtocolError("rate_limited", _SLOW_DOWN, _id_of(text))
            msg = protocol.decode(text)
            request = protocol.parse(msg, self.claims.role)
        except protocol.ProtocolError as err:
            # Not a request, so no request's check: the node's copy of the revoked set
            # stops a revoked token's junk within AUTH_RECHECK_S.
            if await self.still_authorized(now):
                await self.send(err.reply())
            return
        if isinstance(request, ScanRequest):
            early = self.service.answered_at_once(request)
            if early is not None:
                # Answered at once, without a commit to check its token: looked up here.
                if await self._token_revoked():
                    self._refuse_revoked(request.request_id)
                    return
            while self.scans_in_flight >= MAX_IN_FLIGHT:  # stop reading: backpressure
                self.room.clear()
                await self.room.wait()
            self.scans_in_flight += 1
            assert self.scanner is not None
            # (the same id again, a retry: annuls already waiting for it go on waiting)
            self.unanswered.setdefault(request.request_id, None)
            done = self._scan_done(request.request_id, time.monotonic())
            if early is None:
                self.service.enqueue(request, self.scanner, done)
            else:
                done(early)
            return
        if isinstance(request, protocol.Sync | protocol.Annul):
            answers = None
            if isinstance(request, protocol.Sync):
                # Its token looked up and its scans queued before the next frame is read,
                # as a scan is: a socket's frames are decided in the order sent. (Rare: an
                # upload after a scanner was offline.)
                if await self._token_revoked():
                    self._refuse_revoked(request.id)
                    return
                assert self.scanner is not None
                answers = self.service.start_sync(request, self.scanner)
                for item, answer in zip(request.scans, answers, strict=True):
                    if isinstance(item, ScanRequest) and not answer.done():
                        self.unanswered.setdefault(item.request_id, None)
                        answer.add_done_callback(self._answered_callback(item.request_id))
            await self.in_flight.acquire()
            task = asyncio.create_task(self.guarded(request, answers))
            self.tasks.add(task)
            task.add_done_callback(self._task_done)
            return
        await self.guarded(request)

    def admit(self) -> Admission:
        """Charge a frame to the connection's rules; past the flood limit, close (1008):
        nothing more is read or answered. Monotonic time: a wall clock stepped back would
        stop the refill meanwhile."""
        verdict = self.rules.admit_frame(time.monotonic())
        if verdict is Admission.FLOODING and not self.refused:
            reply = protocol.error_reply(None, "rate_limited", "flooding: closed")
            self._refuse_soon(reply, WSCloseCode.POLICY_VIOLATION)
        return verdict

    def _answered(self, rid: str) -> None:
        """A scan sent here is answered: the annuls waiting for it may go."""
        waiting = self.unanswered.pop(rid, None)
        if waiting:
            for annul in waiting:
                if not annul.done():
                    annul.set_result(None)

    def _answered_callback(self, rid: str) -> Callable[[asyncio.Future[Any]], None]:
        return lambda _: self._answered(rid)

    async def unanswered_first(self, rid: str) -> None:
        """Wait for the answer to a scan with this id sent here before, if it has none
        yet: an annul sent right after its scan finds it recorded, not `not_found`."""
        if rid not in self.unanswered:
            return
        waiting = self.unanswered[rid]
        if waiting is None:
            waiting = self.unanswered[rid] = []
        annul: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting.append(annul)
        await annul

    def _scan_done(self, rid: str, received_at: float) -> ScanDone:
        def done(result: Answer | BaseException) -> None:
            self.metrics.scan_ack.observe(time.monotonic() - received_at)
            self.scans_in_flight -= 1
            self.room.set()
            self._answered(rid)
            if isinstance(result, TokenRevoked):
                self._refuse_revoked(rid)
                return
            if isinstance(result, PodiumError):  # `unavailable`: the same id again later
                frame = protocol.error_reply(rid, result.ws_code(), result.message)
            elif isinstance(result, BaseException):
                log.error("scan failed", exc_info=result)
                frame = protocol.error_reply(rid, "internal", "internal error")
            else:
                frame = protocol.answer_frame(rid, result)
            if not self.ws.closed:  # after a close the scan is durable; its reply is dropped
                if not self.outbox:
                    asyncio.get_running_loop().call_soon(self.flush_replies)
                self.outbox.append(_dumps(frame))

        return done

    def _refuse_revoked(self, rid: str | None) -> None:
        """The token was revoked: say so once, close 4401; the scans still in flight
        come back refused too (their commits check the same token)."""
        if self.refused:
            return
        assert self.claims is not None
        reply = protocol.error_reply(rid, "forbidden", TokenRevoked().message)
        use = refused_use(self.claims, self.app[keys.CLOCK](), self.device)
        self._refuse_soon(reply, WS_CLOSE_UNAUTHORIZED, use)

    def _refuse_soon(
        self, reply: dict[str, Any], code: int, audit: AuditRecord | None = None
    ) -> None:
        """Stop handling frames now; close once the answers owed are out (see below)."""
        self.refused = True
        task = asyncio.create_task(self._refuse_after_answers(reply, code, audit))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refuse_after_answers(
        self, reply: dict[str, Any], code: int, audit: AuditRecord | None
    ) -> None:
        """Requests already taken may be recorded: their answers go out before the
        goodbye (within STUCK_CLOSE_S, if the client reads) -- scans and syncs in
        flight finish, the answers they release are flushed, the backlog written."""
        if audit is not None:
            try:
                await self.service.store.append_audit(audit)
            except Exception:
                log.warning("could not audit a refused token's use", exc_info=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STUCK_CLOSE_S):
                others = [t for t in self.tasks if t is not asyncio.current_task()]
                if others:
                    await asyncio.wait(others)
                while self.scans_in_flight > 0:
                    self.room.clear()
                    await self.room.wait()
                await asyncio.sleep(0)  # the flush the last answers scheduled
                await self.backlog_empty.wait()
        await self.refuse(reply, code)

    async def _token_revoked(self) -> bool:
        """Exactly, from the store; from the node's copy if the store cannot say now."""
        assert self.claims is not None
        try:
            return await self.service.store.is_revoked("token", self.claims.jti)
        except Exception:
            # not contains(): its copy is usually due a read, from the same store
            log.warning("could not read the token's revocation; used the node's copy")
            return self.app[REVOKED_TOKENS].known(self.claims.jti)

    def flush_replies(self) -> None:
        """The answers a commit released (it finishes all its scans in one go, before
        this runs), as one write: one syscall, usually one TCP segment, instead of one
        per answer -- a tenth of the loop's time at full load -- and no task woken.
        Plain frames, which are this simple (answers are never worth compressing, see
        ws_socket); a client that falls behind goes the aiohttp way, on the writer task,
        in order."""
        batch, self.outbox = self.outbox, []
        transport = self.transport
        if (
            not self.backlog
            and transport is not None
            and not self.ws.closed
            and not transport.is_closing()
            and transport.get_write_buffer_size() < RAW_WRITE_LIMIT
        ):
            transport.write(b"".join(text_frame(text) for text in batch))
            return
        self.backlog += batch
        self.backlog_empty.clear()
        self.backlog_ready.set()

    async def write_replies(self) -> None:
        while True:
            await self.backlog_ready.wait()
            self.backlog_ready.clear()
            while self.backlog and not self.ws.closed:
                await self.send_text(self.backlog.pop(0), "scan.result")
            self.backlog_empty.set()

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.in_flight.release()

    async def guarded(
        self, request: protocol.Request, answers: list[asyncio.Future[Any]] | None = None
    ) -> None:
        """Handle a request that is not a lone scan; `answers`: a sync's scans, queued
        already (see on_text, which looked its token up)."""
        rid = getattr(request, "request_id", None) or getattr(request, "id", None)
        assert self.claims is not None
        try:
            if isinstance(request, protocol.Sync):
                assert answers is not None
                uploaded = await self.service.sync(request, self.build_scanner(), answers)
                reply: dict[str, Any] | None = protocol.sync_frame(request.id, uploaded)
            else:
                if isinstance(request, protocol.Annul):
                    await self.unanswered_first(request.scan_id)
                # Not a scan: rarer, so its token is looked up in the store, every time.
                if await self._token_revoked():
                    raise TokenRevoked()
                reply = await self.dispatch(request)
        except TokenRevoked:
            self._refuse_revoked(rid)
            return
        except protocol.ProtocolError as err:
            reply = err.reply()
        except PodiumError as err:
            reply = protocol.error_reply(rid, err.ws_code(), err.message)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ws request failed")
            reply = protocol.error_reply(rid, "internal", "internal error")
        if reply is not None:
            await self.send(reply)

    def build_scanner(self) -> Scanner:
        """Who this connection scans as, from its token's claims (fixed after hello)."""
        assert self.claims is not None
        bound = self.claims.session if self.claims.role == "staff" else None
        return Scanner(
            device=self.device,
            actor=self.claims.jti,
            bound_session=bound,
            authorized_from=float(self.claims.iat),
        )

    async def dispatch(self, request: protocol.Request) -> dict[str, Any] | None:
        assert self.claims is not None
        if isinstance(request, ScanRequest):
            answer = await self.service.scan(request, self.build_scanner())
            return protocol.answer_frame(request.request_id, answer)
        if isinstance(request, protocol.Annul):
            answer = await self.service.annul(request, self.build_scanner())
            return protocol.answer_frame(request.id, answer)
        if isinstance(request, protocol.Search):
            if not self.rules.admit_search(time.monotonic()):
                raise protocol.ProtocolError("rate_limited", "too many searches", request.id)
            found = await self.service.search(request.query, self.build_scanner())
            return {"type": "search.result", "re": request.id, "participants": found}
        if isinstance(request, protocol.Presence):
            return self.presence(request)
        if isinstance(request, protocol.Subscribe):
            return await self.subscribe(request)
        return {"type": "pong", "re": request.id, "server_time": self.app[keys.CLOCK]()}

    def presence(self, request: protocol.Presence) -> dict[str, Any]:
        assert self.claims is not None and self.claims.participant is not None
        event = self.app[keys.EVENT].event
        if event is None or event.session(request.session) is None:
            raise protocol.ProtocolError("not_found", "no such session", request.id)
        if not self.claims.may_watch(request.session):
            raise protocol.ProtocolError("forbidden", "not your session", request.id)
        self.service.presence(request.session, self.claims.participant, request.state)
        # Presence alone never counts: online time is what the server measured delivering.
        return {"type": "presence.result", "re": request.id, "counted": False}

    async def subscribe(self, request: protocol.Subscribe) -> dict[str, Any]:
        if request.session is not None and request.session not in self.service.session_ids(None):
            raise protocol.ProtocolError("not_found", "no such session", request.id)
        assert self.claims is not None
        if self.claims.role == "staff" and not check_session(
            self.app[keys.EVENT].event, self.build_scanner(), request.session or ""
        ):
            # A door's scanner shows its own room's count: one session it may scan.
            raise protocol.ProtocolError(
                "forbidden", "staff follow a session they scan", request.id
            )
        if self.subscriber is not None:
            self.service.remove_subscriber(self.subscriber)
        self.subscriber = DashboardSubscriber(request.session, self.queue_update)
        self.service.add_subscriber(self.subscriber)
        if self.sender is None:
            self.sender = asyncio.create_task(self.send_updates())
        snap = await self.service.snapshot(request.session)
        return {"type": "snapshot", "re": request.id, "session": request.session, **snap}

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
        self.update_ready.set()

    async def send_updates(self) -> None:
        try:
            await self._send_updates()
        except Exception:  # never a dashboard left open and silent
            log.exception("dashboard updates failed; closing the socket")
            with contextlib.suppress(Exception):
                await close_socket(self.ws, WSCloseCode.INTERNAL_ERROR)

    async def _send_updates(self) -> None:
        while not self.ws.closed:
            await self.update_ready.wait()
            self.update_ready.clear()
            update, self.pending_update = self.pending_update, {}
            text, self.pending_text = self.pending_text, None
            if not update or self.ws.closed:
                continue
            # A dashboard only listens: its token is checked before each push instead,
            # or an expired or revoked one would go on receiving names and counts.
            if not await self.still_authorized(self.app[keys.CLOCK]()):
                return
            if text is None:
                text = _dumps({"type": "update", **update})
            await self.send_text(text, "update")

    async def close(self) -> None:
        if self.subscriber is not None:
            self.service.remove_subscriber(self.subscriber)
        if self.sender is not None:
            self.sender.cancel()
        if self.writer is not None:
            self.writer.cancel()
            self.backlog_empty.set()  # nothing more will be sent: nobody waits for it
        # in-flight scans finish (they may already be durable); their replies are dropped
        while self.scans_in_flight > 0:
            self.room.clear()
            await self.room.wait()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 1 << 16:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


async def ws_handler(request: web.Request) -> web.WebSocketResponse:
    ws = PodiumWebSocket(max_msg_size=protocol.MAX_FRAME_BYTES, heartbeat=HEARTBEAT_S)
    await ws.prepare(request)
    request.app[keys.WEBSOCKETS].add(ws)
    conn = Connection(request.app, ws, request.transport)
    conn.metrics.ws_role_changed(None, "pending")
    reaper = asyncio.create_task(_cut_when_stuck(request.transport))
    try:
        await conn.run()
    except ConnectionError as err:
        log.info("websocket connection lost: %s", err)
    except Exception:
        # Say so and close as "internal error" instead of a bare 1000 the client
        # cannot tell from a normal goodbye.
        log.exception("websocket connection failed")
        await conn.refuse(
            protocol.error_reply(None, "internal", "internal error"), WSCloseCode.INTERNAL_ERROR
        )
    finally:
        try:
            await conn.close()
            await close_socket(ws)
        finally:
            conn.metrics.ws_role_changed(conn.claims.role if conn.claims else "pending", None)
            reaper.cancel()
            # Closed by aiohttp (its heartbeat) with answers its peer never read: the
            # transport waits to flush them for ever. Aborting a closed one does nothing.
            if request.transport is not None:
                asyncio.get_running_loop().call_later(STUCK_CLOSE_S, request.transport.abort)
    return ws


async def close_socket(
    ws: web.WebSocketResponse, code: int = WSCloseCode.OK, message: bytes = b""
) -> None:
    """Close, waiting at most STUCK_CLOSE_S for the peer: past that aiohttp closes the
    transport itself (and _cut_when_stuck cuts it if it still holds unsent data)."""
    if ws.closed:
        return
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(STUCK_CLOSE_S):
            await ws.close(code=code, message=message)


async def _cut_when_stuck(transport: asyncio.Transport | None) -> None:
    """Abort a transport still open STUCK_CLOSE_S after it was asked to close (by the
    heartbeat, a refusal, shutdown): its peer reads nothing, so what it holds to send
    would keep it -- and its handler -- for ever. Aborting a closed one does nothing."""
    if transport is None:
        return
    # Polled: the close is aiohttp's (its heartbeat's), with no event to wait on.
    while not transport.is_closing():  # noqa: ASYNC110
        await asyncio.sleep(STUCK_CLOSE_S / 2)
    await asyncio.sleep(STUCK_CLOSE_S)
    transport.abort()


async def _revoked_tokens_ctx(app: web.Application) -> AsyncIterator[None]:
    app[REVOKED_TOKENS] = RevokedTokens(app[keys.STORE], app[keys.CLOCK], LOOK_EVERY_S)
    yield


def setup(app: web.Application) -> None:
    """The /ws route and the node's copy of the revoked tokens (after the store's:
    cleanup contexts run in order). The attendance service is the app factory's."""
    app.router.add_get("/ws", ws_handler)
    app.cleanup_ctx.append(_revoked_tokens_ctx)
