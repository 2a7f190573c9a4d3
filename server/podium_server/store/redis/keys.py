"""Redis key names, in one place.

Ids (event, session, participant) are plain (`event.model.valid_id`: no `:`), so a key
never splits ambiguously. Everything lives under one prefix (default `podium:`), so a
Redis shared with other software is safe and a test can use its own prefix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RedisKeys:
    """Owns the name of every key the store writes under `prefix`, with its type and
    what it holds; a `*_stem` is a family's name before its ids, for the Lua scripts."""

    prefix: str = "podium:"

    def __post_init__(self) -> None:
        if not self.prefix or any(c.isspace() for c in self.prefix):
            raise ValueError("redis key prefix must be non-empty without spaces")

    # foundation
    @property
    def event(self) -> str:  # string: the event as JSON
        return f"{self.prefix}event"

    @property
    def participants(self) -> str:  # hash: participant id -> JSON
        return f"{self.prefix}participants"

    def revoked(self, kind: str) -> str:  # hash: value -> revoked at
        return f"{self.prefix}revoked:{kind}"

    @property
    def audit(self) -> str:  # list of JSON lines, appended only (RPUSH)
        return f"{self.prefix}audit"

    # attendance ledger
    @property
    def replies(self) -> str:  # hash: dedupe key -> stored reply JSON
        return f"{self.prefix}replies"

    @property
    def pair_index(self) -> str:  # set of "session:participant" written so far
        return f"{self.prefix}pairs"

    def pair(self, session_id: str, participant_id: str) -> str:
        # hash: v (version), inside, door_seen, watched, and the province
        # and org type (cprov, corg) the pair is counted under while attended
        return f"{self.prefix}pair:{session_id}:{participant_id}"

    def scans(self, session_id: str, participant_id: str) -> str:
        # list, appended only (RPUSH): the pair's door scans as JSON lines, in order, and
        # annulments as their own lines {"annul": scan_id, "v": pair version}
        return f"{self.prefix}scans:{session_id}:{participant_id}"

    @property
    def scans_stem(self) -> str:
        return f"{self.prefix}scans:"

    @property
    def schema(self) -> str:  # string: layout version of the data under this prefix
        return f"{self.prefix}schema"

    @property
    def pair_stem(self) -> str:
        return f"{self.prefix}pair:"

    def inside(self, session_id: str) -> str:  # set of participant ids
        return f"{self.prefix}inside:{session_id}"

    def attended(self, session_id: str) -> str:  # set of participant ids
        return f"{self.prefix}attended:{session_id}"

    def online(self, session_id: str) -> str:  # zset "participant|interval" -> end
        return f"{self.prefix}online:{session_id}"

    @property
    def inside_stem(self) -> str:
        return f"{self.prefix}inside:"

    @property
    def attended_stem(self) -> str:
        return f"{self.prefix}attended:"

    @property
    def online_stem(self) -> str:
        return f"{self.prefix}online:"

    def by_province(self, session_id: str) -> str:  # hash: province -> attended count
        return f"{self.prefix}by_province:{session_id}"

    def by_org_type(self, session_id: str) -> str:  # hash: org type -> attended count
        return f"{self.prefix}by_org_type:{session_id}"

    @property
    def by_province_stem(self) -> str:
        return f"{self.prefix}by_province:"

    @property
    def by_org_type_stem(self) -> str:
        return f"{self.prefix}by_org_type:"

    @property
    def counted(self) -> str:  # set of session ids that have attended counters
        return f"{self.prefix}counted"

    def recent(self, session_id: str) -> str:  # list, newest first, capped
        return f"{self.prefix}recent:{session_id}"

    @property
    def recent_stem(self) -> str:
        return f"{self.prefix}recent:"

    @property
    def watches(self) -> str:  # hash: interval id -> JSON
        return f"{self.prefix}watches"

    @property
    def channel(self) -> str:  # pub/sub: dashboard updates between nodes
        return f"{self.prefix}updates"
