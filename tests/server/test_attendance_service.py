"""The attendance service's batcher against real stores: races between batches in flight."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from podium_server.appkeys import EventHolder
from podium_server.attendance import protocol
from podium_server.attendance.certificates import CertificateSigner
from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.attendance_service import AttendanceService
from podium_server.auth import BadgeSigner
from podium_server.event.model import Event, Participant, Session
from podium_server.store.base import CommitResult, LedgerWrite, open_store


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_scan_waits_for_the_write_ahead_of_it_instead_of_building_on_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """While a trainee's exit is on its way to the store, the same device annuls an
    earlier exit (another write of the same ledger, landing first) and the trainee
    scans in again. Built on the exit still in flight, the re-entry would pass its
    version check against the annulment's version of the same number and be recorded
    on a ledger it never saw; held until the exit lands, both are decided right."""
    url = (
        str(request.getfixturevalue("redis_url"))
        if backend == "redis"
        else f"sqlite:///{tmp_path}/race.db"
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
    code = badges.code_for("p1")
    certificates = CertificateSigner.from_secret(secret)
    service = AttendanceService(store, EventHolder(event), badges, certificates, lambda: now[0])
    await service.start()
    door = Scanner("door", "actor")

    def scan(rid: str, direction: str) -> asyncio.Future[dict[str, Any]]:
        now[0] += 1
        return asyncio.ensure_future(
            service.scan(ScanRequest(rid, code, "s1", direction, scanned_at=now[0]), door)
        )

    try:
        for rid, direction in (("S0", "in"), ("S1", "out"), ("S2", "in")):
            assert (await scan(rid, direction))["outcome"] == "accepted"
        # the batcher's commits wait at the gate, as if still on their way to the store
        gate = asyncio.Event()
        commit = store.commit

        async def gated(writes: Sequence[LedgerWrite]) -> list[CommitResult]:
            if any(w.audit.kind == "scan" for w in writes):
                await gate.wait()
            return await commit(writes)

        store.commit = gated  # type: ignore[method-assign]
        exit_ = scan("X", "out")
        await asyncio.sleep(0.05)
        reentry = scan("Y", "in")
        await asyncio.sleep(0.05)
        now[0] += 1
        annulled = await service.annul(protocol.Annul("a1", "S1"), door)
        assert annulled["outcome"] == "annulled"
        gate.set()
        assert (await exit_)["outcome"] == "accepted"
        assert (await reentry)["outcome"] == "accepted"
        stored = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert [(s.scan_id, s.direction, s.annulled) for s in stored.scans] == [
            ("S0", "in", False),
            ("S1", "out", True),
            ("S2", "in", False),
            ("X", "out", False),
            ("Y", "in", False),
        ]
        assert service._pairs[("s1", "p1")] == stored  # the node's copy is the store's
    finally:
        await service.stop()
        await store.close()
