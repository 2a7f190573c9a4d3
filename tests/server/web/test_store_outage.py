"""Store outages over `/ws`, with real parts: a redis-server killed and started again
mid-scan, and a SQLite database whose write lock another process holds.

What must hold: a scan the store could not take is answered `unavailable` (never
`internal`), soon (not after a pile of deadlines), and accepted when sent again with the
same id once the store is back; no acknowledged scan is lost; the outage is logged once
with its duration, with no traceback per scan."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from podium_server.event.model import Participant
from podium_server.store.outage import OutageLog, is_outage
from redis_process import RedisProcess
from web_client import MakeClient, issue_token

PEOPLE = [
    Participant(f"T{i:03d}", f"Trainee {i}", f"t{i}@x.org", "Org", "government", "Hubei")
    for i in range(40)
]


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server of this test's own, to kill and start again on the same port and
    data directory."""
    server = RedisProcess(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.kill()


class Scanner:
    """A staff WebSocket that sends scans and collects every answer by id."""

    def __init__(self, client: TestClient, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.client = client
        self.ws = ws
        self.answers: dict[str, tuple[float, dict[str, Any]]] = {}
        self.sent_at: dict[str, float] = {}
        self.arrived = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "re" in data:
                self.answers[data["re"]] = (time.monotonic(), data)
                self.arrived.set()

    async def scan(self, rid: str, pid: str, session: str = "s1") -> None:
        code = self.client.app[keys.BADGES].code_for(pid)
        self.answers.pop(rid, None)
        self.sent_at[rid] = time.monotonic()
        frame = {"type": "scan", "id": rid, "code": code, "session": session, "direction": "in"}
        await self.ws.send_str(json.dumps(frame))

    async def answer(self, rid: str, wait: float = 20) -> dict[str, Any]:
        async with asyncio.timeout(wait):
            while rid not in self.answers:
                self.arrived.clear()
                await self.arrived.wait()
        return self.answers[rid][1]

    def waited(self, rid: str) -> float:
        return self.answers[rid][0] - self.sent_at[rid]


async def scanner(client: TestClient) -> Scanner:
    ws = await client.ws_connect("/ws")
    token = issue_token(client, "staff")
    await ws.send_str(json.dumps({"type": "hello", "id": "h", "token": token, "device": "d"}))
    assert json.loads((await ws.receive(timeout=10)).data)["type"] == "welcome"
    return Scanner(client, ws)


def outage_lines(caplog: pytest.LogCaptureFixture) -> tuple[list[str], list[str], list[str]]:
    """(outage started, outage ended, tracebacks) as logged."""
    began = [r.getMessage() for r in caplog.records if "store unavailable" in r.getMessage()]
    ended = [r.getMessage() for r in caplog.records if "available again" in r.getMessage()]
    traces = [r.getMessage() for r in caplog.records if r.exc_info]
    return began, ended, traces


async def test_redis_killed_and_restarted_mid_scan(
    make_client: MakeClient,
    own_redis: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = await make_client(store=own_redis.url, roster=PEOPLE)
    door = await scanner(client)
    acked: set[str] = set()
    # before: accepted
    for i in range(10):
        await door.scan(f"a{i}", PEOPLE[i].id)
    for i in range(10):
        answer = await door.answer(f"a{i}")
        assert answer["type"] == "scan.result" and answer["outcome"] == "accepted"
        acked.add(PEOPLE[i].id)
    # mid-scan: Redis dies while scans are on their way
    sending = [door.scan(f"b{i}", PEOPLE[10 + i].id) for i in range(10)]
    await asyncio.gather(*sending[:5])
    await asyncio.to_thread(own_redis.kill)
    await asyncio.gather(*sending[5:])
    refused: list[int] = []
    for i in range(10):
        answer = await door.answer(f"b{i}")
        if answer["type"] == "error":
            assert answer["code"] == "unavailable", answer
            assert "again" in answer["message"]
            refused.append(i)
        else:  # durable before Redis went: acknowledged, must survive
            assert answer["outcome"] == "accepted"
            acked.add(PEOPLE[10 + i].id)
    # during the outage: answered `unavailable` quickly, not stacked behind each other
    for i in range(10):
        await door.scan(f"c{i}", PEOPLE[20 + i].id)
    for i in range(10):
        answer = await door.answer(f"c{i}")
        assert answer["type"] == "error" and answer["code"] == "unavailable", answer
        assert door.waited(f"c{i}") < 6.0
    assert refused, "some scans met the outage"
    async with client.get("/readyz") as response:
        assert response.status == 503
    organizer = issue_token(client, "organizer")
    bearer = {"Authorization": f"Bearer {organizer}"}
    async with client.get("/api/v1/participants", headers=bearer) as response:
        assert response.status == 503  # HTTP too: retry later, not a 500
        assert (await response.json())["error"]["code"] == "unavailable"
    async with client.get("/metrics") as response:
        exposition = await response.text()
    assert "\npodium_store_up 0.0\n" in exposition
    assert "\npodium_store_errors_total 0.0\n" not in exposition
    # a scanner saying hello meanwhile: told to come back later (1013), not that its
    # token is bad (4401)
    late = await client.ws_connect("/ws")
    token = issue_token(client, "staff")
    await late.send_str(json.dumps({"type": "hello", "id": "h2", "token": token}))
    refusal = json.loads((await late.receive(timeout=10)).data)
    assert refusal["code"] == "unavailable" and refusal["re"] == "h2"
    closing = await late.receive(timeout=10)
    assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == 1013
    # Redis back (same data directory): the same ids again are accepted
    await asyncio.to_thread(own_redis.start)
    retry = [(f"b{i}", PEOPLE[10 + i].id) for i in refused]
    retry += [(f"c{i}", PEOPLE[20 + i].id) for i in range(10)]
    for _ in range(50):  # the first after a restart may still meet the old connections
        await door.scan(*retry[0])
        if (await door.answer(retry[0][0]))["type"] == "scan.result":
            break
        await asyncio.sleep(0.2)
    for rid, pid in retry:
        await door.scan(rid, pid)
    for rid, pid in retry:
        answer = await door.answer(rid)
        assert answer["type"] == "scan.result" and answer["outcome"] == "accepted", answer
        acked.add(pid)
    # nothing acknowledged was lost; each is recorded once
    recorded = [s.participant_id for s in await client.app[keys.STORE].list_scans()]
    assert sorted(recorded) == sorted(acked) and len(acked) == len(set(recorded))
    began, ended, traces = outage_lines(caplog)
    assert len(began) == 1 and "ConnectionError" in began[0], began
    assert len(ended) == 1 and " s" in ended[0], ended
    assert not [t for t in traces if "scan" in t or "batch" in t], traces
    outage = client.app[keys.STORE_OUTAGE]
    assert not outage.down and outage.outage_seconds() > 0 and outage.errors > 0


async def test_redis_that_stops_answering_is_an_outage_of_one_deadline(
    make_client: MakeClient,
    own_redis: RedisProcess,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Redis frozen (SIGSTOP: connections accepted, nothing answered), as a hung host
    looks: without a deadline the scans waited for ever."""
    from podium_server.store.redis.connection import COMMAND_TIMEOUT_S

    caplog.set_level(logging.WARNING)
    client = await make_client(store=own_redis.url, roster=PEOPLE)
    door = await scanner(client)
    await door.scan("a0", PEOPLE[0].id)
    assert (await door.answer("a0"))["outcome"] == "accepted"
    assert own_redis.proc is not None
    own_redis.proc.send_signal(signal.SIGSTOP)
    try:
        for i in range(4):  # one after another while it hangs
            await door.scan(f"b{i}", PEOPLE[1 + i].id)
            await asyncio.sleep(0.6)
        for i in range(4):
            answer = await door.answer(f"b{i}", wait=COMMAND_TIMEOUT_S * 3)
            assert answer["type"] == "error" and answer["code"] == "unavailable", answer
            assert door.waited(f"b{i}") < COMMAND_TIMEOUT_S + 1.5, (i, door.waited(f"b{i}"))
    finally:
        own_redis.proc.send_signal(signal.SIGCONT)
    for _ in range(50):  # connections that timed out are replaced on their next use
        await door.scan("b0", PEOPLE[1].id)
        if (await door.answer("b0"))["type"] == "scan.result":
            break
        await asyncio.sleep(0.2)
    for i in range(4):
        await door.scan(f"b{i}", PEOPLE[1 + i].id)
    for i in range(4):
        answer = await door.answer(f"b{i}")
        assert answer["type"] == "scan.result" and answer["outcome"] == "accepted", answer
    recorded = sorted(s.participant_id for s in await client.app[keys.STORE].list_scans())
    assert recorded == sorted(p.id for p in PEOPLE[:5])
    began, ended, _ = outage_lines(caplog)
    assert len(began) == 1 and "Timeout" in began[0], began
    assert len(ended) == 1, ended


def hold_write_lock(path: Path) -> subprocess.Popen[str]:
    """Another process that takes the database's write lock and keeps it until its
    stdin closes (an operator's sqlite3 shell in the middle of a transaction, say)."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"conn = sqlite3.connect({str(path)!r}, isolation_level=None)\n"
            "conn.execute('BEGIN IMMEDIATE')\n"
            "print('locked', flush=True)\n"
            "sys.stdin.read()\n"
            "conn.execute('ROLLBACK')\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder


async def test_sqlite_locked_by_another_process(
    make_client: MakeClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    client = await make_client(roster=PEOPLE)
    door = await scanner(client)
    await door.scan("a0", PEOPLE[0].id)
    assert (await door.answer("a0"))["outcome"] == "accepted"

    holder = await asyncio.to_thread(hold_write_lock, tmp_path / "podium.db")
    try:
        # scans arriving one after another while the lock is held: the first waits the
        # busy timeout (5 s); those queued behind it are answered with it, not 5 s later
        # each (8 s and more were seen)
        for i in range(4):
            await door.scan(f"b{i}", PEOPLE[1 + i].id)
            await asyncio.sleep(0.7)
        for i in range(4):
            answer = await door.answer(f"b{i}")
            assert answer["type"] == "error" and answer["code"] == "unavailable", answer
            assert door.waited(f"b{i}") < 5.0 + 1.5, (i, door.waited(f"b{i}"))
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        await asyncio.to_thread(holder.wait, 10)
    for i in range(4):  # the same ids again, now the lock is gone
        await door.scan(f"b{i}", PEOPLE[1 + i].id)
    for i in range(4):
        answer = await door.answer(f"b{i}")
        assert answer["type"] == "scan.result" and answer["outcome"] == "accepted", answer
    recorded = sorted(s.participant_id for s in await client.app[keys.STORE].list_scans())
    assert recorded == sorted(p.id for p in PEOPLE[:5])
    began, ended, traces = outage_lines(caplog)
    assert len(began) == 1 and "locked" in began[0], began
    assert len(ended) == 1, ended
    assert not traces, traces


def test_an_outage_ends_when_a_call_that_failed_works_again() -> None:
    now = [100.0]
    outage = OutageLog(clock=lambda: now[0])
    outage.failed("commit", ConnectionError("refused"))
    now[0] += 2.0
    outage.succeeded("lookup")  # reads work while the writes fail: still down
    assert outage.down and outage.outage_seconds() == pytest.approx(2.0)
    outage.failed("commit", ConnectionError("refused"))
    now[0] += 1.0
    outage.succeeded("commit")
    assert not outage.down and outage.outage_seconds() == pytest.approx(3.0)
    assert outage.errors == 2
    now[0] += 10.0
    assert outage.outage_seconds() == pytest.approx(3.0)


def test_what_counts_as_an_outage() -> None:
    import sqlite3

    import redis.exceptions

    from podium_server.store.sqlite import WriterError

    assert is_outage(redis.exceptions.ConnectionError("Connection refused"))
    assert is_outage(redis.exceptions.TimeoutError("Timeout reading from socket"))
    assert is_outage(redis.exceptions.BusyLoadingError("Redis is loading"))
    assert is_outage(sqlite3.OperationalError("database is locked"))
    assert is_outage(WriterError("OperationalError: database is locked"))
    assert not is_outage(sqlite3.OperationalError("no such table: scans"))
    assert not is_outage(redis.exceptions.ResponseError("WRONGTYPE"))
    assert not is_outage(RuntimeError("a bug"))
