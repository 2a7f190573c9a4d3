"""HTTP limits per token and per address (429 + Retry-After), and the coalesced audit of
refusals, on a real app and a real SQLite file."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from podium_server import appkeys as keys
from podium_server.config import Config
from podium_server.store.records import AuditRecord
from podium_server.store.sqlite import SqliteStore
from podium_server.web.rate_limit import BucketTable, RateLimits
from podium_server.web.refusals import REFUSALS, RefusalLog
from web_client import MakeClient, bearer, issue_token


async def test_refused_requests_leave_a_count_not_a_row_each(make_client: MakeClient) -> None:
    """500 refused requests (a staff token asking for the participant list): the
    refusal is kept, as one row written at once and one with the repeats."""
    client = await make_client(rate_limits=RateLimits(token_per_s=1e6, token_burst=1e6))
    staff = bearer(client, "staff", session="s1")
    jti = client.app[keys.TOKENS].verify(staff["Authorization"][7:], now=time.time()).jti
    statuses = await asyncio.gather(
        *(client.get("/api/v1/participants", headers=staff) for _ in range(500))
    )
    assert {r.status for r in statuses} == {403}
    store = client.app[keys.STORE]
    mine = [a for a in await store.list_audit(limit=5000) if a.actor == jti]
    assert [(a.kind, a.detail["reason"]) for a in mine] == [("token_refused", "forbidden")]
    await client.app[REFUSALS].flush(everything=True)
    mine = [a for a in await store.list_audit(limit=5000) if a.actor == jti]
    assert len(mine) == 2 and mine[1].detail["repeats"] == 499
    assert "token_use" not in {a.kind for a in mine}  # refused before any use is recorded
    # Forged tokens: no genuine token to name, so counted by address.
    for _ in range(50):
        forged = await client.get(
            "/api/v1/participants", headers={"Authorization": "Bearer pd1.x.y"}
        )
        assert forged.status == 401
    await client.app[REFUSALS].flush(everything=True)
    by_address = [a for a in await store.list_audit(limit=5000) if a.kind == "request_refused"]
    assert [a.device for a in by_address] == ["http 127.0.0.1"] * 2
    assert 1 + by_address[1].detail["repeats"] == 50


async def test_one_token_is_held_back_with_429_and_retry_after(make_client: MakeClient) -> None:
    client = await make_client(rate_limits=RateLimits(token_per_s=0.5, token_burst=5))
    org = bearer(client, "organizer")
    answers = [await client.get("/api/v1/participants", headers=org) for _ in range(8)]
    assert [r.status for r in answers] == [200] * 5 + [429] * 3
    refused = answers[-1]
    assert 1 <= int(refused.headers["Retry-After"]) <= 2
    error = (await refused.json())["error"]
    assert error["code"] == "rate_limited"
    assert error["detail"]["retry_after_s"] == int(refused.headers["Retry-After"])
    # Another token from the same address is not held back; pages, files and health
    # checks are not counted at all.
    assert (
        await client.get("/api/v1/participants", headers=bearer(client, "organizer"))
    ).status == 200
    for path in ("/healthz", "/readyz", "/static/nothing.js", "/scan"):
        assert (await client.get(path, headers=org)).status != 429, path
    # The refusals are audited, coalesced.
    await client.app[REFUSALS].flush(everything=True)
    limited = [
        a
        for a in await client.app[keys.STORE].list_audit()
        if a.detail.get("reason") == "rate_limited"
    ]
    assert len(limited) == 2 and limited[1].detail["repeats"] == 2


async def test_one_address_is_held_back_with_429(make_client: MakeClient) -> None:
    client = await make_client(rate_limits=RateLimits(address_per_s=0.5, address_burst=10))
    answers = [await client.get("/api/v1/event") for _ in range(12)]
    assert [r.status for r in answers] == [200] * 10 + [429] * 2
    assert int(answers[-1].headers["Retry-After"]) >= 1
    # Sockets are not counted here (a door reconnecting must never meet a 429).
    ws = await client.ws_connect("/ws")
    await ws.close()


def test_bucket_table_is_bounded() -> None:
    table = BucketTable(max_tracked=100)
    for n in range(1000):
        assert table.wait_s(f"t:{n}", 0.0, 1.0, 2.0) == 0.0
    assert len(table) == 100
    assert table.wait_s("t:999", 0.0, 1.0, 2.0) == 0.0
    assert table.wait_s("t:999", 0.0, 1.0, 2.0) == 1.0  # empty: one token a second


async def test_a_new_window_writes_a_new_row(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "p.db"))
    await store.open()
    now = [1000.0]
    log = RefusalLog(store, lambda: now[0], window_s=60.0, max_open=2)
    try:

        def refusal(actor: str) -> AuditRecord:
            return AuditRecord(
                at=now[0], kind="token_refused", actor=actor, detail={"reason": "revoked"}
            )

        for step in range(130):  # one a second for 130 s: three windows
            now[0] = 1000.0 + step
            await log.record(refusal("a"))
        await log.flush(everything=True)
        rows = [(a.at, a.detail.get("repeats")) for a in await store.list_audit()]
        assert rows == [
            (1000.0, None),
            (1059.0, 59),
            (1060.0, None),
            (1119.0, 59),
            (1120.0, None),
            (1129.0, 9),
        ]
        # Windows beyond max_open close early, their counts written, none lost.
        for actor in ("b", "c", "d"):
            await log.record(refusal(actor))
            await log.record(refusal(actor))
        assert len(log) == 2
        await log.flush(everything=True)
        counts = [a.detail.get("repeats", 1) for a in await store.list_audit() if a.actor in "bcd"]
        assert sum(counts) == 6
    finally:
        await store.close()


async def test_a_refused_websocket_hello_is_counted_not_recorded_as_a_use(
    make_client: MakeClient,
) -> None:
    client = await make_client(rate_limits=RateLimits())
    speaker = issue_token(client, "speaker", session="s1")
    jti = client.app[keys.TOKENS].verify(speaker, now=time.time()).jti
    for n in range(20):
        ws = await client.ws_connect("/ws")
        await ws.send_json({"type": "hello", "id": str(n), "token": speaker, "device": "d"})
        assert (await ws.receive_json())["code"] == "forbidden"
        await ws.receive()
        assert ws.close_code == 4403
    await client.app[REFUSALS].flush(everything=True)
    mine = [a for a in await client.app[keys.STORE].list_audit() if a.actor == jti]
    assert [a.kind for a in mine] == ["token_refused", "token_refused"]
    assert mine[1].detail["repeats"] == 19


async def test_behind_a_trusted_proxy_each_client_has_its_own_bucket(
    make_client: MakeClient,
) -> None:
    """X-Forwarded-For is believed from a trusted proxy only, and only its last hop
    that is not a proxy: what a client writes in it itself proves nothing."""
    client = await make_client(
        trusted_proxies=("127.0.0.0/8",),
        rate_limits=RateLimits(address_per_s=0.5, address_burst=3),
    )

    async def statuses(forwarded: str) -> list[int]:
        headers = {"X-Forwarded-For": forwarded}
        return [(await client.get("/api/v1/event", headers=headers)).status for _ in range(4)]

    assert await statuses("10.0.0.1") == [200, 200, 200, 429]
    assert await statuses("10.0.0.2") == [200, 200, 200, 429]
    # A client making up an earlier hop is still itself (10.0.0.1, already held back).
    assert await statuses("1.2.3.4, 10.0.0.1") == [429] * 4
    # A chain through a second trusted proxy ends at the same client.
    assert await statuses("10.0.0.3, 127.0.0.9") == [200, 200, 200, 429]
    # Refusals name the client, not the proxy.
    await client.get(
        "/api/v1/participants",
        headers={"X-Forwarded-For": "10.0.0.7", "Authorization": "Bearer pd1.x.y"},
    )
    refused = [a.device for a in await client.app[keys.STORE].list_audit()]
    assert "http 10.0.0.7" in refused


async def test_without_trusted_proxies_forwarded_for_is_ignored(
    make_client: MakeClient, make_config: Callable[..., Config]
) -> None:
    client = await make_client(rate_limits=RateLimits(address_per_s=0.5, address_burst=3))
    codes = [
        (await client.get("/api/v1/event", headers={"X-Forwarded-For": f"10.0.0.{n}"})).status
        for n in range(4)
    ]
    assert codes == [200, 200, 200, 429]
    with pytest.raises(ValueError, match="trusted proxy"):
        make_config(trusted_proxies=("proxy.example",))
    assert Config.from_env({"PODIUM_TRUSTED_PROXIES": "10.1.0.0/16, ::1"}).trusted_proxies == (
        "10.1.0.0/16",
        "::1",
    )
