"""Redis backend (`redis.asyncio`): the store for several nodes.

Ledger writes run as one Lua script per batch, so each write is atomic (dedupe check,
compare-and-set on the pair version, reply, audit line, live sets) and a whole batch is
one round trip. Durability: a reply from Redis is durable on disk only when the server
runs with `appendonly yes` and `appendfsync always` (Redis then fsyncs once per event
loop turn, before answering: a group commit); `open()` warns when it does not.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

from ..attendance.records import DoorScan, PairLedger, WatchInterval
from ..event.model import Event, Participant
from .base import (
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
    audit_text,
    audit_to_json,
    json_text,
    json_value,
)
from .keys import RedisKeys
from .revoked import RevokedIds

log = logging.getLogger(__name__)

# Attended counters by province / org type, kept beside the attended set so a dashboard
# reads two small hashes instead of every attended id. A pair remembers what it was
# counted under (cprov, corg) so leaving the set takes back exactly that.
# Needs locals: participants, prov_stem, org_stem, counted.
_COUNT_LUA = """
local function count(pk, s, p, delta)
  local prov, org = 'unknown', 'unknown'
  if delta > 0 then
    local raw = redis.call('HGET', participants, p)
    if raw then
      local x = cjson.decode(raw)
      if type(x.province) == 'string' then prov = x.province end
      if type(x.org_type) == 'string' then org = x.org_type end
    end
    redis.call('HSET', pk, 'cprov', prov, 'corg', org)
  else
    prov = redis.call('HGET', pk, 'cprov') or prov
    org = redis.call('HGET', pk, 'corg') or org
  end
  redis.call('HINCRBY', prov_stem .. s, prov, delta)
  redis.call('HINCRBY', org_stem .. s, org, delta)
  redis.call('SADD', counted, s)
end
"""

# ARGV: writes JSON, replies, audit, pair stem, pair index, inside stem, attended stem,
# recent stem, recent keep, participants, province stem, org type stem, counted, scans
# stem, revoked badges, revoked tokens. Returns per write: 1 committed, 0 conflict, 2 its
# token revoked, or the stored body.
# A pair write appends only its own lines (new scans, annulments) to the pair's scans
# list; the pair hash keeps the version every writer compares-and-sets.
_COMMIT_LUA = (
    """
local writes = cjson.decode(ARGV[1])
local replies, audit, pair_stem, pair_index = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local inside_stem, attended_stem, recent_stem = ARGV[6], ARGV[7], ARGV[8]
local keep = tonumber(ARGV[9])
local participants, prov_stem, org_stem, counted = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local scans_stem = ARGV[14]
local revoked_badges, revoked_tokens = ARGV[15], ARGV[16]
"""
    + _COUNT_LUA
    + """
local out = {}
-- versions a write of this batch would have made and did not: a later write built on
-- one was decided on a ledger that does not exist, so it is refused too, even if the
-- store holds a version of that number (another writer's ledger)
local unmade = {}
local trim = {}
for i, w in ipairs(writes) do
  -- a request whose token is revoked (anywhere) is refused: nothing written, no answer
  local refused = w.t and redis.call('HEXISTS', revoked_tokens, w.t) == 1
  local existing = (not refused) and redis.call('HGET', replies, w.k)
  if refused then
    out[i] = 2
    if w.pair then unmade[pair_stem .. w.pair.s .. ':' .. w.pair.p] = w.pair.v end
  elseif existing then
    out[i] = existing
    if w.pair then unmade[pair_stem .. w.pair.s .. ':' .. w.pair.p] = w.pair.v end
  else
    local ok = true
    local pk = nil
    if w.x then  -- decided on a pair it leaves alone: still at the version read?
      local xk = pair_stem .. w.x[1] .. ':' .. w.x[2]
      local xv = redis.call('HGET', xk, 'v')
      if unmade[xk] == w.x[3] or tonumber(xv or '0') ~= w.x[3] then ok = false end
    end
    if w.pair then
      pk = pair_stem .. w.pair.s .. ':' .. w.pair.p
      local v = tonumber(redis.call('HGET', pk, 'v') or '0')
      if unmade[pk] == w.pair.v - 1 or v ~= w.pair.v - 1 then ok = false end
    end
    -- taken as not revoked: revoked since (by the CLI, another node)?
    if ok and w.nr and redis.call('HEXISTS', revoked_badges, w.nr) == 1 then ok = false end
    if not ok then
      if w.pair then unmade[pk] = w.pair.v end
      out[i] = 0
    else
      if w.pair then
        local pr = w.pair
        redis.call('HSET', pk, 'v', pr.v, 'inside', pr.inside, 'door_seen', pr.door_seen)
        local sk = scans_stem .. pr.s .. ':' .. pr.p
        for _, line in ipairs(pr.lines) do
          redis.call('RPUSH', sk, line)
        end
        redis.call('SADD', pair_index, pr.s .. ':' .. pr.p)
        if pr.inside == 1 then
          redis.call('SADD', inside_stem .. pr.s, pr.p)
        else
          redis.call('SREM', inside_stem .. pr.s, pr.p)
        end
        if pr.door_seen == 1 or redis.call('HGET', pk, 'watched') == '1' then
          if redis.call('SADD', attended_stem .. pr.s, pr.p) == 1 then
            count(pk, pr.s, pr.p, 1)
          end
        elseif redis.call('SREM', attended_stem .. pr.s, pr.p) == 1 then
          count(pk, pr.s, pr.p, -1)
        end
        if w.recent then
          redis.call('LPUSH', recent_stem .. pr.s, w.recent)
          trim[recent_stem .. pr.s] = true
        end
      end
      redis.call('HSET', replies, w.k, w.body)
      redis.call('RPUSH', audit, w.audit)
      out[i] = 1
    end
  end
end
for key in pairs(trim) do  -- once per session and batch, not per scan (AOF volume)
  redis.call('LTRIM', key, 0, keep - 1)
end
return out
"""
)

# ARGV: interval JSON, watches, pair stem, pair index, attended stem, online stem,
# participants, province stem, org type stem, counted.
_WATCH_LUA = (
    """
local w = cjson.decode(ARGV[1])
local watches, pair_stem, pair_index, attended_stem, online_stem =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local participants, prov_stem, org_stem, counted = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
"""
    + _COUNT_LUA
    + """
local old = redis.call('HGET', watches, w.interval_id)
if old then
  local o = cjson.decode(old)
  if o.start < w.start then w.start = o.start end
  if o['end'] > w['end'] then w['end'] = o['end'] end
end
redis.call('HSET', watches, w.interval_id, cjson.encode(w))
local member = w.participant_id .. '|' .. w.interval_id
if w.open then
  redis.call('ZADD', online_stem .. w.session_id, w['end'], member)
else
  redis.call('ZREM', online_stem .. w.session_id, member)
end
if w['end'] > w.start then
  local pk = pair_stem .. w.session_id .. ':' .. w.participant_id
  redis.call('HSET', pk, 'watched', '1')
  redis.call('SADD', pair_index, w.session_id .. ':' .. w.participant_id)
  if redis.call('SADD', attended_stem .. w.session_id, w.participant_id) == 1 then
    count(pk, w.session_id, w.participant_id, 1)
  end
end
return 1
"""
)

# Recount one session's attended counters from its attended set and the current roster
# (after a roster import, or when the counters disagree with the set).
# ARGV: session, attended stem, pair stem, participants, province stem, org stem, counted.
_RECOUNT_LUA = (
    """
local s, attended_stem, pair_stem = ARGV[1], ARGV[2], ARGV[3]
local participants, prov_stem, org_stem, counted = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
"""
    + _COUNT_LUA
    + """
redis.call('DEL', prov_stem .. s, org_stem .. s)
for _, p in ipairs(redis.call('SMEMBERS', attended_stem .. s)) do
  count(pair_stem .. s .. ':' .. p, s, p, 1)
end
return 1
"""
)


# Everything a batch is decided on, in one call (one command to pack, one reply for
# hiredis to parse) and one atomic view (a pair's version and scans agree).
# ARGV: replies, participants, badge revocations, pair stem, scans stem, then counted
# lists: dedupe keys; (session, participant, cached version or -1) triples; roster ids;
# badge ids. Returns {replies, {version, watched, scan lines (only when the cached
# version is not current)} per pair, roster entries, revocations}.
_LOOKUP_LUA = """
local replies, participants, revoked, pair_stem, scans_stem =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local i = 6
local function take(width)
  local n = tonumber(ARGV[i])
  local out = {}
  for j = 1, n * width do out[j] = ARGV[i + j] end
  i = i + n * width + 1
  return out, n
end
local function hmget(key, fields)
  if #fields == 0 then return {} end
  return redis.call('HMGET', key, unpack(fields))
end
local keys = take(1)
local triples, np = take(3)
local people = take(1)
local badges = take(1)
local out_pairs = {}
for j = 1, np do
  local s, p, have = triples[3 * j - 2], triples[3 * j - 1], tonumber(triples[3 * j])
  local name = s .. ':' .. p
  local f = redis.call('HMGET', pair_stem .. name, 'v', 'watched')
  local v = tonumber(f[1] or '0')
  local lines = {}
  if v ~= have and v > 0 then lines = redis.call('LRANGE', scans_stem .. name, 0, -1) end
  out_pairs[j] = {v, f[2] or '0', lines}
end
return {hmget(replies, keys), out_pairs, hmget(participants, people), hmget(revoked, badges)}
"""

# Schema 1 kept a pair's scans as one JSON array in its hash (field `scans`); schema 2
# appends them to a list. Moves one pair, if its field still holds what was read.
# KEYS: pair hash, scans list. ARGV: the field's value as read, then the lines.
_MIGRATE_PAIR_LUA = """
if redis.call('HGET', KEYS[1], 'scans') ~= ARGV[1] then return 0 end
for i = 2, #ARGV do
  redis.call('RPUSH', KEYS[2], ARGV[i])
end
redis.call('HDEL', KEYS[1], 'scans')
return 1
"""
SCHEMA = "2"
# Connections one node opens to Redis at most, and how long a call waits for one.
MAX_CONNECTIONS = 256
POOL_WAIT_S = 10.0
RECONNECT_RETRIES = 3
# A Redis that stops answering (hung, or its host gone without a reset) fails a call
# after this, as `unavailable`, instead of holding the scans waiting on it for ever.
# Timeouts are not retried: the retries would stack the wait.
COMMAND_TIMEOUT_S = 5.0


def parse_url(url: str) -> tuple[str, str]:
    """`redis://host:port/db?prefix=x:` -> (URL for redis-py, key prefix)."""
    parts = urlsplit(url)
    if parts.scheme != "redis":
        raise ValueError(f"not a redis URL: {url!r}")
    query = parse_qs(parts.query)
    prefix = query.pop("prefix", ["podium:"])[0]
    rest = "&".join(f"{k}={v[0]}" for k, v in query.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, "")), prefix


class RedisStore:
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
        # A bounded pool that makes a caller wait for a free connection: redis-py's
        # default pool (100 connections) raises "Too many connections" instead, which
        # a burst of dashboards subscribing and scanners saying hello at once reached
        # (seen on the check-in benchmark as a hello answered `internal`).
        # After Redis restarts, every pooled connection fails its next command ("Connection
        # closed by server"): a lost connection is retried on a new one instead. Safe for
        # every write here: a commit's requests carry dedupe keys (a retry finds them
        # answered), the other writes are upserts; an audit line could at worst be doubled.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=MAX_CONNECTIONS,
            timeout=POOL_WAIT_S,
            decode_responses=True,
            health_check_interval=30,
            socket_timeout=COMMAND_TIMEOUT_S,
            socket_connect_timeout=COMMAND_TIMEOUT_S,
            retry=Retry(
                ExponentialBackoff(cap=0.5, base=0.02),
                RECONNECT_RETRIES,
                supported_errors=(aioredis.ConnectionError,),
            ),
            retry_on_error=[aioredis.ConnectionError],
        )
        self._redis = aioredis.Redis.from_pool(pool)  # closing the client closes the pool
        await self._redis.ping()
        self._commit = self._redis.register_script(_COMMIT_LUA)
        self._watch = self._redis.register_script(_WATCH_LUA)
        self._recount = self._redis.register_script(_RECOUNT_LUA)
        self._migrate_pair = self._redis.register_script(_MIGRATE_PAIR_LUA)
        self._lookup = self._redis.register_script(_LOOKUP_LUA)
        await self._migrate()
        try:
            conf = await self._redis.config_get("append*")
        except aioredis.ResponseError:  # CONFIG may be disabled on managed Redis
            conf = {}
        if conf and (conf.get("appendonly") != "yes" or conf.get("appendfsync") != "always"):
            log.warning(
                "redis runs without 'appendonly yes' + 'appendfsync always': an acknowledged"
                " scan may be lost if the Redis host loses power",
                extra={
                    "appendonly": conf.get("appendonly"),
                    "appendfsync": conf.get("appendfsync"),
                },
            )

    async def _migrate(self) -> None:
        """Bring data written by an older layout up to `SCHEMA` (once per prefix)."""
        k = self.keys
        if await self.redis.get(k.schema) == SCHEMA:
            return
        names: list[str] = sorted(await self.redis.smembers(k.pair_index))  # type: ignore[arg-type]
        moved = 0
        for start in range(0, len(names), 500):
            chunk = [name.split(":", 1) for name in names[start : start + 500]]
            async with self.redis.pipeline(transaction=False) as pipe:
                for s, p in chunk:
                    pipe.hget(k.pair(s, p), "scans")
                olds = await pipe.execute()
            for (s, p), old in zip(chunk, olds, strict=True):
                if old is None:
                    continue
                lines = [DoorScan.from_json(x).json_text for x in json.loads(old)]
                moved += await self._migrate_pair(
                    keys=[k.pair(s, p), k.scans(s, p)], args=[old, *lines]
                )
        await self.redis.set(k.schema, SCHEMA)
        if moved:
            log.info("redis store: moved %d pair histories to append-only scan lists", moved)

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
        from ..event.loaders import event_from_json

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
                await self._recount_session(str(session_id))
        return len(ids) - updated, updated

    async def _recount_session(self, session_id: str) -> None:
        k = self.keys
        await self._recount(
            args=[
                session_id,
                k.attended_stem,
                k.pair_stem,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
            ]
        )

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
        await self.redis.rpush(self.keys.audit, _audit_line(record))

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

    # -- attendance ledger -----------------------------------------------------------

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
        k = self.keys
        now = time.monotonic()
        if pids and self._revoked.due(now):
            token = self._revoked.generation()
            self._revoked.read(await self.revoked_values("badge"), now, token)
        if not (keys or wanted or people):
            # The usual batch: every pair cached, everyone on the roster. No round trip.
            return LedgerLookup({}, {}, {}, self._revoked.among(pids), frozenset())
        args: list[str | int] = [
            k.replies,
            k.participants,
            k.revoked("badge"),
            k.pair_stem,
            k.scans_stem,
            len(keys),
            *keys,
            len(wanted),
        ]
        for s, p in wanted:
            args += (s, p, have.get((s, p), -1))
        args += (len(people), *people, len(pids), *pids)
        reply_bodies, pair_rows, roster, revs = await self._lookup(args=args)
        replies: dict[str, StoredReply] = {
            key: StoredReply.from_json(_loads(body))
            for key, body in zip(keys, reply_bodies, strict=True)
            if body is not None
        }
        found: dict[tuple[str, str], PairLedger] = {}
        unchanged: set[tuple[str, str]] = set()
        for pair, (version, watched, lines) in zip(wanted, pair_rows, strict=True):
            if have.get(pair) == version:
                unchanged.add(pair)  # cached and current: nothing read or decoded
            else:
                found[pair] = _ledger(pair, int(version), lines, watched)
        known = {pid: Participant(**_loads(x)) for pid, x in zip(people, roster, strict=True) if x}
        revoked = frozenset(pid for pid, x in zip(pids, revs, strict=True) if x is not None)
        return LedgerLookup(replies, found, known, revoked, frozenset(unchanged))

    async def commit(self, writes: Sequence[LedgerWrite]) -> list[CommitResult]:
        if not writes:
            return []
        payload = [_write_json(w) for w in writes]
        k = self.keys
        raw = await self._commit(
            args=[
                _dumps(payload),
                k.replies,
                k.audit,
                k.pair_stem,
                k.pair_index,
                k.inside_stem,
                k.attended_stem,
                k.recent_stem,
                RECENT_KEEP,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
                k.scans_stem,
                k.revoked("badge"),
                k.revoked("token"),
            ]
        )
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
                out.append(CommitResult(DUPLICATE, StoredReply.from_json(_loads(item))))
        return out

    async def record_watch(self, interval: WatchInterval) -> None:
        k = self.keys
        await self._watch(
            args=[
                json.dumps(interval.to_json()),
                k.watches,
                k.pair_stem,
                k.pair_index,
                k.attended_stem,
                k.online_stem,
                k.participants,
                k.by_province_stem,
                k.by_org_type_stem,
                k.counted,
            ]
        )

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
            await self._recount_session(session_id)
            return await self.live_counts(session_id, now, recount=False)
        return SessionCounts(
            session_id,
            int(inside),
            len({m.split("|", 1)[0] for m in online}),
            int(attended),
            by_province,
            by_org_type,
            tuple(_loads(r) for r in recent),
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
                    out.extend(_scans(lines))
        return out

    async def list_watches(self) -> list[WatchInterval]:
        raw = await self.redis.hvals(self.keys.watches)
        return [WatchInterval.from_json(json.loads(x)) for x in raw]


def _audit_line(record: AuditRecord) -> str:
    return _dumps_audit(audit_to_json(record))


_dumps_audit = audit_text


_dumps = json_text
_loads = json_value


def _scans(lines: list[str]) -> tuple[DoorScan, ...]:
    """A pair's scans from its list: scan lines in order, annulment lines flag them."""
    scans: list[DoorScan] = []
    for line in lines:
        data = _loads(line)
        if "annul" not in data:
            scans.append(DoorScan.from_json(data))
            continue
        # An annulment follows its scan: it flags scans before it only. Lines written
        # before they named the device flag every earlier scan with the id.
        scan_id, device = data["annul"], data.get("device")
        for n, x in enumerate(scans):
            if x.scan_id == scan_id and device in (None, x.device) and not x.annulled:
                scans[n] = dataclasses.replace(x, annulled=True)
    return tuple(scans)


def _ledger(
    pair: tuple[str, str], version: int, lines: list[str], watched: str | None
) -> PairLedger:
    return PairLedger(pair[0], pair[1], _scans(lines), version, watched == "1")


def _write_json(w: LedgerWrite) -> dict[str, Any]:
    out: dict[str, Any] = {
        "k": w.dedupe_key,
        "body": _dumps(w.stored.to_json()),
        "audit": _audit_line(w.audit),
    }
    if w.pair is not None:
        out["pair"] = {
            "s": w.pair.session_id,
            "p": w.pair.participant_id,
            "v": w.pair.version,
            "lines": [x.json_text for x in w.appended]
            + [
                _dumps({"annul": scan_id, "device": device, "v": w.pair.version})
                for scan_id, device in w.annulled
            ],
            "inside": int(w.inside),
            "door_seen": int(w.door_seen),
        }
    if w.recent is not None:
        out["recent"] = _dumps(w.recent)
    if w.decided_on is not None:
        out["x"] = list(w.decided_on)
    if w.unrevoked_badge is not None:
        out["nr"] = w.unrevoked_badge
    if w.token is not None:
        out["t"] = w.token
    return out
