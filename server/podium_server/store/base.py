"""The Store protocol: everything durable goes through it.

Two backends implement it: `sqlite.py` (embedded default, WAL) and `redis.py` (several
nodes). Both pass the same contract tests (tests/server/store/test_contract.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..event.model import Event, Participant


@dataclass(frozen=True)
class AuditRecord:
    """One line of the append-only audit log."""

    at: float  # epoch seconds, server clock
    kind: str  # scan, annul, sync, token_use, roster_import, revoke, ...
    device: str = ""
    actor: str = ""  # token id or role that acted
    detail: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ping(self) -> bool: ...

    # event and roster
    async def save_event(self, event: Event) -> None: ...
    async def load_event(self) -> Event | None: ...
    async def upsert_participants(self, participants: list[Participant]) -> tuple[int, int]:
        """All or nothing. Returns (added, updated); never drops recorded attendance."""
        ...

    async def list_participants(self) -> list[Participant]: ...
    async def get_participant(self, participant_id: str) -> Participant | None: ...

    # revocation (tokens by jti, badges by participant id)
    async def revoke(self, kind: str, value: str, at: float) -> None: ...
    async def is_revoked(self, kind: str, value: str) -> bool: ...

    # audit
    async def append_audit(self, record: AuditRecord) -> None: ...
    async def list_audit(self, limit: int = 1000) -> list[AuditRecord]: ...


def open_store(url: str) -> Store:
    """Build (not yet open) the backend named by `url`'s scheme."""
    if url.startswith("sqlite://"):
        from .sqlite import SqliteStore

        return SqliteStore.from_url(url)
    if url.startswith("redis://"):
        from .redis import RedisStore

        return RedisStore.from_url(url)
    raise ValueError(f"unknown store URL scheme: {url!r}")
