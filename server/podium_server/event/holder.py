"""The current event, held where the services and the web layer both reach it."""

from __future__ import annotations

from ..errors import Unavailable
from .model import Event


class EventHolder:
    """The current event; replaced when an organizer loads a new one."""

    def __init__(self, event: Event | None = None) -> None:
        self.event = event

    def require(self) -> Event:
        if self.event is None:
            raise Unavailable("no event loaded")
        return self.event
