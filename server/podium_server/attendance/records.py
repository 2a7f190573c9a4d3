"""Records the core exchanges with its adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WatchInterval:
    """Server-measured online presence of one trainee in one session.

    Reported again with the same `interval_id` as it grows (`open=True` while media is
    still being delivered and receiver reports still arrive), finally with `open=False`.
    Stores upsert by `interval_id`, so a crash loses at most the last few seconds.
    """

    session_id: str
    participant_id: str
    interval_id: str
    start: float
    end: float
    open: bool

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("watch interval ends before it starts")
