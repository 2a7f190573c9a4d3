"""Retries against real stores: a request answered before is answered with what the
store kept, decoded into the services' answer and framed the same -- including replies
kept before the services answered with values."""

from __future__ import annotations

from pathlib import Path

import pytest

from podium_server.attendance import protocol
from podium_server.attendance.answers import AnnulAnswer, Refusal, ScanAnswer, ScannedPerson
from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.attendance_service import dedupe_key
from podium_server.store.records import AuditRecord, LedgerWrite, StoredReply

from .running import running


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_scan_retried_after_its_reply_was_kept_in_the_old_shape_is_answered_the_same(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with running(backend, tmp_path, request) as run:
        kept = {
            "type": "scan.result",
            "re": "R-old",
            "outcome": "accepted",
            "participant": {"id": "p1", "name": "N", "organization": "Org", "province": "Hubei"},
            "first_seen_at": run.now[0] - 60,
        }
        audit = AuditRecord(at=run.now[0] - 60, kind="scan", device="door", actor="actor")
        key = dedupe_key("door", "R-old")
        await run.store.commit([LedgerWrite(key, StoredReply(kept, "s1", "p1"), audit)])
        retry = ScanRequest("R-old", run.code, "s1", "in")
        answer = await run.service.scans.scan(retry, Scanner("door", "actor"))
        assert answer == ScanAnswer(
            "accepted", ScannedPerson("p1", "N", "Org", "Hubei"), run.now[0] - 60
        )
        assert protocol.encode(protocol.answer_frame("R-old", answer)) == protocol.encode(kept)
        scans = [a for a in await run.store.list_audit() if a.kind == "scan"]
        assert len(scans) == 1  # answered again, not recorded again
        assert await run.store.list_scans() == []


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_retried_scan_and_annul_get_their_first_answers(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with running(backend, tmp_path, request) as run:
        door = Scanner("door", "actor")
        first = await run.service.scans.scan(ScanRequest("s-1", run.code, "s1", "in"), door)
        assert isinstance(first, ScanAnswer) and first.outcome == "accepted"
        assert first.participant == ScannedPerson("p1", "N", "Org", "Hubei")
        run.now[0] += 5  # a retry later: the first answer, not one decided now
        again = await run.service.scans.scan(ScanRequest("s-1", run.code, "s1", "in"), door)
        assert again == first
        annulled = await run.service.annuls.annul(protocol.Annul("a-1", "s-1"), door)
        assert annulled == AnnulAnswer("s-1")
        assert await run.service.annuls.annul(protocol.Annul("a-1", "s-1"), door) == annulled
        refused = await run.service.annuls.annul(protocol.Annul("a-2", "no-such-scan"), door)
        assert isinstance(refused, Refusal) and refused.code == "not_found"
        assert (
            await run.service.annuls.annul(protocol.Annul("a-2", "no-such-scan"), door) == refused
        )
