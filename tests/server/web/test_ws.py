"""`/ws`, the aiohttp adapter: a real app, a real store, real WebSocket frames -- what
needs a socket (the hello on the wire, close codes, refusals after the answers owed,
liveness, peers that read nothing, the raw write of a batch). The connection's rules
themselves are unit-tested without a socket in tests/server/attendance/test_connection.py."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ws_peer import Peer, connect, scan, slow_commits, started, until_closed

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.attendance.answers import ScanAnswer, ScannedPerson, SyncAnswer
from podium_server.config import Config
from podium_server.event.model import Event
from web_client import issue_token


async def test_hello_first_or_4401(ws_client: TestClient) -> None:
    ws = await ws_client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "scan", "id": "1"}))
    err = json.loads(await ws.receive_str())
    assert err["type"] == "error" and err["code"] == "bad_message"
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4401

    ws = await ws_client.ws_connect("/ws")
    await ws.send_str(json.dumps({"type": "hello", "id": "1", "token": "pd1.forged.x"}))
    err = json.loads(await ws.receive_str())
    assert err == {"type": "error", "re": "1", "code": "forbidden", "message": err["message"]}
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4401

    ws = await ws_client.ws_connect("/ws")
    await ws.send_str(
        json.dumps(
            {"type": "hello", "id": "1", "token": issue_token(ws_client, "speaker", session="s1")}
        )
    )
    assert json.loads(await ws.receive_str())["code"] == "forbidden"
    assert (await ws.receive()).type == WSMsgType.CLOSE and ws.close_code == 4403


async def test_pings_do_not_postpone_the_hello_deadline(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HELLO_TIMEOUT_S", 0.5)
    ws = await ws_client.ws_connect("/ws", autoping=False)
    started = time.monotonic()
    refusal = None
    while time.monotonic() - started < 3 and refusal is None:
        with contextlib.suppress(ConnectionError):
            await ws.ping(b"still here")
        msg = await ws.receive(timeout=2)
        if msg.type == WSMsgType.TEXT:
            refusal = json.loads(msg.data)
        await asyncio.sleep(0.1)
    assert refusal is not None and refusal["message"] == "hello expected"
    assert time.monotonic() - started < 1.5
    closing = await ws.receive(timeout=2)
    assert closing.type == WSMsgType.CLOSE and closing.data == 4401


async def test_a_client_gone_before_hello_is_no_error(
    ws_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):
        sock = await asyncio.to_thread(raw_ws, ws_client.server.port)
        sock.sendall(client_frame(0x9, b"x") * 50)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, while the server answers the pings
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_roles_and_hostile_input(ws_client: TestClient) -> None:
    trainee = await connect(ws_client, "trainee", participant="T000", device="")
    assert (await trainee.call(scan(ws_client, "T000")))["code"] == "forbidden"
    assert (await trainee.call({"type": "subscribe"}))["code"] == "forbidden"
    p = await trainee.call({"type": "presence", "session": "s1", "state": "watching"})
    assert p["type"] == "presence.result" and p["counted"] is False
    assert (await trainee.call({"type": "presence", "session": "s1", "state": "dancing"}))[
        "code"
    ] == "bad_message"
    assert (await trainee.call({"type": "warp"}))["code"] == "unknown_type"
    await trainee.ws.send_str("{not json")
    assert (await trainee.reply(None))["code"] == "bad_message"
    await trainee.ws.send_bytes(b"\x00\x01")
    assert (await trainee.reply(None))["code"] == "bad_message"
    # still alive
    assert (await trainee.call({"type": "ping"}))["type"] == "pong"
    # a frame over 64 KiB closes with 1009
    await trainee.ws.send_str(json.dumps({"type": "ping", "id": "x", "pad": "a" * 70_000}))
    msg = await trainee.ws.receive(timeout=5)
    assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED) and trainee.ws.close_code == 1009


async def test_an_annul_sent_right_after_its_scan_finds_it(ws_client: TestClient) -> None:
    """A scanner may annul without waiting for the scan's answer (a mistaken tap undone
    at once), also a scan it just uploaded in a sync: the annul waits for that answer."""
    staff = await connect(ws_client, "staff")
    queued = {**scan(ws_client, "T001"), "id": "q1", "scanned_at": time.time() - 60}
    frames = [
        {**scan(ws_client, "T000"), "id": "oops"},
        {"type": "annul", "id": "undo", "scan_id": "oops"},
        {"type": "sync", "id": "up", "scans": [queued]},
        {"type": "annul", "id": "undo-q1", "scan_id": "q1"},
    ]
    got = await staff.pipeline(frames)
    assert got["oops"]["outcome"] == "accepted"
    assert got["undo"]["type"] == "annul.result" and got["undo"]["outcome"] == "annulled"
    assert got["undo-q1"]["type"] == "annul.result" and got["undo-q1"]["outcome"] == "annulled"
    assert [s.annulled for s in await ws_client.app[keys.STORE].list_scans()] == [True, True]


async def test_a_client_flooding_far_past_its_limit_is_closed(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused `rate_limited` frame after frame and still sending: closed 1008 and its
    frames no longer read, while other clients go on -- after the answers to the scans
    it had recorded went out (commits slowed down, so some are in flight at the close)."""
    from podium_server.attendance.connection_rules import BURST, FLOOD_REFUSALS_BURST

    slow_commits(ws_client, monkeypatch, 0.3)

    bystander = await connect(ws_client, "staff", device="door-B")
    flood = await connect(ws_client, "staff", device="flood")
    sent = int(BURST + FLOOD_REFUSALS_BURST) * 2
    messages: list[dict[str, Any]] = []
    reading = asyncio.create_task(until_closed(flood.ws, messages))  # the flood not slowed
    scans = [scan(ws_client, f"T00{n}") for n in range(3)]
    with contextlib.suppress(ConnectionError):
        for n in range(sent):
            direction = ("in", "out")[n // 3 % 2]
            frame = {**scans[n % 3], "direction": direction, "id": f"f{n}"}
            await flood.ws.send_str(json.dumps(frame))
    _, msg = await reading
    assert msg.type == WSMsgType.CLOSE and msg.data == WSCloseCode.POLICY_VIOLATION
    assert messages[-1]["message"] == "flooding: closed"
    assert len(messages) < sent  # not every frame answered
    answered = {m["re"] for m in messages if m["type"] == "scan.result"}
    await asyncio.sleep(0.5)  # any commit still on its way lands
    audit = await ws_client.app[keys.STORE].list_audit(limit=100_000)
    recorded = {a.detail["id"] for a in audit if a.kind == "scan" and "flood" in a.device}
    assert answered and answered == recorded  # every recorded scan was answered
    assert (await bystander.call({"type": "ping"}))["type"] == "pong"


async def test_a_revoked_token_is_refused_its_future_dated_scans_and_syncs(
    ws_client: TestClient,
) -> None:
    """Answers given without a commit (a scan dated too far ahead) and uploads look up
    the token first: revoked elsewhere (the CLI, another node), they are refused 4401 and
    nothing is audited as theirs."""
    for frame in (
        {**scan(ws_client, "T000"), "id": "ahead", "scanned_at": time.time() + 3600},
        {"type": "sync", "id": "up", "scans": [{**scan(ws_client, "T000"), "id": "q"}]},
    ):
        token = issue_token(ws_client, "staff")
        door = await connect(ws_client, "staff", token=token)
        jti = ws_client.app[keys.TOKENS].verify(token, now=time.time()).jti
        await ws_client.app[keys.STORE].revoke("token", jti, time.time())
        await door.ws.send_str(json.dumps(frame))
        messages, msg = await until_closed(door.ws)
        assert [(m["type"], m.get("code"), m.get("re")) for m in messages] == [
            ("error", "forbidden", frame["id"])
        ]
        assert msg.type == WSMsgType.CLOSE and msg.data == 4401
        audit = await ws_client.app[keys.STORE].list_audit()
        assert [a.kind for a in audit if a.actor == jti] == ["token_use", "token_refused"]


async def test_a_token_revoked_anywhere_stops_its_very_next_request(ws_client: TestClient) -> None:
    """Revoked through a store of its own (the CLI, another node) and used at once: a
    scan is refused by its commit, any other request by its own check; each socket says
    so and closes 4401, and the refused scan leaves no trace."""
    from podium_server.store.factory import open_store

    token = issue_token(ws_client, "staff")
    door = await connect(ws_client, "staff", device="door-A-1", token=token)
    desk = await connect(ws_client, "staff", device="desk", token=token)
    assert (await door.call(scan(ws_client, "T002")))["outcome"] == "accepted"
    jti = ws_client.app[keys.TOKENS].verify(token, now=time.time()).jti
    cli = open_store(ws_client.app[keys.CONFIG].store)
    await cli.open()
    try:
        await cli.revoke("token", jti, time.time())
    finally:
        await cli.close()
    after_scan = {**scan(ws_client, "T003"), "id": "after-revoke"}
    after_search = {"type": "search", "id": "q-after", "query": "T00"}
    for peer, request in ((door, after_scan), (desk, after_search)):
        await peer.ws.send_str(json.dumps(request))
        reply = json.loads(await peer.ws.receive_str(timeout=5))
        assert reply == {
            "type": "error",
            "re": request["id"],
            "code": "forbidden",
            "message": "revoked token",
        }
        closing = await peer.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401
    audit = await ws_client.app[keys.STORE].list_audit()
    scans = [a.detail["id"] for a in audit if a.kind == "scan"]
    assert "after-revoke" not in scans and len(scans) == 1
    refusals = sorted(a.device for a in audit if a.kind == "token_refused" and a.actor == jti)
    assert refusals == [f"desk@{jti[:8]}", f"door-A-1@{jti[:8]}"]  # each refused use is kept


async def test_a_revoked_token_sending_junk_is_stopped_too(ws_client: TestClient) -> None:
    """Frames that are no request (malformed, unknown, binary) get no store check of
    their own; the node's copy of the revoked set still stops them within a second."""
    from podium_server.attendance.connection_rules import AUTH_RECHECK_S

    junk: list[str | bytes] = ["not json", json.dumps({"type": "nope", "id": "u"}), b"\x00"]
    for frame in junk:
        token = issue_token(ws_client, "staff")
        peer = await connect(ws_client, "staff", token=token)
        jti = ws_client.app[keys.TOKENS].verify(token, now=time.time()).jti
        await ws_client.app[keys.STORE].revoke("token", jti, time.time())
        await asyncio.sleep(AUTH_RECHECK_S + 0.1)
        if isinstance(frame, bytes):
            await peer.ws.send_bytes(frame)
        else:
            await peer.ws.send_str(frame)
        reply = json.loads(await peer.ws.receive_str(timeout=5))
        assert (reply["code"], reply["message"]) == ("forbidden", "revoked token")
        closing = await peer.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401


async def test_requests_go_on_when_the_revocation_read_fails(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A request's own revocation read failing (the store unreachable a moment) falls
    back on the node's copy of the revoked set instead of failing the request."""
    peer = await connect(ws_client, "staff")
    store = ws_client.app[keys.STORE]

    async def unreachable(kind: str, value: str) -> bool:
        raise ConnectionError("store unreachable")

    monkeypatch.setattr(store, "is_revoked", unreachable)
    assert (await peer.call({"type": "ping"}))["type"] == "pong"
    found = await peer.call({"type": "search", "query": "T00"})
    assert found["type"] == "search.result" and found["participants"]


async def test_a_sync_recorded_before_the_token_was_revoked_is_answered_before_the_close(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:

    uploads = ws_client.app[keys.ATTENDANCE].uploads
    sync = uploads.sync

    recorded = asyncio.Event()

    async def slow_answer(request: Any, scanner: Any, answers: Any = None) -> SyncAnswer:
        answer = await sync(request, scanner, answers)  # recorded and audited
        recorded.set()
        await asyncio.sleep(0.5)  # the answer still on its way
        return answer

    monkeypatch.setattr(uploads, "sync", slow_answer)
    token = issue_token(ws_client, "staff")
    peer = await connect(ws_client, "staff", token=token)
    queued = [
        {**scan(ws_client, p, scanned_at=time.time() - 30), "id": f"o{p}"} for p in ("T000", "T001")
    ]
    await peer.ws.send_str(json.dumps({"type": "sync", "id": "up1", "scans": queued}))
    # Revoked once the sync is recorded (not after a fixed pause: a loaded machine may
    # take longer to record it, and a revocation before the commit refuses the sync).
    await asyncio.wait_for(recorded.wait(), 10)
    jti = ws_client.app[keys.TOKENS].verify(token, now=time.time()).jti
    await ws_client.app[keys.STORE].revoke("token", jti, time.time())
    await peer.ws.send_str(json.dumps({"type": "search", "id": "q", "query": "T0"}))
    messages, msg = await until_closed(peer.ws)
    assert [(m["type"], m.get("re")) for m in messages] == [("sync.result", "up1"), ("error", "q")]
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401


async def test_a_scan_in_flight_when_the_token_expires_is_answered_before_the_close(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = time.time()
    token = str(ws_client.app[keys.TOKENS].issue("staff", now=now - 3600 + 2.0, ttl_s=3600))
    # expires in 1-2 s (token times are whole seconds)
    exp = ws_client.app[keys.TOKENS].verify(token, now=now).exp
    staff = await connect(ws_client, "staff", token=token)
    slow_commits(ws_client, monkeypatch, exp - time.time() + 0.5)  # in flight past the expiry
    await staff.ws.send_str(json.dumps({**scan(ws_client, "T000"), "id": "before"}))
    assert time.time() < exp - 0.2, "the test machine is too slow for this test's margins"
    await asyncio.sleep(max(0.0, exp + 0.2 - time.time()))  # expired; the scan in flight
    await staff.ws.send_str(json.dumps({"type": "ping", "id": "after"}))
    messages, msg = await until_closed(staff.ws)
    seen = [(m["type"], m.get("re"), m.get("message")) for m in messages]
    assert seen == [("scan.result", "before", None), ("error", "after", "expired token")]
    assert msg.type == WSMsgType.CLOSE and msg.data == 4401


async def test_a_listening_dashboard_is_stopped_when_its_token_expires_or_is_revoked(
    ws_client: TestClient,
) -> None:
    from podium_server.attendance.connection_rules import AUTH_RECHECK_S

    staff = await connect(ws_client, "staff")
    now = time.time()
    short = str(ws_client.app[keys.TOKENS].issue("organizer", now=now - 3600 + 2, ttl_s=3600))
    expiring = await connect(ws_client, "organizer", device="dash-1", token=short)
    revoked_token = issue_token(ws_client, "organizer")
    revoked = await connect(ws_client, "organizer", device="dash-2", token=revoked_token)
    for dash in (expiring, revoked):
        assert (await dash.call({"type": "subscribe", "session": "s1"}))["type"] == "snapshot"
    jti = ws_client.app[keys.TOKENS].verify(revoked_token, now=now).jti
    await ws_client.app[keys.STORE].revoke("token", jti, now)
    await asyncio.sleep(max(2.2 - (time.time() - now), AUTH_RECHECK_S + 0.1))
    assert (await staff.call(scan(ws_client, "T000")))["outcome"] == "accepted"
    for dash, reason in ((expiring, "expired token"), (revoked, "revoked token")):
        reply = json.loads(await dash.ws.receive_str(timeout=5))
        assert reply["type"] == "error" and reply["message"] == reason  # not an update
        closing = await dash.ws.receive(timeout=5)
        assert closing.type == WSMsgType.CLOSE and closing.data == 4401


async def test_a_silent_connection_is_pinged_and_dropped_if_it_never_answers(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server answers a client's ping; after HEARTBEAT_S of silence it pings, keeps
    a client that answers and drops one that does not (a scanner gone off the Wi-Fi)."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    alive = await connect(ws_client, "staff", device="door-alive")
    mute_ws = await ws_client.ws_connect("/ws", autoping=False)
    hello = {"type": "hello", "token": issue_token(ws_client, "staff"), "device": "door-mute"}
    assert (await Peer(mute_ws).call(hello))["type"] == "welcome"
    await mute_ws.ping(b"are you there")
    pong = await mute_ws.receive(timeout=2)
    assert pong.type == WSMsgType.PONG and pong.data == b"are you there"
    # aiohttp's client answers pings while it reads: the alive one reads, the mute one
    # only looks at what comes (no autoping) and never answers
    reading = asyncio.create_task(alive.ws.receive(timeout=10))
    seen = []
    while True:
        msg = await mute_ws.receive(timeout=5)
        seen.append(msg.type)
        if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.ERROR):
            break
    assert seen[0] == WSMsgType.PING and seen[-1] != WSMsgType.PING
    await asyncio.sleep(0.6)  # silence longer than a ping's deadline
    assert not reading.done()
    await alive.ws.send_str(json.dumps({"type": "ping", "id": "still-here"}))
    reply = await reading
    assert reply.type == WSMsgType.TEXT and json.loads(reply.data)["re"] == "still-here"


async def test_a_live_client_is_kept_while_its_request_takes_long(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow answer (a store that stalls) is no silence: the client answering pings
    meanwhile stays connected and gets its answer."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    rosters = ws_client.app[keys.ATTENDANCE].rosters
    search = rosters.search

    async def slow_search(query: str, scanner: Any) -> list[dict[str, Any]]:
        await asyncio.sleep(1.2)  # three times the heartbeat
        return await search(query, scanner)

    monkeypatch.setattr(rosters, "search", slow_search)
    staff = await connect(ws_client, "staff")
    found = await staff.call({"type": "search", "query": "T00"})
    assert found["type"] == "search.result" and found["participants"]


def raw_ws(port: int, receive_buffer: int = 4096) -> socket.socket:
    """A bare WebSocket client socket after its handshake, with a small receive buffer:
    a peer that stops reading is soon one the server cannot write to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    assert b" 101 " in head.split(b"\r\n")[0], head
    return sock


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (RFC 6455 5.2) of less than 64 KiB."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    n = len(payload)
    size = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return bytes((0x80 | opcode,)) + size + mask + body


def ping_until_blocked(sock: socket.socket) -> int:
    """Pings, never reading the pongs, until the server stops reading them in turn."""
    sock.settimeout(0.5)
    frame, sent = client_frame(0x9, b"p" * 125), 0
    with contextlib.suppress(TimeoutError, OSError):
        while True:
            sock.sendall(frame)
            sent += 1
    return sent


@pytest.mark.parametrize("after_hello", [False, True])
async def test_a_peer_that_reads_nothing_is_cut(
    after_hello: bool, ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that floods pings and never reads the pongs: the server's writes back
    up, so a polite close would wait for ever to flush them. Past the hello deadline or
    the heartbeat, the connection is cut and its handler ends."""
    from podium_server.web import ws as ws_module

    for name, value in (("HELLO_TIMEOUT_S", 0.3), ("HEARTBEAT_S", 0.4), ("STUCK_CLOSE_S", 0.4)):
        monkeypatch.setattr(ws_module, name, value)
    token = issue_token(ws_client, "staff")

    def flood() -> tuple[socket.socket, int]:
        sock = raw_ws(ws_client.server.port)
        if after_hello:
            hello = {"type": "hello", "id": "h", "token": token, "device": "d"}
            sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        return sock, ping_until_blocked(sock)

    sock, sent = await asyncio.to_thread(flood)
    try:
        assert sent > 10

        def still_held() -> list[Any]:
            return [h for h in ws_client.server.handler.connections if h.transport is not None]

        for _ in range(50):
            if not still_held():
                break
            await asyncio.sleep(0.1)
        assert still_held() == []  # its transport was cut, not left closing for ever
    finally:
        sock.close()


async def test_a_deaf_peer_closed_by_the_heartbeat_is_cut_after_its_handler_ended(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Some bytes unsent (less than would stall a write), then silence: the heartbeat
    closes the socket, the handler ends at once, and the transport -- waiting to flush
    to a peer that reads nothing -- is still cut."""
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "HEARTBEAT_S", 0.4)
    monkeypatch.setattr(ws_module, "STUCK_CLOSE_S", 0.4)

    def still_held() -> list[Any]:
        return [h for h in ws_client.server.handler.connections if h.transport is not None]

    sock = await asyncio.to_thread(raw_ws, ws_client.server.port)
    try:
        hello = {
            "type": "hello",
            "id": "h",
            "token": issue_token(ws_client, "staff"),
            "device": "deaf",
        }
        sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        sock.setblocking(False)
        await asyncio.sleep(0.05)
        [handler] = still_held()
        # a small kernel buffer on the server's side too: it soon holds bytes back
        server_side = handler.transport.get_extra_info("socket")
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        for _ in range(500):  # pings until the server holds an unsent pong
            if handler.transport.get_write_buffer_size() > 0:
                break
            with contextlib.suppress(BlockingIOError):
                sock.send(client_frame(0x9, b"p" * 125) * 20)
            await asyncio.sleep(0.01)
        assert handler.transport.get_write_buffer_size() > 0
        for _ in range(50):
            if not still_held():
                break
            await asyncio.sleep(0.1)
        assert still_held() == []
    finally:
        sock.close()


async def test_shutdown_says_goodbye_to_everyone_though_one_peer_reads_nothing(
    make_config: Callable[..., Config], small_event: Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    from podium_server.web import ws as ws_module

    monkeypatch.setattr(ws_module, "STUCK_CLOSE_S", 0.5)
    ws_client = TestClient(TestServer(create_app(make_config(), event=small_event)))
    await ws_client.start_server()
    await started(ws_client)
    token = issue_token(ws_client, "staff")
    peers = [await connect(ws_client, "staff", device=f"door-{i}") for i in range(4)]

    def flood() -> socket.socket:
        sock = raw_ws(ws_client.server.port)
        hello = {"type": "hello", "id": "h", "token": token, "device": "deaf"}
        sock.sendall(client_frame(0x1, json.dumps(hello).encode()))
        ping_until_blocked(sock)
        return sock

    deaf = await asyncio.to_thread(flood)
    try:
        started_at = time.monotonic()
        await asyncio.wait_for(ws_client.server.close(), 10)  # the server only
        assert time.monotonic() - started_at < 5
        for peer in peers:
            goodbye = await peer.ws.receive(timeout=1)
            assert goodbye.type == WSMsgType.CLOSE and goodbye.data == WSCloseCode.GOING_AWAY
    finally:
        deaf.close()
        await ws_client.close()


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536])
def test_text_frame_follows_rfc_6455(size: int) -> None:
    """FIN + text opcode, no mask (server to client), the shortest length encoding."""
    from podium_server.web.ws import text_frame

    text = "é" * (size // 2) + "x" * (size % 2)  # `size` bytes of UTF-8
    frame = text_frame(text)
    assert frame[0] == 0x81 and not frame[1] & 0x80
    n, start = frame[1], 2
    if n == 126:
        n, start = int.from_bytes(frame[2:4], "big"), 4
    elif n == 127:
        n, start = int.from_bytes(frame[2:10], "big"), 10
    assert start == (2 if size < 126 else 4 if size < 65536 else 10)
    assert n == size and frame[start:].decode() == text


async def test_answers_reach_a_client_that_negotiated_compression(ws_client: TestClient) -> None:
    """Answers are written straight to the socket only uncompressed; a browser asks for
    permessage-deflate and must get valid compressed frames the aiohttp way."""
    ws = await ws_client.ws_connect("/ws", compress=15)
    assert ws.compress  # the server agreed to permessage-deflate
    peer = Peer(ws)
    welcome = await peer.call(
        {"type": "hello", "token": issue_token(ws_client, "staff"), "device": "d"}
    )
    assert welcome["type"] == "welcome"
    for n in range(5):
        reply = await peer.call(
            {**scan(ws_client, "T001", direction="in" if n % 2 == 0 else "out")}
        )
        assert reply["outcome"] == "accepted"


# -- fuzz: whatever arrives, the connection answers and the server stays up ------------------

json_leaf = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)


json_any = st.recursive(
    json_leaf,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c, max_size=3),
    max_leaves=12,
)


fuzz_message = st.one_of(
    st.text(max_size=60),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["scan", "sync", "annul", "search", "presence", "subscribe", "ping", "zz"]
            )
        },
        optional={
            "id": st.text(min_size=1, max_size=8) | json_any,
            "code": st.text(max_size=20) | json_any,
            "participant": st.sampled_from(["T000", "nobody"]) | json_any,
            "session": st.sampled_from(["s1", "s2", "nope"]) | json_any,
            "direction": st.sampled_from(["in", "out"]) | json_any,
            "scanned_at": st.floats() | json_any,
            "scans": st.lists(json_any, max_size=3),
            "query": json_any,
            "state": json_any,
            "scan_id": json_any,
        },
    ).map(json.dumps),
)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(messages=st.lists(fuzz_message, min_size=1, max_size=40))
def test_fuzz_message_handler(
    tmp_path_factory: pytest.TempPathFactory, small_event: Event, messages: list[str]
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    config = Config(store=f"sqlite:///{tmp}/f.db", secret_file=tmp / "k", demo_stream=False)

    async def main() -> None:
        async with TestClient(TestServer(create_app(config, event=small_event))) as ws_client:
            await started(ws_client)
            peer = await connect(ws_client, "staff")
            for text in messages:
                await peer.ws.send_str(text)
            await peer.ws.send_str(json.dumps({"type": "ping", "id": "last-one"}))
            replies = 0
            while True:
                data = json.loads(await peer.ws.receive_str(timeout=10))
                replies += 1
                assert data["type"] in (
                    "error",
                    "scan.result",
                    "sync.result",
                    "annul.result",
                    "search.result",
                    "pong",
                    "snapshot",  # staff may follow a session they scan
                    "update",
                )
                if data["type"] == "error":
                    assert data["code"] in (
                        "bad_message",
                        "unknown_type",
                        "forbidden",
                        "not_found",
                        "rate_limited",
                    )
                if data.get("re") == "last-one" and data["type"] == "pong":
                    break
            assert replies >= 1
            # the store is intact and still answers
            assert await ws_client.app[keys.STORE].ping()

    asyncio.run(main())


def test_a_scans_result_from_the_pipeline_becomes_its_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The one seam between the pipeline and the connection: an answer goes as it is, a
    retryable error with its code, anything else as `internal` (and logged), and a
    revoked token as no reply at all -- the connection is refused instead."""
    from podium_server.errors import StoreUnavailable, TokenRevoked
    from podium_server.web.ws import scan_reply

    person = ScannedPerson("T000", "Trainee 0", "Org", "Guangdong")
    answer = ScanAnswer("accepted", person, first_seen_at=12.5)
    assert scan_reply("s1", answer) == {
        "type": "scan.result",
        "re": "s1",
        "outcome": "accepted",
        "participant": {
            "id": "T000",
            "name": "Trainee 0",
            "organization": "Org",
            "province": "Guangdong",
        },
        "first_seen_at": 12.5,
    }
    assert scan_reply("s1", TokenRevoked()) is None
    down = scan_reply("s1", StoreUnavailable())
    assert down is not None and (down["re"], down["code"]) == ("s1", "unavailable")
    with caplog.at_level(logging.ERROR):
        broken = scan_reply("s2", RuntimeError("a bug"))
    assert broken == {"type": "error", "re": "s2", "code": "internal", "message": "internal error"}
    assert [r.getMessage() for r in caplog.records] == ["scan failed"]


async def test_reading_waits_while_the_bound_of_requests_in_flight_is_reached(
    ws_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Annuls of a scan in flight wait for its answer; past MAX_IN_FLIGHT of them the
    connection stops reading, so a ping sent after them is answered only once the scan
    is, and every annul is still answered."""
    from podium_server.attendance.connection import MAX_IN_FLIGHT

    slow_commits(ws_client, monkeypatch, 0.5)
    staff = await connect(ws_client, "staff")
    annuls = MAX_IN_FLIGHT + 20
    await staff.ws.send_str(json.dumps({**scan(ws_client, "T000"), "id": "oops"}))
    for n in range(annuls):
        await staff.ws.send_str(json.dumps({"type": "annul", "id": f"u{n}", "scan_id": "oops"}))
    await staff.ws.send_str(json.dumps({"type": "ping", "id": "after"}))
    order: list[str] = []
    while len(order) < annuls + 2:
        order.append(json.loads(await staff.ws.receive_str(timeout=10))["re"])
    assert order[0] == "oops" and sorted(order) == sorted(
        ["oops", "after", *map("u{}".format, range(annuls))]
    )
    assert order.index("after") > 1  # not read before the scan was answered
