"""Redis backend (`redis.asyncio`): the store for several nodes.

Ledger writes run as one Lua script per batch, so each write is atomic (dedupe check,
compare-and-set on the pair version, reply, audit line, live sets) and a whole batch is
one round trip. Durability: a reply from Redis is durable on disk only when the server
runs with `appendonly yes` and `appendfsync always` (Redis then fsyncs once per event
loop turn, before answering: a group commit); `open()` warns when it does not.
Pub/sub on one channel carries dashboard updates between nodes.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as aioredis

from ..attendance.records import DoorScan, PairLedger, WatchInterval
from ..event.model import Event, Participant
from .base import (
    COMMITTED,
    CONFLICT,
    DUPLICATE,
    ONLINE_STALE_S,
    RECENT_KEEP,
    AuditRecord,
    CommitResult,
    LedgerLookup,
    LedgerWrite,
    SessionLive,
    StoredReply,
    audit_from_json,
    audit_to_json,
)
from .keys import RedisKeys

log = logging.getLogger(__name__)

# ARGV: writes JSON, replies, audit, pair stem, pair index, inside stem, attended stem,
# recent stem, recent keep. Returns per write: 1 committed, 0 conflict, or the stored body.
_COMMIT_LUA = """
local writes = cjson.decode(ARGV[1])
local replies, audit, pair_stem, pair_index = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local inside_stem, attended_stem, recent_stem = ARGV[6], ARGV[7], ARGV[8]
local keep = tonumber(ARGV[9])
local out = {}
for i, w in ipairs(writes) do
  local existing = redis.call('HGET', replies, w.k)
  if existing then
    out[i] = existing
  else
    local ok = true
    local pk = nil
    if w.pair then
      pk = pair_stem .. w.pair.s .. ':' .. w.pair.p
      local v = tonumber(redis.call('HGET', pk, 'v') or '0')
      if v ~= w.pair.v - 1 then ok = false end
    end
    if not ok then
      out[i] = 0
    else
      if w.pair then
        local pr = w.pair
        redis.call('HSET', pk, 'v', pr.v, 'scans', pr.scans, 'inside', pr.inside,
                   'door_seen', pr.door_seen)
        redis.call('SADD', pair_index, pr.s .. ':' .. pr.p)
        if pr.inside == 1 then
          redis.call('SADD', inside_stem .. pr.s, pr.p)
        else
          redis.call('SREM', inside_stem .. pr.s, pr.p)
        end
        if pr.door_seen == 1 or redis.call('HGET', pk, 'watched') == '1' then
          redis.call('SADD', attended_stem .. pr.s, pr.p)
        else
          redis.call('SREM', attended_stem .. pr.s, pr.p)
        end
        if w.recent then
          redis.call('LPUSH', recent_stem .. pr.s, w.recent)
          redis.call('LTRIM', recent_stem .. pr.s, 0, keep - 1)
        end
      end
      redis.call('HSET', replies, w.k, w.body)
      redis.call('RPUSH', audit, w.audit)
      out[i] = 1
    end
  end
end
return out
"""

# ARGV: interval JSON, watches, pair stem, pair index, attended stem, online stem.
_WATCH_LUA = """
local w = cjson.decode(ARGV[1])
local watches, pair_stem, pair_index, attended_stem, online_stem =
  ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
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
  redis.call('SADD', attended_stem .. w.session_id, w.participant_id)
end
return 1
"""


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
    def __init__(self, url: str, prefix: str = "podium:") -> None:
        self.url = url
        self.keys = RedisKeys(prefix)
        self._redis: aioredis.Redis | None = None
        self._subs: set[_RedisSubscription] = set()

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
        self._redis = aioredis.Redis.from_url(
            self.url, decode_responses=True, health_check_interval=30
        )
        await self._redis.ping()
        self._commit = self._redis.register_script(_COMMIT_LUA)
        self._watch = self._redis.register_script(_WATCH_LUA)
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

    async def close(self) -> None:
        for sub in list(self._subs):
            await sub.aclose()
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

    async def is_revoked(self, kind: str, value: str) -> bool:
        return bool(await self.redis.hexists(self.keys.revoked(kind), value))

    # -- audit ------------------------------------------------------------------------

    async def append_audit(self, record: AuditRecord) -> None:
        await self.redis.rpush(self.keys.audit, _audit_line(record))

    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]:
        if limit <= 0:
            return []
        raw = await self.redis.lrange(self.keys.audit, -limit, -1)
        return [audit_from_json(json.loads(line)) for line in raw]

    # -- attendance ledger (issue 4) -------------------------------------------------

    async def lookup(
        self,
        dedupe_keys: Sequence[str],
        pairs: Sequence[tuple[str, str]],
        participant_ids: Sequence[str],
    ) -> LedgerLookup:
        keys = list(dedupe_keys)
        wanted = list(dict.fromkeys(pairs))
        pids = list(dict.fromkeys(participant_ids))
        async with self.redis.pipeline(transaction=False) as pipe:
            if keys:
                pipe.hmget(self.keys.replies, keys)
            for s, p in wanted:
                pipe.hmget(self.keys.pair(s, p), ["v", "scans", "watched"])
            if pids:
                pipe.hmget(self.keys.participants, pids)
                pipe.hmget(self.keys.revoked("badge"), pids)
            results = await pipe.execute()
        it = iter(results)
        replies: dict[str, StoredReply] = {}
        if keys:
            for k, body in zip(keys, next(it), strict=True):
                if body is not None:
                    replies[k] = StoredReply.from_json(json.loads(body))
        found: dict[tuple[str, str], PairLedger] = {}
        for s, p in wanted:
            v, scans, watched = next(it)
            found[(s, p)] = PairLedger(
                s,
                p,
                tuple(DoorScan.from_json(x) for x in json.loads(scans)) if scans else (),
                int(v or 0),
                watched == "1",
            )
        known: dict[str, Participant] = {}
        revoked: frozenset[str] = frozenset()
        if pids:
            roster, revs = next(it), next(it)
            known = {
                pid: Participant(**json.loads(x))
                for pid, x in zip(pids, roster, strict=True)
                if x is not None
            }
            revoked = frozenset(pid for pid, x in zip(pids, revs, strict=True) if x is not None)
        return LedgerLookup(replies, found, known, revoked)

    async def commit(self, writes: Sequence[LedgerWrite]) -> list[CommitResult]:
        if not writes:
            return []
        payload = [_write_json(w) for w in writes]
        k = self.keys
        raw = await self._commit(
            args=[
                json.dumps(payload),
                k.replies,
                k.audit,
                k.pair_stem,
                k.pair_index,
                k.inside_stem,
                k.attended_stem,
                k.recent_stem,
                RECENT_KEEP,
            ]
        )
        out: list[CommitResult] = []
        for item in raw:
            if item == 1:
                out.append(CommitResult(COMMITTED))
            elif item == 0:
                out.append(CommitResult(CONFLICT))
            else:
                out.append(CommitResult(DUPLICATE, StoredReply.from_json(json.loads(item))))
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

    async def list_scans(self) -> list[DoorScan]:
        names: list[str] = sorted(await self.redis.smembers(self.keys.pair_index))  # type: ignore[arg-type]
        out: list[DoorScan] = []
        for start in range(0, len(names), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                for name in names[start : start + 500]:
                    s, p = name.split(":", 1)
                    pipe.hget(self.keys.pair(s, p), "scans")
                for scans in await pipe.execute():
                    if scans:
                        out.extend(DoorScan.from_json(x) for x in json.loads(scans))
        return out

    async def list_watches(self) -> list[WatchInterval]:
        raw = await self.redis.hvals(self.keys.watches)
        return [WatchInterval.from_json(json.loads(x)) for x in raw]

    async def publish(self, message: dict[str, Any]) -> None:
        await self.redis.publish(self.keys.channel, json.dumps(message))

    async def subscribe(self) -> _RedisSubscription:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.keys.channel)
        sub = _RedisSubscription(pubsub, self._subs)
        self._subs.add(sub)
        return sub


class _RedisSubscription:
    def __init__(self, pubsub: Any, registry: set[_RedisSubscription]) -> None:
        self._pubsub = pubsub
        self._registry = registry
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while not self._closed:
            try:
                msg = await self._pubsub.get_message(timeout=1.0)
            except (aioredis.ConnectionError, RuntimeError):
                if self._closed:
                    return
                raise
            if msg is None or msg.get("type") != "message":
                continue
            try:
                data = json.loads(msg["data"])
            except ValueError:
                log.warning("ignored a non-JSON message on the updates channel")
                continue
            if isinstance(data, dict):
                yield data

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._registry.discard(self)
        try:
            await self._pubsub.unsubscribe()
            await self._pubsub.aclose()
        except (aioredis.ConnectionError, RuntimeError):
            pass


def _audit_line(record: AuditRecord) -> str:
    return json.dumps(audit_to_json(record), sort_keys=True, default=str)


def _write_json(w: LedgerWrite) -> dict[str, Any]:
    out: dict[str, Any] = {
        "k": w.dedupe_key,
        "body": json.dumps(w.stored.to_json()),
        "audit": _audit_line(w.audit),
    }
    if w.pair is not None:
        out["pair"] = {
            "s": w.pair.session_id,
            "p": w.pair.participant_id,
            "v": w.pair.version,
            "scans": json.dumps([s.to_json() for s in w.pair.scans]),
            "inside": int(w.inside),
            "door_seen": int(w.door_seen),
        }
    if w.recent is not None:
        out["recent"] = json.dumps(w.recent)
    return out
