"""The Redis backend, for events run on several nodes: `RedisStore` and its key names.

Modules: `store` (the `Store` calls), `keys` (every key name), `scripts` (loads the
`lua/` files: the atomic ledger writes and lookups), `codec` (the JSON kept), `schema`
(layout version, migration), `connection` (URL, pool, timeouts, reconnects),
`bus` and `subscription` (the message bus on the updates channel).
"""

from .keys import RedisKeys
from .store import RedisStore

__all__ = ["RedisKeys", "RedisStore"]
