"""The command line itself: durations, required flags, help."""

from __future__ import annotations

import argparse

import pytest

from podium_client.arguments import build_parser, parse_duration
from podium_client.cli import main


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("60s", 60.0), ("90", 90.0), ("5m", 300.0), ("1h", 3600.0), ("1.5m", 90.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "-5s", "0", "10x"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_no_command_prints_help_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    for command in ("publish", "watch", "scan", "loadtest"):
        assert command in out
    assert "Exit codes" in out


def test_publish_needs_exactly_one_source() -> None:
    parser = build_parser()
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(["publish", "hall", "--test-pattern", "--file", "x.webm"])
    assert exited.value.code == 2
    args = parser.parse_args(["publish", "hall", "--file", "x.webm", "--loop", "--for", "2m"])
    assert args.file.name == "x.webm" and args.loop and args.duration == 120.0


def test_a_missing_server_or_token_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PODIUM_SERVER", raising=False)
    monkeypatch.delenv("PODIUM_TOKEN", raising=False)
    assert main(["--color", "never", "watch", "hall"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["podium-client watch: watch needs --server and --token"]
