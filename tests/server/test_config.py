from pathlib import Path

import pytest

from podium_server.cli import build_parser, config_from_args
from podium_server.config import DEFAULT_STORE, Config


def test_defaults_without_environment() -> None:
    config = Config.from_env({})
    assert config.store == DEFAULT_STORE
    assert config.port == 8080
    assert config.ice_servers == ()  # never a public STUN default
    assert config.ice_addresses == ()


def test_environment_overrides_defaults() -> None:
    config = Config.from_env(
        {
            "PODIUM_STORE": "redis://127.0.0.1:6390/2",
            "PODIUM_ICE_ADDRESSES": "127.0.0.1, ::1",
            "PODIUM_ICE_SERVERS": "stun:stun.internal:3478",
            "PODIUM_LOG_LEVEL": "debug",
            "PODIUM_SECRET_FILE": "/run/podium/secret",
            "PODIUM_PUBLIC_URL": "https://podium.example.org/",
        }
    )
    assert config.store == "redis://127.0.0.1:6390/2"
    assert config.ice_addresses == ("127.0.0.1", "::1")
    assert config.ice_servers == ("stun:stun.internal:3478",)
    assert config.log_level == "DEBUG"
    assert config.secret_file == Path("/run/podium/secret")
    assert config.base_url == "https://podium.example.org"


def test_flags_override_environment() -> None:
    args = build_parser().parse_args(
        ["--store", "sqlite:///flag.db", "serve", "--port", "9000", "--ice-address", "127.0.0.1"]
    )
    env = {
        "PODIUM_STORE": "redis://env:6379/0",
        "PODIUM_PORT": "7000",
        "PODIUM_ICE_ADDRESSES": "10.0.0.1",
    }
    config = config_from_args(args, env)
    assert config.store == "sqlite:///flag.db"
    assert config.port == 9000
    assert config.ice_addresses == ("127.0.0.1",)


def test_environment_used_when_flag_absent() -> None:
    args = build_parser().parse_args(["serve"])
    config = config_from_args(args, {"PODIUM_PORT": "7000", "PODIUM_STORE": "redis://r:1/0"})
    assert (config.port, config.store) == (7000, "redis://r:1/0")


@pytest.mark.parametrize(
    "env",
    [{"PODIUM_STORE": "postgres://x"}, {"PODIUM_LOG_LEVEL": "loud"}, {"PODIUM_PORT": "99999"}],
)
def test_bad_values_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        Config.from_env(env)


def test_unknown_override_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Config.from_env({}, colour="blue")


@pytest.mark.parametrize(
    "argv",
    [
        # the command lines as documented
        [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            "8080",
            "--store",
            "redis://r:6379/1",
            "--event",
            "e.toml",
            "--demo",
        ],
        ["--store", "redis://r:6379/1", "serve"],
        [
            "report",
            "attendance",
            "--format",
            "xlsx",
            "--out",
            "a.xlsx",
            "--store",
            "redis://r:6379/1",
        ],
        ["token", "issue", "--role", "staff", "--ttl", "12h", "--store", "redis://r:6379/1"],
    ],
)
def test_common_flags_work_before_or_after_the_command(argv: list[str]) -> None:
    config = config_from_args(build_parser().parse_args(argv), {})
    assert config.store == "redis://r:6379/1"


def test_ice_settings_are_checked_at_start_not_on_first_use() -> None:
    with pytest.raises(ValueError, match="ICE server"):
        Config.from_env({"PODIUM_ICE_SERVERS": "http://stun.example"})
    with pytest.raises(ValueError, match="ICE address"):
        Config.from_env({"PODIUM_ICE_ADDRESSES": "not an address"})
    ok = Config.from_env({"PODIUM_ICE_SERVERS": "stun:10.1.1.1:3478,turn:u:p@10.1.1.1:3478"})
    assert len(ok.ice_servers) == 2
