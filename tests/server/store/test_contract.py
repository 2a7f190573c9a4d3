"""One contract, two backends: every test here runs on SQLite and on Redis."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from podium_server.attendance.records import DoorScan, PairLedger, WatchInterval
from podium_server.event.model import Event, Participant, Session
from podium_server.store import records, revoked
from podium_server.store.factory import open_store
from podium_server.store.records import (
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    AuditRecord,
    LedgerWrite,
    StoredReply,
)
from podium_server.store.roles import Store


def person(pid: str, province: str = "Guangdong", **kw: str) -> Participant:
    values = dict(
        name=f"N {pid}",
        email=f"{pid}@x.org",
        organization="Org",
        org_type="government",
        province=province,
    )
    values.update(kw)
    return Participant(id=pid, **values)  # type: ignore[arg-type]


def event() -> Event:
    t = datetime(2021, 11, 18, 9, tzinfo=UTC)
    return Event(
        id="ev",
        title="Ev",
        timezone="UTC",
        sessions=(Session(id="s1", title="One", start=t, end=t + timedelta(hours=1)),),
    )


@contextlib.asynccontextmanager
async def two_clients(store_url: str) -> AsyncIterator[tuple[Store, Store]]:
    """Two clients of one store: two nodes, or a node and the command line."""
    a, b = open_store(store_url), open_store(store_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


# -- foundation -----------------------------------------------------------------------


async def test_ping_and_event_round_trip(store: Store) -> None:
    assert await store.ping()
    assert await store.load_event() is None
    await store.save_event(event())
    assert await store.load_event() == event()


async def test_participants_upsert_counts_and_order(store: Store) -> None:
    assert await store.upsert_participants([person("b"), person("a")]) == (2, 0)
    assert await store.upsert_participants([person("a", "Hubei"), person("c")]) == (1, 1)
    listed = await store.list_participants()
    assert [p.id for p in listed] == ["a", "b", "c"]
    assert (await store.get_participant("a")) == person("a", "Hubei")
    assert await store.get_participant("zz") is None


async def test_revocation(store: Store) -> None:
    assert not await store.is_revoked("badge", "p1")
    await store.revoke("badge", "p1", 5.0)
    await store.revoke("badge", "p1", 6.0)
    assert await store.is_revoked("badge", "p1")
    assert not await store.is_revoked("token", "p1")
    await store.revoke("token", "jti-1", 7.0)
    assert await store.revoked_values("badge") == {"p1"}
    assert await store.revoked_values("token") == {"jti-1"}
    assert await store.revoked_values("other") == frozenset()


async def test_lookups_see_badge_revocations_from_anywhere_within_a_second(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Check-in lookups answer revocation from the whole set, read at most every
    REVOKED_FRESH_S: one made through the same store counts at once, one made through
    another (another node, the CLI) within that time."""
    monkeypatch.setattr(revoked, "REVOKED_FRESH_S", 0.2)
    async with two_clients(store_url) as (server, other):
        assert (await server.lookup([], [], ["p1", "p2"])).revoked == frozenset()
        await server.revoke("badge", "p1", 1.0)
        assert (await server.lookup([], [], ["p1", "p2"])).revoked == {"p1"}
        await other.revoke("badge", "p2", 2.0)
        await asyncio.sleep(0.3)
        assert (await server.lookup([], [], ["p1", "p2", "p3"])).revoked == {"p1", "p2"}
        await other.revoke("token", "p3", 3.0)  # tokens are not badges
        await asyncio.sleep(0.3)
        assert (await server.lookup([], [], ["p3"])).revoked == frozenset()


async def test_a_write_taking_a_badge_as_valid_is_refused_once_it_is_revoked_anywhere(
    store_url: str,
) -> None:
    """Whatever a node's copy of the revoked set says, the commit checks the badges its
    answers took as not revoked: a revocation through another store (the CLI, another
    node) counts from the very next scan, not a second later."""
    async with two_clients(store_url) as (server, cli):
        assert (await server.lookup([], [], ["p1"])).revoked == frozenset()  # read: fresh
        await cli.revoke("badge", "p1", 1.0)
        one = PairLedger("s1", "p1", (scan("r1"),), 1)
        entering = dataclasses.replace(write("k1", one), unrevoked_badge="p1")
        # a later write of the batch built on the refused one is refused with it
        two = PairLedger("s1", "p1", (scan("r1"), scan("r2", "out", 200.0)), 2)
        leaving = dataclasses.replace(write("k2", two, inside=False), unrevoked_badge="p1")
        someone = dataclasses.replace(
            write("k3", PairLedger("s1", "p2", (scan("r3", pid="p2"),), 1)),
            unrevoked_badge="p2",
        )
        answer = LedgerWrite(
            "k4",
            StoredReply({"type": "scan.result", "re": "k4", "outcome": "not_inside"}),
            AuditRecord(at=1.0, kind="scan", device="door", actor="j", detail={"id": "k4"}),
            decided_on=("s1", "p1", 0),
            unrevoked_badge="p1",
        )
        results = await server.commit([entering, leaving, someone, answer])
        assert [r.status for r in results] == [CONFLICT, CONFLICT, COMMITTED, CONFLICT]
        # the conflict made the node read the revoked set again
        assert (await server.lookup([], [], ["p1"])).revoked == {"p1"}
        # a write that did not take the badge as valid (a revoked badge's exit): written
        unchecked = dataclasses.replace(write("k5", one), unrevoked_badge=None)
        assert [r.status for r in await server.commit([unchecked])] == [COMMITTED]


async def test_a_write_made_with_a_revoked_token_is_refused_from_its_next_use(
    store_url: str,
) -> None:
    """The token a write came with is checked by the commit: revoked anywhere (the CLI,
    another node), the very next request made with it is refused -- nothing written,
    not even a retried request answered -- while other tokens' writes go on."""
    async with two_clients(store_url) as (server, cli):
        one = PairLedger("s1", "p1", (scan("r1"),), 1)
        recorded = dataclasses.replace(write("k1", one), token="jti-a")
        assert [r.status for r in await server.commit([recorded])] == [COMMITTED]
        await cli.revoke("token", "jti-a", 2.0)
        two = PairLedger("s1", "p1", (scan("r1"), scan("r2", "out", 200.0)), 2)
        leaving = dataclasses.replace(write("k2", two, inside=False), token="jti-a")
        # built on the refused write: refused with it, though its own token is good
        three = PairLedger("s1", "p1", (*two.scans, scan("r3", "in", 300.0)), 3)
        back = dataclasses.replace(write("k3", three), token="jti-b")
        other = dataclasses.replace(
            write("k4", PairLedger("s1", "p2", (scan("r4", pid="p2"),), 1)), token="jti-b"
        )
        untokened = write("k5", PairLedger("s1", "p3", (scan("r5", pid="p3"),), 1))
        results = await server.commit([recorded, leaving, back, other, untokened])
        assert [r.status for r in results] == [
            records.TOKEN_REVOKED,  # a retry of a recorded request: not answered either
            records.TOKEN_REVOKED,
            CONFLICT,
            COMMITTED,
            COMMITTED,
        ]
        assert all(r.stored is None for r in results[:2])
        stored = await server.lookup(["k2", "k3"], [("s1", "p1")], [])
        assert stored.replies == {} and stored.pairs[("s1", "p1")] == one
        ids = sorted(a.detail["id"] for a in await server.list_audit() if a.kind == "scan")
        assert ids == ["k1", "k4", "k5"]


async def test_audit_is_chronological_and_limited(store: Store) -> None:
    for i in range(5):
        await store.append_audit(
            AuditRecord(at=float(i), kind="scan", device="d", actor="a", detail={"n": i})
        )
    got = await store.list_audit(limit=3)
    assert [r.detail["n"] for r in got] == [2, 3, 4]
    assert got[0] == AuditRecord(2.0, "scan", "d", "a", {"n": 2})


async def test_audit_pages_filter_and_go_back_in_time(store: Store) -> None:
    for i in range(12):
        await store.append_audit(
            AuditRecord(
                at=float(i),
                kind="scan" if i % 3 else "token_use",
                device=f"door-{i % 2}",
                actor="a",
                detail={"n": i, "participant": f"P{i % 4}"},
            )
        )
    everything = records.AuditFilter()
    first = await store.audit_page(everything, limit=5)
    assert [r.detail["n"] for _, r in first.entries] == [11, 10, 9, 8, 7]  # newest first
    assert first.older is not None
    second = await store.audit_page(everything, before=first.older, limit=5)
    assert [r.detail["n"] for _, r in second.entries] == [6, 5, 4, 3, 2]
    assert second.older is not None
    last = await store.audit_page(everything, before=second.older, limit=5)
    assert [r.detail["n"] for _, r in last.entries] == [1, 0] and last.older is None

    scans_at_door_1 = records.AuditFilter(kind="scan", device="door-1")
    page = await store.audit_page(scans_at_door_1, limit=50)
    assert [r.detail["n"] for _, r in page.entries] == [11, 7, 5, 1] and page.older is None
    of_p1 = await store.audit_page(records.AuditFilter(participant="P1"), limit=2)
    assert [r.detail["n"] for _, r in of_p1.entries] == [9, 5]
    rest = await store.audit_page(records.AuditFilter(participant="P1"), before=of_p1.older)
    assert [r.detail["n"] for _, r in rest.entries] == [1] and rest.older is None
    none = await store.audit_page(records.AuditFilter(kind="no-such-kind"))
    assert none.entries == [] and none.older is None
    # a scanner without a device in its token is logged as "<name>@<token id>"
    await store.append_audit(AuditRecord(at=20.0, kind="scan", device="door-1@ab12cd34"))
    await store.append_audit(AuditRecord(at=21.0, kind="scan", device="door-10"))
    named = await store.audit_page(records.AuditFilter(device="door-1"), limit=2)
    assert [r.device for _, r in named.entries] == ["door-1@ab12cd34", "door-1"]


async def test_an_audit_page_reads_a_bounded_stretch_of_the_log(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A filter matching nothing stops after AUDIT_SCAN_MAX lines and says where."""
    from podium_server.store.redis import store as redis_store
    from podium_server.store.sqlite import queries as sqlite_queries

    for module in (records, redis_store, sqlite_queries):
        monkeypatch.setattr(module, "AUDIT_SCAN_MAX", 4)
    for i in range(10):
        await store.append_audit(AuditRecord(at=float(i), kind="scan", detail={"n": i}))
    await store.append_audit(AuditRecord(at=10.0, kind="revoke", detail={"n": 10}))
    page = await store.audit_page(records.AuditFilter(kind="token_use"))
    assert page.entries == [] and page.older is not None
    seen = []
    cursor: int | None = page.older
    while cursor is not None:  # an organizer paging on reaches the log's start
        page = await store.audit_page(records.AuditFilter(kind="scan"), before=cursor, limit=3)
        seen += [r.detail["n"] for _, r in page.entries]
        cursor = page.older
    assert seen == [6, 5, 4, 3, 2, 1, 0]


# -- attendance ledger ------------------------------------------------------------------


def scan(rid: str, direction: str = "in", at: float = 100.0, pid: str = "p1") -> DoorScan:
    return DoorScan(rid, "s1", pid, direction, at, "door", at)


def write(
    key: str,
    pair: PairLedger | None,
    inside: bool = True,
    recent: bool = True,
    annul: str | None = None,
) -> LedgerWrite:
    """A pair write appends the pair's last scan, or annuls `annul`."""
    ref = (pair.session_id, pair.participant_id) if pair else (None, None)
    return LedgerWrite(
        dedupe_key=key,
        stored=StoredReply({"type": "scan.result", "re": key, "outcome": "accepted"}, *ref),
        audit=AuditRecord(at=1.0, kind="scan", device="door", actor="j", detail={"id": key}),
        pair=pair,
        inside=inside,
        door_seen=pair is not None and bool(pair.live_scans),
        recent={"participant": pair.participant_id, "id": key} if pair and recent else None,
        appended=() if pair is None or annul else pair.scans[-1:],
        annulled=tuple((s.scan_id, s.device) for s in pair.scans if s.scan_id == annul)
        if pair is not None and annul
        else (),
    )


async def test_commit_dedupe_and_lookup(store: Store) -> None:
    await store.upsert_participants([person("p1"), person("p2")])
    await store.revoke("badge", "p2", 1.0)
    empty = await store.lookup(["d|r1"], [("s1", "p1")], ["p1", "p2", "p3"])
    assert empty.replies == {}
    assert empty.pairs[("s1", "p1")] == PairLedger("s1", "p1")
    assert empty.known == {"p1", "p2"} and empty.revoked == {"p2"}

    pair = PairLedger("s1", "p1", (scan("r1"),), 1)
    res = await store.commit([write("d|r1", pair)])
    assert [r.status for r in res] == [COMMITTED]
    again = await store.commit([write("d|r1", pair)])
    assert again[0].status == DUPLICATE and again[0].stored is not None
    assert again[0].stored.reply["re"] == "d|r1"
    assert again[0].stored.session_id == "s1" and again[0].stored.participant_id == "p1"

    seen = await store.lookup(["d|r1", "d|r2"], [("s1", "p1")], [])
    assert list(seen.replies) == ["d|r1"]
    assert seen.pairs[("s1", "p1")] == pair
    assert await store.list_scans() == [scan("r1")]
    audit = [a for a in await store.list_audit() if a.kind == "scan"]
    assert len(audit) == 1  # the duplicate was not recorded twice


async def test_commit_conflict_on_stale_version(store: Store) -> None:
    first = PairLedger("s1", "p1", (scan("r1"),), 1)
    rival = PairLedger("s1", "p1", (scan("r2", at=101),), 1)
    res = await store.commit([write("d|r1", first), write("d|r2", rival)])
    assert [r.status for r in res] == [COMMITTED, CONFLICT]
    # a conflicting write leaves no trace, not even its reply
    assert (await store.lookup(["d|r2"], [], [])).replies == {}
    nxt = dataclasses.replace(first, scans=(*first.scans, scan("r2", "out", 101)), version=2)
    assert (await store.commit([write("d|r2", nxt, inside=False)]))[0].status == COMMITTED


async def test_commit_mixed_batch_writes_only_the_fresh(store: Store) -> None:
    """A batch holding a retried request and a stale write besides fresh ones: the
    store's fast path (which assumes neither) must fall back without leaving a trace of
    its attempt, and answer each write as if alone."""
    first = PairLedger("s1", "p1", (scan("r1"),), 1)
    assert (await store.commit([write("d|r1", first)]))[0].status == COMMITTED
    stale = PairLedger("s1", "p1", (scan("r3", at=102),), 1)  # decided on version 0
    fresh = PairLedger("s1", "p2", (scan("r2", pid="p2"),), 1)
    res = await store.commit([write("d|r1", first), write("d|r2", fresh), write("d|r3", stale)])
    assert [r.status for r in res] == [DUPLICATE, COMMITTED, CONFLICT]
    assert sorted(s.scan_id for s in await store.list_scans()) == ["r1", "r2"]
    audit = [a.detail["id"] for a in await store.list_audit() if a.kind == "scan"]
    assert sorted(audit) == ["d|r1", "d|r2"]
    heads = await store.lookup([], [("s1", "p1"), ("s1", "p2")], [])
    assert heads.pairs[("s1", "p1")].version == 1 and heads.pairs[("s1", "p2")] == fresh


def answer_on(key: str, session: str, pid: str, version: int) -> LedgerWrite:
    """An answer that leaves its pair alone (already inside, say), read at `version`."""
    return LedgerWrite(
        dedupe_key=key,
        stored=StoredReply({"re": key, "outcome": "already_inside"}, session, pid),
        audit=AuditRecord(at=1.0, kind="scan", device="door", actor="j", detail={"id": key}),
        decided_on=(session, pid, version),
    )


async def test_answers_decided_on_a_pair_are_confirmed_at_commit(store: Store) -> None:
    """A write that leaves its pair alone but read it is refused (a conflict, no trace)
    when the pair has moved from the version it read, counting the batch's earlier
    writes: so a node may answer from its cache without reading the pair first."""
    first = PairLedger("s1", "p1", (scan("r1"),), 1)
    res = await store.commit(
        [
            answer_on("d|a0", "s1", "p1", 0),  # before anything: p1 absent, version 0
            write("d|r1", first),
            answer_on("d|a1", "s1", "p1", 1),  # after r1 in the same batch
            answer_on("d|a2", "s1", "p1", 0),  # read before r1: stale now
        ]
    )
    assert [r.status for r in res] == [COMMITTED, COMMITTED, COMMITTED, CONFLICT]
    res = await store.commit([answer_on("d|a3", "s1", "p1", 0), answer_on("d|a4", "s1", "p1", 1)])
    assert [r.status for r in res] == [CONFLICT, COMMITTED]
    found = await store.lookup(["d|a1", "d|a2", "d|a3", "d|a4"], [], [])
    assert sorted(found.replies) == ["d|a1", "d|a4"]
    assert sorted(a.detail["id"] for a in await store.list_audit()) == [
        "d|a0",
        "d|a1",
        "d|a4",
        "d|r1",
    ]
    with pytest.raises(ValueError, match="own version"):
        dataclasses.replace(write("d|x", first), decided_on=("s1", "p1", 0))


async def test_a_write_built_on_a_refused_one_is_refused_too(store: Store) -> None:
    """Another writer's version 1 is another ledger: a batch's write of version 2 built on
    its own version 1 that was refused (a conflict, or a retried request) is refused
    too, and so is an answer decided on it -- though version 1 is what the store holds."""
    theirs = PairLedger("s1", "p1", (scan("t1"),), 1)
    assert (await store.commit([write("d|t1", theirs)]))[0].status == COMMITTED
    mine = PairLedger("s1", "p1", (scan("m1"),), 1)  # decided on version 0
    on_mine = PairLedger("s1", "p1", (scan("m1"), scan("m2", "out", 101)), 2)
    res = await store.commit(
        [write("d|m1", mine), write("d|m2", on_mine), answer_on("d|m3", "s1", "p1", 2)]
    )
    assert [r.status for r in res] == [CONFLICT, CONFLICT, CONFLICT]
    # a retried request's write is not made either: what was built on it is refused
    theirs2 = PairLedger("s1", "p1", (scan("t1"), scan("t2", "out", 102)), 2)
    assert (await store.commit([write("d|t2", theirs2, inside=False)]))[0].status == COMMITTED
    retried = PairLedger("s1", "p1", (scan("t1"), scan("m4", "out", 103)), 2)
    after = PairLedger("s1", "p1", (*retried.scans, scan("m5", "in", 104)), 3)
    res = await store.commit([write("d|t1", retried), write("d|m5", after)])
    assert [r.status for r in res] == [DUPLICATE, CONFLICT]
    stored = (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
    assert stored == theirs2


async def test_a_later_version_of_a_pair_the_store_lacks_is_a_conflict(store: Store) -> None:
    """A pair write is decided on the version before its own: version 4 of a pair never
    stored was decided on a ledger that does not exist."""
    scans = tuple(scan(f"r{i}", "in" if i % 2 else "out", 100.0 + i) for i in range(1, 5))
    orphan = write("d|r4", PairLedger("s1", "p1", scans, 4))
    assert [r.status for r in await store.commit([orphan])] == [CONFLICT]
    assert (await store.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")].version == 0
    assert await store.list_scans() == []


async def test_reply_only_writes(store: Store) -> None:
    res = await store.commit([write("d|bad", None)])
    assert res[0].status == COMMITTED
    assert (await store.lookup(["d|bad"], [], [])).replies["d|bad"].session_id is None


async def test_live_sets_and_recent(store: Store) -> None:
    p1 = PairLedger("s1", "p1", (scan("r1"),), 1)
    p2 = PairLedger("s1", "p2", (scan("r2", pid="p2"),), 1)
    await store.commit([write("k1", p1), write("k2", p2)])
    live = await store.live("s1", now=200)
    assert live.inside == {"p1", "p2"} and live.attended == {"p1", "p2"}
    assert live.online == frozenset()
    assert [r["id"] for r in live.recent] == ["k2", "k1"]  # newest first
    out = dataclasses.replace(p1, scans=(*p1.scans, scan("r3", "out", 150)), version=2)
    await store.commit([write("k3", out, inside=False)])
    live = await store.live("s1", now=200)
    assert live.inside == {"p2"} and live.attended == {"p1", "p2"}
    # annulling the only entry removes them from attended
    annulled = dataclasses.replace(
        p2, scans=(dataclasses.replace(p2.scans[0], annulled=True),), version=2
    )
    await store.commit([write("k4", annulled, inside=False, annul="r2")])
    live = await store.live("s1", now=200)
    assert live.attended == {"p1"} and live.inside == frozenset()


async def test_recent_is_capped(store: Store) -> None:
    writes = [
        write(f"k{i}", PairLedger("s1", f"p{i}", (scan(f"r{i}", pid=f"p{i}"),), 1))
        for i in range(30)
    ]
    await store.commit(writes)
    live = await store.live("s1", now=0)
    assert len(live.recent) == 20 and live.recent[0]["id"] == "k29"


async def test_watch_intervals_upsert_online_and_attended(store: Store) -> None:
    await store.record_watch(WatchInterval("s1", "p1", "w1", 100, 110, True))
    await store.record_watch(WatchInterval("s1", "p1", "w1", 100, 150, True))
    live = await store.live("s1", now=160)
    assert live.online == {"p1"} and live.attended == {"p1"} and live.inside == frozenset()
    assert (await store.live("s1", now=1000)).online == frozenset()  # stale: no longer online
    await store.record_watch(WatchInterval("s1", "p1", "w1", 100, 170, False))
    assert (await store.live("s1", now=171)).online == frozenset()
    assert await store.list_watches() == [WatchInterval("s1", "p1", "w1", 100, 170, False)]
    # a watched pair keeps counting as attended when its door scan is annulled
    pair = PairLedger("s1", "p1", (scan("r1", at=120),), 1)
    await store.commit([write("k", pair)])
    looked = await store.lookup([], [("s1", "p1")], [])
    assert looked.pairs[("s1", "p1")].watched
    gone = dataclasses.replace(
        pair, scans=(dataclasses.replace(pair.scans[0], annulled=True),), version=2
    )
    await store.commit([write("k2", gone, inside=False, annul="r1")])
    assert (await store.live("s1", now=171)).attended == {"p1"}


async def test_reopen_keeps_everything(store_url: str) -> None:
    s = open_store(store_url)
    await s.open()
    await s.upsert_participants([person("p1")])
    await s.commit([write("k1", PairLedger("s1", "p1", (scan("r1"),), 1))])
    await s.close()
    s = open_store(store_url)
    await s.open()
    try:
        assert (await s.lookup(["k1"], [], [])).replies["k1"].reply["outcome"] == "accepted"
        assert await s.list_scans() == [scan("r1")]
    finally:
        await s.close()


@pytest.mark.parametrize("n", [200])
async def test_concurrent_writers_one_winner_per_version(store_url: str, n: int) -> None:
    """Two store clients (two nodes) racing on the same pair: exactly one wins each version."""
    async with two_clients(store_url) as (a, b):
        wins = 0
        for i in range(n // 10):
            cur = (await a.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
            nxt_a = dataclasses.replace(
                cur, scans=(*cur.scans, scan(f"a{i}", at=i)), version=cur.version + 1
            )
            nxt_b = dataclasses.replace(
                cur, scans=(*cur.scans, scan(f"b{i}", at=i)), version=cur.version + 1
            )
            ra, rb = await asyncio.gather(
                a.commit([write(f"a{i}", nxt_a)]), b.commit([write(f"b{i}", nxt_b)])
            )
            statuses = sorted([ra[0].status, rb[0].status])
            assert statuses == [COMMITTED, CONFLICT]
            wins += 1
        final = (await a.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert final.version == wins and len(final.scans) == wins


async def test_scans_are_appended_and_annulment_kept(store_url: str) -> None:
    """Each write stores only its own scans; an annulment flags one, the history stays,
    and a second client (another node, no cache) reads the same ledger back."""
    async with two_clients(store_url) as (a, b):
        pair = PairLedger("s1", "p1")
        for i in range(5):
            pair = dataclasses.replace(
                pair,
                scans=(*pair.scans, scan(f"r{i}", "in" if i % 2 == 0 else "out", 100 + i)),
                version=pair.version + 1,
            )
            assert (await a.commit([write(f"k{i}", pair)]))[0].status == COMMITTED
        annulled = dataclasses.replace(
            pair,
            scans=(*pair.scans[:4], dataclasses.replace(pair.scans[4], annulled=True)),
            version=pair.version + 1,
        )
        res = await a.commit([write("k-annul", annulled, inside=False, annul="r4")])
        assert res[0].status == COMMITTED
        got = (await b.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert got == annulled  # same scans, same order, r4 flagged, version 6
        assert await b.list_scans() == list(annulled.scans)
        # a cached reader is told the version is current and reads nothing
        again = await b.lookup([], [("s1", "p1")], [], cached={("s1", "p1"): 6})
        assert again.unchanged == {("s1", "p1")} and again.pairs == {}
        # a stale cached reader gets the whole ledger again
        stale = await b.lookup([], [("s1", "p1")], [], cached={("s1", "p1"): 3})
        assert stale.pairs[("s1", "p1")] == annulled


async def test_an_annulment_flags_one_devices_scan_of_a_shared_id(store_url: str) -> None:
    """Request ids are the client's: two doors may each have a scan "7" in one ledger.
    Annulling door B's flags door B's only, in the store as in the writer's copy."""
    async with two_clients(store_url) as (a, b):
        door_a = scan("7", "in", 100)
        door_b = dataclasses.replace(scan("7", "in", 160), device="door-b")
        pair = PairLedger("s1", "p1", (door_a,), 1)
        assert (await a.commit([write("ka", pair)]))[0].status == COMMITTED
        pair = PairLedger("s1", "p1", (door_a, door_b), 2)
        assert (await a.commit([write("kb", pair)]))[0].status == COMMITTED
        gone = PairLedger("s1", "p1", (door_a, dataclasses.replace(door_b, annulled=True)), 3)
        undo = LedgerWrite(
            "k-annul",
            StoredReply({"type": "annul.result", "re": "k-annul"}, "s1", "p1"),
            AuditRecord(at=1.0, kind="annul", device="door-b"),
            gone,
            inside=True,
            door_seen=True,
            annulled=(("7", "door-b"),),
        )
        assert (await a.commit([undo]))[0].status == COMMITTED
        got = (await b.lookup([], [("s1", "p1")], [])).pairs[("s1", "p1")]
        assert [(s.device, s.annulled) for s in got.scans] == [("door", False), ("door-b", True)]
        assert got == gone
        assert await b.list_scans() == list(gone.scans)


def test_pair_write_names_its_change() -> None:
    pair = PairLedger("s1", "p1", (scan("r1"),), 1)
    with pytest.raises(ValueError, match="appended or annulled"):
        LedgerWrite(
            "k", StoredReply({}), AuditRecord(at=1.0, kind="scan"), pair, appended=(), annulled=()
        )
    with pytest.raises(ValueError, match="with their pair"):
        LedgerWrite("k", StoredReply({}), AuditRecord(at=1.0, kind="scan"), appended=pair.scans)
