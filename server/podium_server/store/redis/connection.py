"""How the Redis store reaches Redis: its URL, the commands' connection pool (bounded,
with timeouts and reconnects), and the durability the server is run with."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff

log = logging.getLogger(__name__)

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


def command_pool(url: str) -> aioredis.BlockingConnectionPool:
    """The pool every command but the subscriptions uses."""
    # A bounded pool that makes a caller wait for a free connection: redis-py's
    # default pool (100 connections) raises "Too many connections" instead, which
    # a burst of dashboards subscribing and scanners saying hello at once reached
    # (seen on the check-in benchmark as a hello answered `internal`).
    # After Redis restarts, every pooled connection fails its next command ("Connection
    # closed by server"): a lost connection is retried on a new one instead. Safe for
    # every write here: a commit's requests carry dedupe keys (a retry finds them
    # answered), the other writes are upserts; an audit line could at worst be doubled.
    return aioredis.BlockingConnectionPool.from_url(
        url,
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


async def warn_unless_durable(client: aioredis.Redis) -> None:
    """A reply from Redis is durable on disk only when the server runs with `appendonly
    yes` and `appendfsync always` (Redis then fsyncs once per event loop turn, before
    answering: a group commit). Says so in the log when it does not."""
    try:
        conf = await client.config_get("append*")
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
