"""The scan pipeline's batcher against real stores: races between batches in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from podium_server.attendance import protocol
from podium_server.attendance.answers import AnnulAnswer, ScanAnswer
from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.errors import TokenRevoked
from podium_server.store.records import CommitResult, LedgerWrite
from podium_server.store.roles import Store

from .running import DOOR, outcome, running


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_scan_waits_for_the_write_ahead_of_it_instead_of_building_on_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """While a trainee's exit is on its way to the store, the same device annuls an
    earlier exit (another write of the same ledger, landing first) and the trainee
    scans in again. Built on the exit still in flight, the re-entry would pass its
    version check against the annulment's version of the same number and be recorded
    on a ledger it never saw; held until the exit lands, both are decided right."""
    async with running(backend, tmp_path, request) as run:
        store, service, now = run.store, run.service, run.now
        for rid, direction in (("S0", "in"), ("S1", "out"), ("S2", "in")):
            assert outcome(await run.scan(rid, direction)) == "accepted"
        gate = run.gate_scan_commits()
        exit_ = run.scan("X", "out")
        await asyncio.sleep(0.05)
        reentry = run.scan("Y", "in")
        await asyncio.sleep(0.05)
        now[0] += 1
        annulled = await service.annuls.annul(protocol.Annul("a1", "S1"), DOOR)
        assert annulled == AnnulAnswer("S1")
        gate.set()
        assert outcome(await exit_) == "accepted"
        assert outcome(await reentry) == "accepted"
        stored = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert [(s.scan_id, s.direction, s.annulled) for s in stored.scans] == [
            ("S0", "in", False),
            ("S1", "out", True),
            ("S2", "in", False),
            ("X", "out", False),
            ("Y", "in", False),
        ]
        assert (
            service.scans.pair_ledgers.by_pair[("s1", "p1")] == stored
        )  # the node's copy is the store's


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_held_scan_is_decided_before_later_scans_of_its_trainee(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A trainee scanned in, out, in again in quick succession: the exit waits (held)
    for the entry's write; the entry lands while the batch holding the re-entry is being
    looked up. The exit, released, must still be decided before the re-entry: decided
    after it, the re-entry would be already_inside and the exit would empty the room."""
    async with running(backend, tmp_path, request) as run:
        store = run.store
        lookup_gate = asyncio.Event()
        gate_lookups = False
        lookup = store.lookup

        async def gated_lookup(*args: Any, **kwargs: Any) -> Any:
            if gate_lookups:
                await lookup_gate.wait()
            return await lookup(*args, **kwargs)

        store.lookup = gated_lookup  # type: ignore[method-assign]
        commit_gate = run.gate_scan_commits()
        entry = run.scan("A", "in", dated=False)  # decided; its write waits at the gate
        await asyncio.sleep(0.05)
        exit_ = run.scan("B", "out", dated=False)  # held behind the entry's write
        await asyncio.sleep(0.05)
        gate_lookups = True
        reentry = run.scan("C", "in", dated=False)  # its batch's lookup waits
        await asyncio.sleep(0.05)
        commit_gate.set()  # the entry lands: the exit is released...
        await asyncio.sleep(0.05)
        lookup_gate.set()  # ...while the re-entry's batch was being looked up
        outcomes = [outcome(await f) for f in (entry, exit_, reentry)]
        assert outcomes == ["accepted", "accepted", "accepted"]
        stored = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert [s.scan_id for s in stored.scans] == ["A", "B", "C"]
        assert stored.inside_last is not None and stored.inside_last.scan_id == "C"


def gate_lookups(store: Store) -> asyncio.Event:
    """From now on the store's lookups wait until the event returned is set (a store
    slow to answer)."""
    gate = asyncio.Event()
    lookup = store.lookup

    async def gated(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await lookup(*args, **kwargs)

    store.lookup = gated  # type: ignore[method-assign]
    return gate


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_scan_decided_again_is_not_overtaken_by_a_later_scan_of_its_trainee(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The trainee is inside; their exit's write is on its way when the same device
    annuls an earlier scan, so the exit's commit conflicts and it is decided again. Their
    re-entry, in a batch being looked up then, must wait for it: decided first, it would
    be already_inside and the exit would leave the room empty."""
    async with running(backend, tmp_path, request) as run:
        for rid, direction in (("S0", "in"), ("S1", "out"), ("S2", "in")):
            assert outcome(await run.scan(rid, direction, dated=False)) == "accepted"
        commit_gate = run.gate_scan_commits()
        exit_ = run.scan("X", "out", dated=False)
        await asyncio.sleep(0.05)
        run.now[0] += 1
        undo = await run.service.annuls.annul(protocol.Annul("a1", "S1"), DOOR)
        assert undo == AnnulAnswer("S1")
        lookup_gate = gate_lookups(run.store)
        reentry = run.scan("Y", "in", dated=False)
        await asyncio.sleep(0.05)  # its batch taken, being looked up
        commit_gate.set()  # the exit conflicts: back to the queue
        await asyncio.sleep(0.05)
        lookup_gate.set()
        assert [outcome(await f) for f in (exit_, reentry)] == ["accepted", "accepted"]
        counts = await run.service.feed.counts("s1")
        assert counts["inside"] == 1


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_stopping_answers_the_batch_being_looked_up(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A scan whose batch is being looked up when the service stops is answered (an
    error: the client retries it elsewhere), not left waiting for ever."""
    async with running(backend, tmp_path, request) as run:
        gate_lookups(run.store)  # never opened
        pending = run.scan("Z", "in", dated=False)
        await asyncio.sleep(0.05)
        await run.service.stop()
        with pytest.raises(RuntimeError, match="shutting down"):
            await asyncio.wait_for(pending, 1)


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_revoked_token_and_its_replacement_on_one_device_are_answered_apart(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Two tokens naming the same device (a revoked one, the new one issued for that
    door) send the same request id in one batch: the revoked one is refused, the other
    recorded, in either order -- not one answer shared by both."""
    async with running(backend, tmp_path, request) as run:
        await run.store.revoke("token", "old-jti", run.now[0])
        old, new = Scanner("door-A-1", "old-jti"), Scanner("door-A-1", "new-jti")
        for rid, direction, order in (("R1", "in", (old, new)), ("R2", "out", (new, old))):
            answers = {s.actor: asyncio.get_running_loop().create_future() for s in order}
            run.now[0] += 1
            for scanner in order:  # queued together: one batch
                run.service.scans.submit(
                    ScanRequest(rid, run.code, "s1", direction),
                    scanner,
                    answers[scanner.actor].set_result,
                )
            assert isinstance(await asyncio.wait_for(answers["old-jti"], 5), TokenRevoked)
            recorded = await asyncio.wait_for(answers["new-jti"], 5)
            assert isinstance(recorded, ScanAnswer) and recorded.outcome == "accepted"
        actors = [
            (a.actor, a.detail["id"]) for a in await run.store.list_audit() if a.kind == "scan"
        ]
        assert actors == [("new-jti", "R1"), ("new-jti", "R2")]


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_an_upload_recorded_before_its_token_was_revoked_is_answered_and_audited(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The token is revoked just after a sync's scans were committed: the upload is
    answered with their results and audited, not refused after the fact."""
    async with running(backend, tmp_path, request) as run:
        commit = run.store.commit

        async def revoked_after(writes: Sequence[LedgerWrite]) -> list[CommitResult]:
            results = await commit(writes)
            if any(w.audit.kind == "scan" for w in writes):
                await run.store.revoke("token", "jti", run.now[0])
            return results

        run.store.commit = revoked_after  # type: ignore[method-assign]
        upload = protocol.Sync("up-1", (ScanRequest("q1", run.code, "s1", "in", run.now[0]),))
        answer = await run.service.uploads.sync(upload, Scanner("door", "jti"))
        assert answer.results[0][0] == "q1" and outcome(answer.results[0][1]) == "accepted"
        kinds = [a.kind for a in await run.store.list_audit()]
        assert kinds == ["scan", "sync"]
        again = protocol.Sync("up-2", (ScanRequest("q2", run.code, "s1", "out", run.now[0]),))
        with pytest.raises(TokenRevoked):  # the next use is refused
            await run.service.uploads.sync(again, Scanner("door", "jti"))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_retried_annul_is_refused_once_its_token_is_revoked(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    async with running(backend, tmp_path, request) as run:
        door = Scanner("door", "jti")
        scan = ScanRequest("s-1", run.code, "s1", "in")
        assert outcome(await run.service.scans.scan(scan, door)) == "accepted"
        first = await run.service.annuls.annul(protocol.Annul("a-1", "s-1"), door)
        assert first == AnnulAnswer("s-1")
        assert (
            await run.service.annuls.annul(protocol.Annul("a-1", "s-1"), door) == first
        )  # a retry
        await run.store.revoke("token", "jti", run.now[0])
        with pytest.raises(TokenRevoked):
            await run.service.annuls.annul(protocol.Annul("a-1", "s-1"), door)
