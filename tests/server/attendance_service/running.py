"""A running attendance service on a real store (SQLite file or redis-server), shared
by the tests of its parts."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from podium_server.attendance.answers import AnnulAnswer, Answer, ScanAnswer
from podium_server.attendance.certificates import CertificateSigner
from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.attendance_service import AttendanceService
from podium_server.auth import BadgeSigner
from podium_server.event.holder import EventHolder
from podium_server.event.model import Event, Participant, Session
from podium_server.store.factory import open_store
from podium_server.store.records import CommitResult, LedgerWrite
from podium_server.store.roles import Store


@dataclass
class Running:
    """A service on a real store, one session under way, one trainee (p1) whose badge
    is `code`; the service's clock reads `now[0]`."""

    store: Store
    service: AttendanceService
    code: str
    now: list[float]

    def scan(self, rid: str, direction: str, *, dated: bool = True) -> asyncio.Future[Answer]:
        """p1 at the door of s1 (`DOOR`), a second after the last scan: dated by the
        scanner (`dated`), or live, dated by the service when it decides."""
        self.now[0] += 1
        at = self.now[0] if dated else None
        request = ScanRequest(rid, self.code, "s1", direction, scanned_at=at)
        return asyncio.ensure_future(self.service.scans.scan(request, DOOR))

    def gate_scan_commits(self) -> asyncio.Event:
        """From now on the scans' commits wait until the event returned is set, as if
        still on their way to the store."""
        gate = asyncio.Event()
        commit = self.store.commit

        async def gated(writes: Sequence[LedgerWrite]) -> list[CommitResult]:
            if any(w.audit.kind == "scan" for w in writes):
                await gate.wait()
            return await commit(writes)

        self.store.commit = gated  # type: ignore[method-assign]
        return gate


DOOR = Scanner("door", "actor")


@contextlib.asynccontextmanager
async def running(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Running]:
    url = (
        str(request.getfixturevalue("redis_url"))
        if backend == "redis"
        else f"sqlite:///{tmp_path}/ledger.db"
    )
    store = open_store(url)
    await store.open()
    now = [time.time()]
    start = datetime.fromtimestamp(now[0], UTC) - timedelta(minutes=5)
    event = Event(
        id="e",
        title="E",
        timezone="UTC",
        sessions=(Session(id="s1", title="S", start=start, end=start + timedelta(hours=1)),),
    )
    await store.upsert_participants(
        [Participant("p1", "N", "n@x.org", "Org", "government", "Hubei", "in_person")]
    )
    secret = b"s" * 32
    badges = BadgeSigner.from_secret(secret)
    certificates = CertificateSigner.from_secret(secret)
    service = AttendanceService(store, EventHolder(event), badges, certificates, lambda: now[0])
    await service.start()
    try:
        yield Running(store, service, badges.code_for("p1"), now)
    finally:
        await service.stop()
        await store.close()


def outcome(answer: Answer) -> str:
    """A scan's outcome; an annul's `annulled`; a refusal's code."""
    if isinstance(answer, ScanAnswer):
        return answer.outcome
    return "annulled" if isinstance(answer, AnnulAnswer) else answer.code
