"""Limits that keep a load test from becoming an attack: a bounded count and duration,
and only this machine's loopback unless `--allow-remote` says otherwise."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from ..errors import ClientError

MAX_SECONDS = 600.0
MAX_CONNECTIONS = 1000
MAX_VIEWERS = 200


def check_bounds(name: str, value: float, limit: float) -> None:
    if not 0 < value <= limit:
        raise ClientError(f"{name} must be more than 0 and at most {limit:g}", 2)


def check_target(server: str, allow_remote: bool) -> None:
    """Refuse a server that is not on loopback, unless allowed."""
    host = urlsplit(server).hostname
    if not host:
        raise ClientError(f"--server {server!r} has no host", 2)
    if allow_remote:
        return
    try:
        addresses = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as exc:
        raise ClientError(f"cannot resolve {host}: {exc.strerror}", 5) from exc
    remote = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if remote:
        raise ClientError(
            f"{host} is not this machine's loopback ({', '.join(sorted(remote))}); a load test"
            " goes elsewhere only with --allow-remote",
            2,
        )
