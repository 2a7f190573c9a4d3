"""The client is tested against a real server process started in the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server_process import ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def stopped_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """Loaded, not started: the test starts it when it wants."""
    proc = ServerProcess(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()
