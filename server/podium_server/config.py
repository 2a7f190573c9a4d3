"""Config: command-line flags > PODIUM_* environment > defaults.

`Config.from_env` is pure (takes a mapping), so precedence is tested without touching
the process environment.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STORE = "sqlite:///./podium.db"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def split_list(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) URL, lower-case, default port left out."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


@dataclass(frozen=True)
class Config:
    """Everything a server process is started with (command line, environment or
    defaults), fixed for its life."""

    host: str = "127.0.0.1"
    port: int = 8080
    store: str = DEFAULT_STORE
    event_file: Path | None = None
    demo: bool = False
    secret_file: Path = Path("./secret.key")
    public_url: str | None = None
    # Browser origins besides the server's own that may open /ws (a page served from
    # another host name of the same event, say), as scheme://host[:port].
    allowed_origins: tuple[str, ...] = ()
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client:
    # per-address limits then count each client, not the proxy.
    trusted_proxies: tuple[str, ...] = ()
    # STUN/TURN URLs; empty means host candidates only (never a public STUN default).
    ice_servers: tuple[str, ...] = ()
    # Local addresses offered as host candidates (aioice leaves loopback out otherwise).
    ice_addresses: tuple[str, ...] = ()
    log_level: str = "INFO"
    record_dir: Path | None = None
    # The demo's synthetic lecture; tests that do not need media switch it off.
    demo_stream: bool = True
    node_id: str = field(default="")
    # Open connections one client address may hold (0: no cap). Generous: a venue's
    # Wi-Fi puts every phone in the room behind one address.
    max_connections_per_address: int = 256

    def __post_init__(self) -> None:
        if self.max_connections_per_address < 0:
            raise ValueError("max connections per address must be 0 (no cap) or more")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} out of range")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}")
        if not (self.store.startswith("sqlite://") or self.store.startswith("redis://")):
            raise ValueError("store URL must start with sqlite:// or redis://")
        for url in self.ice_servers:
            scheme, _, rest = url.partition(":")
            if scheme not in ("stun", "stuns", "turn", "turns") or not rest:
                raise ValueError(f"ICE server {url!r} must be a stun:, stuns:, turn: or turns: URL")
        for address in self.ice_addresses:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ValueError(f"ICE address {address!r} is not an IP address") from None

        for origin in self.allowed_origins:
            if origin_of(origin) != origin:
                raise ValueError(
                    f"allowed origin {origin!r} must be scheme://host[:port], no path or slash"
                )

        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted proxy {proxy!r} is not an IP address or network"
                ) from None

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str], **overrides: Any) -> Config:
        """Defaults, then PODIUM_* variables from `env`, then non-None `overrides` (flags)."""
        values: dict[str, Any] = {}
        if "PODIUM_STORE" in env:
            values["store"] = env["PODIUM_STORE"]
        if "PODIUM_SECRET_FILE" in env:
            values["secret_file"] = Path(env["PODIUM_SECRET_FILE"])
        if "PODIUM_PUBLIC_URL" in env:
            values["public_url"] = env["PODIUM_PUBLIC_URL"] or None
        if "PODIUM_ICE_SERVERS" in env:
            values["ice_servers"] = split_list(env["PODIUM_ICE_SERVERS"])
        if "PODIUM_ICE_ADDRESSES" in env:
            values["ice_addresses"] = split_list(env["PODIUM_ICE_ADDRESSES"])
        if "PODIUM_LOG_LEVEL" in env:
            values["log_level"] = env["PODIUM_LOG_LEVEL"].upper()
        if "PODIUM_HOST" in env:
            values["host"] = env["PODIUM_HOST"]
        if "PODIUM_PORT" in env:
            values["port"] = int(env["PODIUM_PORT"])
        if "PODIUM_RECORD_DIR" in env:
            values["record_dir"] = Path(env["PODIUM_RECORD_DIR"])
        if "PODIUM_ALLOWED_ORIGINS" in env:
            values["allowed_origins"] = split_list(env["PODIUM_ALLOWED_ORIGINS"])
        if "PODIUM_TRUSTED_PROXIES" in env:
            values["trusted_proxies"] = split_list(env["PODIUM_TRUSTED_PROXIES"])
        if "PODIUM_NODE_ID" in env:
            values["node_id"] = env["PODIUM_NODE_ID"]
        if "PODIUM_MAX_CONNECTIONS_PER_ADDRESS" in env:
            values["max_connections_per_address"] = int(env["PODIUM_MAX_CONNECTIONS_PER_ADDRESS"])
        for key, value in overrides.items():
            if value is None or (isinstance(value, tuple) and not value):
                continue
            values[key] = value
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise TypeError(f"unknown config keys: {sorted(unknown)}")
        return cls(**values)
