"""`podium-client loadtest` against a real server process: bounded, loopback only unless
told, a summary table that reports what the server really answered."""

from __future__ import annotations

import re
import signal
import subprocess

import pytest

from .server_process import Client, ServerProcess


def table_value(lines: list[str], measure: str) -> str:
    for line in lines:
        if measure in line and "│" in line:  # a row of the table, not the progress bar
            return line.split("│")[-2].strip()
    raise AssertionError(f"{measure!r} not in {lines}")


def test_checkins_load_is_answered_and_summarised(server: ServerProcess) -> None:
    client = Client(
        "--color", "never", "loadtest", "checkins", "--server", server.url,
        "--token", server.token("organizer"), "--session", "side",
        "--connections", "4", "--seconds", "2s",
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert client.finish() == 0, client.errors
    answered = int(table_value(client.lines, "scans answered").replace(",", ""))
    assert answered > 20
    assert "answer p99" in "\n".join(client.lines)
    outcomes = {
        m.group(1): int(m.group(2).replace(",", ""))
        for line in client.lines
        if (m := re.search(r"outcome (\w+)\s*│\s*([\d,]+)", line))
    }
    assert outcomes.get("accepted", 0) > 0 and sum(outcomes.values()) >= answered
    server.stop()
    # every accepted scan (in or out) is a door scan in the store
    assert len(server.recorded_scans()) == outcomes["accepted"]


def test_viewers_load_counts_frames_of_a_published_session(server: ServerProcess) -> None:
    publisher = Client(
        "publish", "hall", "--server", server.url,
        "--token", server.token("speaker", session="hall"), "--test-pattern",
    )  # fmt: skip
    try:
        publisher.wait_for("publishing hall")
        load = Client(
            "--color", "never", "loadtest", "viewers", "hall", "--server", server.url,
            "--token", server.token("organizer"), "--viewers", "3", "--seconds", "4",
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert load.finish() == 0, load.errors
        assert table_value(load.lines, "with video") == "3"
        lowest = float(table_value(load.lines, "frames/s per viewer (lowest)"))
        assert 15 < lowest < 45, lowest  # a 30 fps pattern (more: catching up after a stall)
        assert table_value(load.lines, "packets received") != "0"
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--server", "http://10.11.12.13:8080"], "not this machine's loopback"),
        (["--seconds", "3600"], "--seconds must be more than 0 and at most 600"),
        (["--connections", "0"], "--connections must be more than 0 and at most 1000"),
    ],
)
def test_checkins_load_is_bounded_and_loopback_only(
    stopped_server: ServerProcess, extra: list[str], says: str
) -> None:
    args = ["loadtest", "checkins", "--server", stopped_server.url, "--token", "t"]
    args += ["--session", "hall", *extra]
    client = Client(*args, stdin=subprocess.DEVNULL)
    assert client.finish() == 2
    assert len(client.errors) == 1 and says in client.errors[0], client.errors
