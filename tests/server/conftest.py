"""Fixtures shared by server tests: a Config on real temp files, a small event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from podium_server.config import Config
from podium_server.event.model import Event, Session


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Config]:
    def make(**overrides: object) -> Config:
        values: dict[str, object] = {
            "store": f"sqlite:///{tmp_path}/podium.db",
            "secret_file": tmp_path / "secret.key",
            "ice_addresses": ("127.0.0.1",),
            "demo_stream": False,
        }
        values.update(overrides)
        return Config(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def small_event() -> Event:
    """Two sessions: s1 live now (one hour), s2 tomorrow."""
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
            Session(
                id="s2",
                title="Tomorrow",
                start=now + timedelta(days=1),
                end=now + timedelta(days=1, hours=1),
                stream=False,
                mode="in_person",
            ),
        ),
    )
