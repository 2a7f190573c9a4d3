"""Redis backend (`redis.asyncio`): the store for several nodes.

Ledger writes run as one Lua script per batch (`lua/commit.lua`), so each write is
atomic (dedupe check, compare-and-set on the pair version, reply, audit line, live sets)
and a whole batch is one round trip. Durability: see `connection.warn_unless_durable`.
Pub/sub on one channel carries dashboard updates between nodes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence

import redis.asyncio as aioredis

from ...attendance.records import DoorScan, PairLedger, WatchInterval
from ...event.model import Event, Participant
from ...event.validation import event_from_json
from ..records import (
    AUDIT_SCAN_MAX,
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    ONLINE_STALE_S,
    RECENT_KEEP,
    TOKEN_REVOKED,
    AuditFilter,
    AuditPage,
    AuditRecord,
    CommitResult,
    LedgerLookup,
    LedgerWrite,
    LookupArgs,
    SessionCounts,
    SessionLive,
    StoredReply,
    audit_from_json,
    json_text,
    json_value,
)
from ..revoked import RevokedIds
from .codec import audit_line, pair_ledger, scan_history, write_json
from .connection import command_pool, parse_url, warn_unless_durable
from .keys import RedisKeys
from .schema import migrate
from .scripts import RedisScripts


class RedisStore:
    """The `Store` on Redis: owns the command client and its registered scripts, the
    key names under one prefix, the revoked-badge cache of the check-in lookups, and the
    open subscriptions (each with its own connection, closed with the store).

    Every ledger write and batch lookup is one script call; the other calls are plain
    commands or pipelines."""

    # Set by `open`: the scripts registered on the command client.
    _scripts: RedisScripts

    # Lookups and commits are script calls, round trips: several in flight keep the loop
    # busy while Redis answers.
    lookups_in_flight = 6
    commits_in_flight = 6

    def __init__(self, url: str, prefix: str = "podium:") -> None:
        self.url = url
        self.keys = RedisKeys(prefix)
        self._redis: aioredis.Redis | None = None
        # Revoked badges for the check-in lookups, and when they were read (monotonic).
        self._revoked = RevokedIds()

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        plain, prefix = parse_url(url)
        return cls(plain, prefix)

    @property
    def redis(self) -> aioredis.Redis:
        if self._redis is None:
            raise RuntimeError("store is not open")
        return self._redis

    async def open(self) -> None:
        client = aioredis.Redis.from_pool(command_pool(self.url))  # closes the pool too
        # Files only, no round trip: a missing script fails here, before any connection.
        self._scripts = RedisScripts(client, self.keys)
        self._redis = client
        await self._redis.ping()
        await migrate(self._redis, self.keys, self._scripts)
        await warn_unless_durable(self._redis)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
        self._redis = None

    async def ping(self) -> bool:
        return bool(await self.redis.ping())

    # -- event and roster -------------------------------------------------------------

    async def save_event(self, event: Event) -> None:
        await self.redis.set(self.keys.event, json.dumps(event.to_json()))

    async def load_event(self) -> Event | None:
        raw = await self.redis.get(self.keys.event)
        return None if raw is None else event_from_json(json.loads(raw))

    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        if not participants:
            return 0, 0
        mapping: dict[str | bytes, str | bytes] = {
            p.id: json.dumps(p.to_json()) for p in participants
        }
        ids = list(mapping)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hmget(self.keys.participants, ids)
            pipe.hset(self.keys.participants, mapping=mapping)  # type: ignore[arg-type]
            before, _ = await pipe.execute()
        updated = sum(1 for b in before if b is not None)
        if updated:  # provinces / org types may have changed: count attended again
            for session_id in sorted(await self.redis.smembers(self.keys.counted)):  # type: ignore[misc]
                await self._scripts.recount(str(session_id))
        return len(ids) - updated, updated

    async def list_participants(self) -> list[Participant]:
        raw = await self.redis.hgetall(self.keys.participants)
        return [Participant(**json.loads(raw[k])) for k in sorted(raw)]

    async def get_participant(self, participant_id: str) -> Participant | None:
        raw = await self.redis.hget(self.keys.participants, participant_id)
        return None if raw is None else Participant(**json.loads(raw))

    # -- revocation -------------------------------------------------------------------

    async def revoke(self, kind: str, value: str, at: float) -> None:
        await self.redis.hsetnx(self.keys.revoked(kind), value, repr(at))
        self._revoked.revoked()

    async def is_revoked(self, kind: str, value: str) -> bool:
        return bool(await self.redis.hexists(self.keys.revoked(kind), value))

    async def revoked_values(self, kind: str) -> frozenset[str]:
        return frozenset(map(str, await self.redis.hkeys(self.keys.revoked(kind))))

    # -- audit ------------------------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> None:
        await self.redis.rpush(self.keys.audit, audit_line(record))

    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]:
        if limit <= 0:
            return []
        raw = await self.redis.lrange(self.keys.audit, -limit, -1)
        return [audit_from_json(json.loads(line)) for line in raw]

    async def audit_page(
        self, where: AuditFilter, *, before: int | None = None, limit: int = 50
    ) -> AuditPage:
        """The list is append-only, so an index is a stable position: read it backwards
        in chunks from `before`, keeping what matches."""
        total = await self.redis.llen(self.keys.audit)
        upper = total if before is None else max(0, min(before, total))
        floor = max(0, upper - AUDIT_SCAN_MAX)
        entries: list[tuple[int, AuditRecord]] = []
        pos = upper  # every line at or above pos has been looked at
        while pos > floor and len(entries) < limit:
            low = max(floor, pos - 500)
            raw = await self.redis.lrange(self.keys.audit, low, pos - 1)
            for offset in range(len(raw) - 1, -1, -1):
                pos = low + offset
                record = audit_from_json(json.loads(raw[offset]))
                if where.matches(record):
                    entries.append((pos, record))
                    if len(entries) == limit:
                        break
            else:
                pos = low
        return AuditPage(entries, pos if pos > 0 else None)

    # -- attendance (AttendanceStore) -------------------------------------------------

    async def lookup(
        self,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        participant_ids: Sequence[str],
        *,
        roster_ids: Sequence[str] | None = None,
        cached: Mapping[tuple[str, str], int] | None = None,
    ) -> LedgerLookup:
        keys, wanted, pids, people, have = LookupArgs.of(
            dedupe_keys, pairs, participant_ids, roster_ids, cached
        )
        now = time.monotonic()
        if pids and self._revoked.due(now):
            token = self._revoked.generation()
            self._revoked.read(await self.revoked_values("badge"), now, token)
        if not (keys or wanted or people):
            # The usual batch: every pair cached, everyone on the roster. No round trip.
            return LedgerLookup({}, {}, {}, self._revoked.among(pids), frozenset())
        reply_bodies, pair_rows, roster, revs = await self._scripts.lookup(
            keys, wanted, have, people, pids
        )
        replies: dict[str, StoredReply] = {
            key: StoredReply.from_json(json_value(body))
            for key, body in zip(keys, reply_bodies, strict=True)
            if body is not None
        }
        found: dict[tuple[str, str], PairLedger] = {}
        unchanged: set[tuple[str, str]] = set()
        for pair, (version, watched, lines) in zip(wanted, pair_rows, strict=True):
            if have.get(pair) == version:
                unchanged.add(pair)  # cached and current: nothing read or decoded
            else:
                found[pair] = pair_ledger(pair, int(version), lines, watched)
        known = {
            pid: Participant(**json_value(x)) for pid, x in zip(people, roster, strict=True) if x
        }
        revoked = frozenset(pid for pid, x in zip(pids, revs, strict=True) if x is not None)
        return LedgerLookup(replies, found, known, revoked, frozenset(unchanged))

    async def commit(self, writes: Sequence[LedgerWrite]) -> list[CommitResult]:
        if not writes:
            return []
        raw = await self._scripts.commit(json_text([write_json(w) for w in writes]))
        out: list[CommitResult] = []
        for item in raw:
            if item == 1:
                out.append(CommitResult(COMMITTED))
            elif item == 2:
                out.append(CommitResult(TOKEN_REVOKED))
            elif item == 0:
                out.append(CommitResult(CONFLICT))
                self._revoked.revoked()  # perhaps a revocation made elsewhere: read again
            else:
                out.append(CommitResult(DUPLICATE, StoredReply.from_json(json_value(item))))
        return out

    async def record_watch(self, interval: WatchInterval) -> None:
        await self._scripts.watch(json.dumps(interval.to_json()))

    async def live(self, session_id: str, now: float) -> SessionLive:
        k = self.keys
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.smembers(k.inside(session_id))
            pipe.zrangebyscore(k.online(session_id), now - ONLINE_STALE_S, "+inf")
            pipe.smembers(k.attended(session_id))
            pipe.lrange(k.recent(session_id), 0, RECENT_KEEP - 1)
            inside, online, attended, recent = await pipe.execute()
        return SessionLive(
            session_id,
            inside=frozenset(inside),
            online=frozenset(m.split("|", 1)[0] for m in online),
            attended=frozenset(attended),
            recent=tuple(json.loads(r) for r in recent),
        )

    async def live_counts(
        self, session_id: str, now: float, *, recount: bool = True
    ) -> SessionCounts:
        k = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:  # one consistent view
            pipe.scard(k.inside(session_id))
            pipe.zrangebyscore(k.online(session_id), now - ONLINE_STALE_S, "+inf")
            pipe.scard(k.attended(session_id))
            pipe.hgetall(k.by_province(session_id))
            pipe.hgetall(k.by_org_type(session_id))
            pipe.lrange(k.recent(session_id), 0, RECENT_KEEP - 1)
            inside, online, attended, provinces, org_types, recent = await pipe.execute()
        by_province = {p: int(n) for p, n in provinces.items() if int(n) > 0}
        by_org_type = {o: int(n) for o, n in org_types.items() if int(n) > 0}
        mismatch = sum(by_org_type.values()) != attended or sum(by_province.values()) != attended
        if mismatch and recount:  # counters missing: data from before they existed
            await self._scripts.recount(session_id)
            return await self.live_counts(session_id, now, recount=False)
        return SessionCounts(
            session_id,
            int(inside),
            len({m.split("|", 1)[0] for m in online}),
            int(attended),
            by_province,
            by_org_type,
            tuple(json_value(r) for r in recent),
        )

    async def list_scans(self) -> list[DoorScan]:
        names: list[str] = sorted(await self.redis.smembers(self.keys.pair_index))  # type: ignore[arg-type]
        out: list[DoorScan] = []
        for start in range(0, len(names), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names[start : start + 500]:
                    s, p = name.split(":", 1)
                    pipe.lrange(self.keys.scans(s, p), 0, -1)
                for lines in await pipe.execute():
                    out.extend(scan_history(lines))
        return out

    async def list_watches(self) -> list[WatchInterval]:
        raw = await self.redis.hvals(self.keys.watches)
        return [WatchInterval.from_json(json.loads(x)) for x in raw]
