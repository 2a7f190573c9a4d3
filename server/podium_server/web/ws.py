"""`/ws`: the WebSocket adapter for scanners, watch pages and dashboards.

Thin: what each frame comes to -- the hello's checks, limits, refusals, backpressure,
annuls waiting for their scan, answers batched for one write, a dashboard's merged
updates -- is decided by the sans-I/O `attendance.connection.ConnectionState`; requests
are the attendance service's. This adapter reads frames, feeds them in, and carries out
what comes back: hands requests to the service, writes, waits, closes. Scans are
handled concurrently per connection (replies carry `re`), so a scanner may pipeline; a
bounded number are in flight at once.
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
from ..attendance.checkin import ScanRequest, check_session
from ..attendance.connection import ConnectionState, RefuseAndClose, SendReply
from ..attendance.connection_rules import LOOK_EVERY_S, AuthCheck
from ..attendance_service import DashboardSubscriber, ScanDone
from ..auth.tokens import Claims
from ..errors import PodiumError, TokenRevoked
from .auth import RevokedTokens, authenticate_token, refused_use
from .ws_socket import PodiumWebSocket

log = logging.getLogger(__name__)

REVOKED_TOKENS = web.AppKey("revoked_tokens", RevokedTokens)

HELLO_TIMEOUT_S = 10.0
# Rate, flood and search limits, and how often a token is looked up: the sans-I/O
# attendance/connection_rules.py. A request is refused from the first use after its
# token was revoked: scans (the hot path) by their commit, which checks the token with
# the write; every other request by a store read before it is handled; a dashboard that
# only listens before each push, against the node's copy of the revoked set. How many
# requests may be in flight: attendance/connection.py.
# Liveness (aiohttp's heartbeat, which counts any bytes received): a connection silent
# for HEARTBEAT_S is pinged, and dropped if no answer comes in HEARTBEAT_S / 2 (a
# scanner whose Wi-Fi vanished).
HEARTBEAT_S = 30.0
# A transport asked to close still holds what it could not send; a peer that reads
# nothing keeps it open for ever (and its handler waiting), so it is cut this long after.
STUCK_CLOSE_S = 5.0
# Answers are written straight to the socket while less than this is waiting in it.
RAW_WRITE_LIMIT = 256 * 1024


_WS_ROLES = tuple(sorted(protocol.WS_ROLES))


def scan_reply(rid: str, result: Answer | BaseException) -> dict[str, Any] | None:
    """What the pipeline handed back for one scan, as the reply to send; None: its token
    was revoked (the connection is refused instead). The one place a scan's result from
    the service becomes the connection's reply."""
    if isinstance(result, TokenRevoked):
        return None
    if isinstance(result, PodiumError):  # `unavailable`: the same id again later
        return protocol.error_reply(rid, result.ws_code(), result.message)
    if isinstance(result, BaseException):
        log.error("scan failed", exc_info=result)
        return protocol.error_reply(rid, "internal", "internal error")
    return protocol.answer_frame(rid, result)


class Connection:
    """One /ws connection after its upgrade, the I/O side: reads frames and feeds them
    to its ConnectionState (attendance/connection.py, which decides), then does what
    that says -- hands requests to the attendance service, writes answers, waits where
    reading must wait, closes. Owns the socket, the tasks it starts and the events they
    wait on."""

    def __init__(
        self,
        app: web.Application,
        ws: PodiumWebSocket,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.app = app
        self.ws = ws
        # The socket under `ws`, for writing a batch of answers in one go (see
        # flush_replies); None: every answer goes through aiohttp, one by one.
        self.transport = transport if isinstance(transport, asyncio.WriteTransport) else None
        self.service = app[keys.ATTENDANCE]
        self.store = app[keys.STORE]
        self.metrics = app[keys.METRICS]
        self.clock = app[keys.CLOCK]
        self.state: ConnectionState[asyncio.Future[None]] = ConnectionState()
        self.tasks: set[asyncio.Task[None]] = set()
        self.subscriber: DashboardSubscriber | None = None
        self.update_ready = asyncio.Event()
        self.sender: asyncio.Task[None] | None = None
        self.room = asyncio.Event()  # set when a scan is answered (room to read on)
        # set when a sync or annul is done; made when first waited on (rare), as an
        # Event holds a deque: ~0.6 KB on every idle socket otherwise
        self.task_room: asyncio.Event | None = None
        self.backlog_ready = asyncio.Event()
        self.backlog_empty = asyncio.Event()
        self.backlog_empty.set()
        self.writer: asyncio.Task[None] | None = None

    @property
    def claims(self) -> Claims | None:
        return self.state.claims

    async def send(self, msg: dict[str, Any]) -> None:
        if self.ws.closed:
            return
        await self.send_text(protocol.encode(msg), msg.get("type", ""))

    async def send_text(self, text: str, kind: str) -> None:
        """Compressed only if its type and size make it worth it (see ws_socket)."""
        compress = self.ws.compression_for(kind, len(text))
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.send_str(text, compress=compress)

    async def refuse(self, refusal: RefuseAndClose) -> None:
        """Say why, then close; a peer that reads nothing is cut after STUCK_CLOSE_S."""
        try:
            async with asyncio.timeout(STUCK_CLOSE_S):
                await self.send(refusal.reply)
                message = refusal.reply.get("code", "").encode()
                await self.ws.close(code=refusal.code, message=message)
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
            await self.refuse(ConnectionState.hello_missing())
            return False
        except ConnectionError:  # gone before hello (answering its ping, say)
            return False
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
            log.info("connection ended before hello: %s %r", msg.type.name, msg.data)
            return False
        hello = ConnectionState.hello(msg.data if msg.type == WSMsgType.TEXT else None)
        if isinstance(hello, RefuseAndClose):
            await self.refuse(hello)
            return False
        try:
            # The role is checked before the use is audited: a refusal is counted, not a row.
            claims = await authenticate_token(
                self.app, hello.token, device=hello.device, roles=_WS_ROLES
            )
        except PodiumError as err:
            await self.refuse(ConnectionState.hello_refused(hello, err))
            return False
        self.metrics.ws_role_changed("pending", claims.role)
        event = self.app[keys.EVENT].event
        # authenticate_token just checked the token: now is when it was last looked up
        welcome = self.state.welcome(
            hello, claims, self.clock(), event.to_json() if event else None
        )
        await self.send(welcome)
        return True

    # -- messages -----------------------------------------------------------------------

    async def run(self) -> None:
        if not await self.hello():
            return
        self.writer = asyncio.create_task(self.write_replies())
        async for msg in self.ws:
            if self.state.refused:
                continue  # refused and closing: nothing more is handled
            if msg.type == WSMsgType.TEXT:
                await self.on_text(msg.data)
            elif msg.type == WSMsgType.BINARY:
                if await self.still_authorized(self.clock()):
                    await self.carry_out(self.state.receive_binary(time.monotonic()))
            elif msg.type == WSMsgType.ERROR:
                break

    async def on_text(self, text: str) -> None:
        decision = self.state.receive_text(text, self.clock(), time.monotonic())
        if isinstance(decision, ScanRequest):
            await self.on_scan(decision)
        elif isinstance(decision, protocol.Sync | protocol.Annul):
            await self.start_task(decision)
        elif isinstance(decision, SendReply | RefuseAndClose):
            await self.carry_out(decision)
        elif decision is not None:
            await self.guarded(decision)

    async def carry_out(self, decision: SendReply | RefuseAndClose | None) -> None:
        if isinstance(decision, RefuseAndClose):
            self.refuse_soon(decision)
        elif decision is not None:
            if decision.authorize and not await self.still_authorized(self.clock()):
                return  # refused: closing once its answers are out
            await self.send(decision.reply)

    async def still_authorized(self, now: float) -> bool:
        """Expiry, and revocation within AUTH_RECHECK_S (the node's copy): before a push
        to a dashboard, and for frames that are no request. False: refused, closing."""
        check = self.state.check_token(now)
        if check is AuthCheck.VALID:
            return True
        if check is AuthCheck.LOOK_UP:
            assert self.claims is not None
            if not await self.app[REVOKED_TOKENS].contains(self.claims.jti):
                return True
            reason = "revoked token"
        else:
            reason = "expired token"
        self.refuse_soon(self.state.refuse_token(reason))
        return False

    async def on_scan(self, request: ScanRequest) -> None:
        early = self.service.scans.answered_at_once(request)
        if early is not None:
            # Answered at once, without a commit to check its token: looked up here.
            if await self._token_revoked():
                self.refuse_soon(self.state.refuse_revoked(request.request_id))
                return
        while not self.state.take_scan(request.request_id):  # stop reading: backpressure
            self.room.clear()
            await self.room.wait()
        assert self.state.scanner is not None
        done = self._scan_done(request.request_id, time.monotonic())
        if early is None:
            self.service.scans.enqueue(request, self.state.scanner, done)
        else:
            done(early)

    async def start_task(self, request: protocol.Sync | protocol.Annul) -> None:
        """A sync or an annul, handled concurrently (up to the state's bound)."""
        answers = None
        if isinstance(request, protocol.Sync):
            # Its token looked up and its scans queued before the next frame is read, as
            # a scan is: a socket's frames are decided in the order sent. (Rare: an
            # upload after a scanner was offline.)
            if await self._token_revoked():
                self.refuse_soon(self.state.refuse_revoked(request.id))
                return
            assert self.state.scanner is not None
            answers = self.service.uploads.start_sync(request, self.state.scanner)
            for item, answer in zip(request.scans, answers, strict=True):
                if isinstance(item, ScanRequest) and not answer.done():
                    self.state.expect_answer(item.request_id)
                    answer.add_done_callback(self._answered_callback(item.request_id))
        while not self.state.take_task():
            if self.task_room is None:
                self.task_room = asyncio.Event()
            self.task_room.clear()
            await self.task_room.wait()
        task = asyncio.create_task(self.guarded(request, answers))
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.state.task_done()
        if self.task_room is not None:
            self.task_room.set()

    @staticmethod
    def _release(waiting: list[asyncio.Future[None]] | None) -> None:
        """The annuls that waited for a scan's answer may go."""
        if waiting:
            for annul in waiting:
                if not annul.done():
                    annul.set_result(None)

    def _answered_callback(self, rid: str) -> Callable[[asyncio.Future[Any]], None]:
        return lambda _: self._release(self.state.answered(rid))

    async def unanswered_first(self, rid: str) -> None:
        """Wait for the answer to a scan with this id sent here before, if it has none
        yet: an annul sent right after its scan finds it recorded, not `not_found`."""
        annul: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.state.wait_for_answer(rid, annul):
            await annul

    def _scan_done(self, rid: str, received_at: float) -> ScanDone:
        def done(result: Answer | BaseException) -> None:
            self.metrics.scan_ack.observe(time.monotonic() - received_at)
            self._release(self.state.scan_answered(rid))
            self.room.set()
            reply = scan_reply(rid, result)
            if reply is None:
                self.refuse_soon(self.state.refuse_revoked(rid))
                return
            # after a close the scan is durable; its reply is dropped
            if not self.ws.closed and self.state.answer_ready(reply):
                asyncio.get_running_loop().call_soon(self.flush_replies)

        return done

    def refuse_soon(self, refusal: RefuseAndClose | None) -> None:
        """Refused (None: already): no frame is handled any more; the connection closes
        once the answers owed are out (see below)."""
        if refusal is None:
            return
        task = asyncio.create_task(self._refuse_after_answers(refusal))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _refuse_after_answers(self, refusal: RefuseAndClose) -> None:
        """Requests already taken may be recorded: their answers go out before the
        goodbye (within STUCK_CLOSE_S, if the client reads) -- scans and syncs in
        flight finish, the answers they release are flushed, the backlog written."""
        if refusal.audited:
            assert self.claims is not None
            use = refused_use(self.claims, self.clock(), self.state.device)
            try:
                await self.store.append_audit(use)
            except Exception:
                log.warning("could not audit a refused token's use", exc_info=True)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(STUCK_CLOSE_S):
                others = [t for t in self.tasks if t is not asyncio.current_task()]
                if others:
                    await asyncio.wait(others)
                while self.state.scans_in_flight > 0:
                    self.room.clear()
                    await self.room.wait()
                await asyncio.sleep(0)  # the flush the last answers scheduled
                await self.backlog_empty.wait()
        await self.refuse(refusal)

    async def _token_revoked(self) -> bool:
        """Exactly, from the store; from the node's copy if the store cannot say now."""
        assert self.claims is not None
        try:
            return await self.store.is_revoked("token", self.claims.jti)
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
        transport = self.transport
        batch = self.state.take_batch(
            transport is not None
            and not self.ws.closed
            and not transport.is_closing()
            and transport.get_write_buffer_size() < RAW_WRITE_LIMIT
        )
        if batch is not None:
            assert transport is not None
            transport.write(b"".join(text_frame(text) for text in batch))
            return
        self.backlog_empty.clear()
        self.backlog_ready.set()

    async def write_replies(self) -> None:
        while True:
            await self.backlog_ready.wait()
            self.backlog_ready.clear()
            while not self.ws.closed and (text := self.state.next_backlogged()) is not None:
                await self.send_text(text, "scan.result")
            self.backlog_empty.set()

    async def guarded(
        self, request: protocol.Request, answers: list[asyncio.Future[Any]] | None = None
    ) -> None:
        """Handle a request that is not a lone scan; `answers`: a sync's scans, queued
        already (see start_task, which looked its token up)."""
        rid = getattr(request, "request_id", None) or getattr(request, "id", None)
        assert self.state.scanner is not None
        try:
            if isinstance(request, protocol.Sync):
                assert answers is not None
                uploaded = await self.service.uploads.sync(request, self.state.scanner, answers)
                reply: dict[str, Any] | None = protocol.sync_frame(request.id, uploaded)
            else:
                if isinstance(request, protocol.Annul):
                    await self.unanswered_first(request.scan_id)
                # Not a scan: rarer, so its token is looked up in the store, every time.
                if await self._token_revoked():
                    raise TokenRevoked()
                reply = await self.dispatch(request)
        except TokenRevoked:
            self.refuse_soon(self.state.refuse_revoked(rid))
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

    async def dispatch(self, request: protocol.Request) -> dict[str, Any] | None:
        scanner = self.state.scanner
        assert scanner is not None
        if isinstance(request, ScanRequest):
            answer = await self.service.scans.scan(request, scanner)
            return protocol.answer_frame(request.request_id, answer)
        if isinstance(request, protocol.Annul):
            answer = await self.service.annuls.annul(request, scanner)
            return protocol.answer_frame(request.id, answer)
        if isinstance(request, protocol.Search):
            if not self.state.admit_search(time.monotonic()):
                raise protocol.ProtocolError("rate_limited", "too many searches", request.id)
            found = await self.service.rosters.search(request.query, scanner)
            return {"type": "search.result", "re": request.id, "participants": found}
        if isinstance(request, protocol.Presence):
            return self.presence(request)
        if isinstance(request, protocol.Subscribe):
            return await self.subscribe(request)
        return {"type": "pong", "re": request.id, "server_time": self.clock()}

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
        if request.session is not None and request.session not in self.service.feed.session_ids(
            None
        ):
            raise protocol.ProtocolError("not_found", "no such session", request.id)
        assert self.claims is not None and self.state.scanner is not None
        if self.claims.role == "staff" and not check_session(
            self.app[keys.EVENT].event, self.state.scanner, request.session or ""
        ):
            # A door's scanner shows its own room's count: one session it may scan.
            raise protocol.ProtocolError(
                "forbidden", "staff follow a session they scan", request.id
            )
        if self.subscriber is not None:
            self.service.feed.remove_subscriber(self.subscriber)
        self.subscriber = DashboardSubscriber(request.session, self.queue_update)
        self.service.feed.add_subscriber(self.subscriber)
        if self.sender is None:
            self.sender = asyncio.create_task(self.send_updates())
        snap = await self.service.feed.snapshot(request.session)
        return {"type": "snapshot", "re": request.id, "session": request.session, **snap}

    def queue_update(self, update: dict[str, Any], text: str) -> None:
        self.state.queue_update(update, text)
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
            text = self.state.take_update()
            if text is None or self.ws.closed:
                continue
            # A dashboard only listens: its token is checked before each push instead,
            # or an expired or revoked one would go on receiving names and counts.
            if not await self.still_authorized(self.clock()):
                return
            await self.send_text(text, "update")

    async def close(self) -> None:
        if self.subscriber is not None:
            self.service.feed.remove_subscriber(self.subscriber)
        if self.sender is not None:
            self.sender.cancel()
        if self.writer is not None:
            self.writer.cancel()
            self.backlog_empty.set()  # nothing more will be sent: nobody waits for it
        # in-flight scans finish (they may already be durable); their replies are dropped
        while self.state.scans_in_flight > 0:
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
        reply = protocol.error_reply(None, "internal", "internal error")
        await conn.refuse(RefuseAndClose(reply, WSCloseCode.INTERNAL_ERROR))
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
