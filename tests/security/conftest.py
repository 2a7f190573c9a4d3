"""Fixtures for the security tests: the small event of tests/server (two sessions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from podium_server.event.model import Event, Session


@pytest.fixture
def small_event() -> Event:
    now = datetime.now(UTC).replace(microsecond=0)
    return Event(
        id="test-event",
        title="Test training",
        timezone="UTC",
        sessions=(
            Session(
                id="s1",
                title="Live now",
                start=now - timedelta(minutes=10),
                end=now + timedelta(minutes=50),
                stream=True,
            ),
        ),
    )
