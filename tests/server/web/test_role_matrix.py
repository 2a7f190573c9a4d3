"""The role matrix: every HTTP route and every WebSocket message type, called as every
kind of caller against a real server, each answered as the tables in the code say
(`web.access.ROUTE_ACCESS`, `attendance.protocol.PERMISSIONS`). A route the router
serves without a row in ROUTE_ACCESS fails here, by name."""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.attendance.protocol import PERMISSIONS, WS_ROLES
from podium_server.auth import TokenSigner
from podium_server.event.model import Participant
from podium_server.web.access import (
    CALLERS,
    ROUTE_ACCESS,
    ROUTES_ADDED_ALONGSIDE,
    UNAUTHENTICATED,
    Access,
)
from podium_server.web.rate_limit import RateLimits

TRAINEE = Participant("P1", "Wang Fang", "wf@example.cn", "Bureau", "government", "Guangdong")
# Fields that put a message in every caller's scope (session s1, which the bound staff
# token scans), so a refusal can only be about the role; a type not listed is sent bare.
IN_SCOPE: dict[str, dict[str, Any]] = {
    "subscribe": {"session": "s1"},
    "presence": {"session": "s1", "state": "watching"},
}
ROLE_OF = {
    "organizer": "organizer",
    "staff_bound": "staff",
    "staff_unbound": "staff",
    "speaker": "speaker",
    "trainee": "trainee",
}
pytestmark = pytest.mark.app(
    roster=[TRAINEE],
    # Limits out of the way: this test is about roles (test_rate_limits is about limits).
    rate_limits=RateLimits(address_burst=1e6, token_burst=1e6),
)


async def tokens_by_caller(client: TestClient) -> dict[str, str | None]:
    signer = client.app[keys.TOKENS]
    now = time.time()
    revoked = signer.issue("organizer", now=now)
    jti = signer.verify(revoked, now=now).jti
    await client.app[keys.STORE].revoke("token", jti, now)
    return {
        "none": None,
        "forged": TokenSigner(b"another deployment" * 2).issue("organizer", now=now),
        "expired": signer.issue("organizer", now=now - 7200, ttl_s=3600),
        "revoked": revoked,
        "organizer": signer.issue("organizer", now=now),
        "staff_bound": signer.issue("staff", now=now, session="s1", device="door-A-1"),
        "staff_unbound": signer.issue("staff", now=now, device="desk"),
        "speaker": signer.issue("speaker", now=now, session="s1"),
        "trainee": signer.issue("trainee", now=now, participant="P1"),
    }


def served_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every route the router serves (HEAD comes with GET)."""
    out = set()
    for resource in client.app.router.resources():
        for route in resource:
            if route.method != "HEAD":
                out.add((route.method, resource.canonical))
    return out


def rows_in_force(client: TestClient) -> tuple[Access, ...]:
    """ROUTE_ACCESS, and the rows written ahead for routes added alongside once served."""
    served = served_routes(client)
    ahead = tuple(r for r in ROUTES_ADDED_ALONGSIDE if (r.method, r.path) in served)
    return ROUTE_ACCESS + ahead


async def test_every_route_has_a_row_and_every_row_a_route(client: TestClient) -> None:
    served = served_routes(client)
    rows = {(row.method, row.path) for row in rows_in_force(client)}
    missing = sorted(served - rows)
    assert not missing, "\n".join(
        f"{method} {path} has no row in podium_server/web/access.py ROUTE_ACCESS:"
        " add one saying who may call it (and what a caller let through gets)"
        for method, path in missing
    )
    stale = sorted({(row.method, row.path) for row in ROUTE_ACCESS} - served)
    assert not stale, "\n".join(
        f"ROUTE_ACCESS has a row for {method} {path}, which no route serves: remove it"
        for method, path in stale
    )
    for row in ROUTE_ACCESS + ROUTES_ADDED_ALONGSIDE:
        assert row.allow <= set(CALLERS), f"{row.path}: unknown callers {row.allow - set(CALLERS)}"


async def test_every_route_as_every_caller(client: TestClient) -> None:
    tokens = await tokens_by_caller(client)
    wrong = []
    calls = 0
    rows = rows_in_force(client)
    for row in rows:
        for caller in CALLERS:
            token = tokens[caller]
            headers = {} if token is None else {"Authorization": f"Bearer {token}"}
            response = await client.request(row.call_method, row.sample_path, headers=headers)
            calls += 1
            expected = row.expected(caller)
            if response.status != expected:
                wrong.append(
                    f"{row.call_method} {row.sample_path} as {caller}: "
                    f"{response.status}, expected {expected}: {(await response.text())[:120]}"
                )
            elif expected in (401, 403):
                body = await response.json()
                assert body["error"]["code"] == ("unauthorized" if expected == 401 else "forbidden")
                assert set(body) == {"error"}, "a refusal says nothing else"
                if expected == 401:
                    assert response.headers["WWW-Authenticate"].startswith("Bearer realm=")
    assert not wrong, "\n".join(wrong)
    assert calls == len(rows) * len(CALLERS)


async def _reply_to(ws: aiohttp.ClientWebSocketResponse, rid: str) -> dict[str, Any]:
    """The answer to request `rid`, past pushed messages (a dashboard's updates)."""
    while True:
        msg = await ws.receive(timeout=10)
        assert msg.type == WSMsgType.TEXT, f"closed waiting for {rid}: {msg}"
        data = json.loads(msg.data)
        if data.get("re") == rid:
            return dict(data)


async def test_every_websocket_message_type_as_every_caller(client: TestClient) -> None:
    tokens = await tokens_by_caller(client)
    wrong = []
    for caller in CALLERS:
        ws = await client.ws_connect("/ws")
        hello: dict[str, Any] = {"type": "hello", "id": "h", "device": "matrix"}
        if tokens[caller] is not None:
            hello["token"] = tokens[caller]
        await ws.send_json(hello)
        role = ROLE_OF.get(caller)
        if caller in UNAUTHENTICATED or role not in WS_ROLES:
            first = await ws.receive(timeout=10)
            assert first.type == WSMsgType.TEXT and json.loads(first.data)["type"] == "error"
            closing = await ws.receive(timeout=10)
            expected_close = 4401 if caller in UNAUTHENTICATED else 4403
            if closing.type != WSMsgType.CLOSE or closing.data != expected_close:
                wrong.append(
                    f"hello as {caller}: {closing.type} {closing.data}, expected {expected_close}"
                )
            await ws.close()
            continue
        welcome = await _reply_to(ws, "h")
        assert welcome["type"] == "welcome" and welcome["role"] == role, (caller, welcome)
        for kind, allowed in sorted(PERMISSIONS.items()):
            rid = f"{caller}-{kind}"
            await ws.send_json({"type": kind, "id": rid, **IN_SCOPE.get(kind, {})})
            reply = await _reply_to(ws, rid)
            refused = reply["type"] == "error" and reply["code"] in ("forbidden", "unknown_type")
            if (role in allowed) == refused:
                wrong.append(
                    f"{kind} as {caller}: {reply}, expected {'an answer' if role in allowed else 'forbidden'}"
                )
        await ws.close()
    assert not wrong, "\n".join(wrong)
    # And a type the server does not know is refused as such, for every role.
    for caller in ("organizer", "staff_bound", "trainee"):
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello", "id": "h", "token": tokens[caller]})
        await _reply_to(ws, "h")
        await ws.send_json({"type": "drop_tables", "id": "x"})
        assert (await _reply_to(ws, "x"))["code"] == "unknown_type"
        await ws.close()
