"""Fixtures shared by server tests: a Config on real temp files (the small event is
in tests/conftest.py, shared with the security tests)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from podium_server.config import Config


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
