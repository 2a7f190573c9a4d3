"""ICE for the client's peers: host candidates only unless STUN/TURN servers are named
(never a public STUN default), on the addresses PODIUM_ICE_ADDRESSES lists."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection


def split_env(name: str) -> tuple[str, ...]:
    return tuple(x.strip() for x in os.environ.get(name, "").split(",") if x.strip())


def ice_server(url: str) -> RTCIceServer:
    """`stun:host:port` or `turn:user:pass@host:port?transport=udp` -> RTCIceServer."""
    scheme, _, rest = url.partition(":")
    if scheme not in ("stun", "stuns", "turn", "turns") or not rest:
        raise ValueError(f"ICE server {url!r} must be stun:, stuns:, turn: or turns:")
    if "@" in rest and scheme.startswith("turn"):
        creds, _, hostpart = rest.rpartition("@")
        user, _, password = creds.partition(":")
        return RTCIceServer(urls=f"{scheme}:{hostpart}", username=user, credential=password)
    return RTCIceServer(urls=url)


def rtc_configuration(servers: tuple[str, ...] = ()) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[ice_server(u) for u in servers])


def offer_addresses(pc: RTCPeerConnection, addresses: tuple[str, ...]) -> None:
    """Gather host candidates on exactly `addresses` (loopback allowed), on every transport
    `pc` has now. Call after addTransceiver and before setLocalDescription. Empty: aioice's
    default (every interface address except loopback).

    aioice takes the address list as an argument of `get_component_candidates`; an
    instance attribute wrapping it swaps in ours (aiortc offers no public way).
    """
    if not addresses:
        return
    for address in addresses:
        if not address or urlsplit(f"//{address}").hostname is None:
            raise ValueError(f"bad ICE address {address!r}")
    chosen = addresses
    conns: dict[int, Any] = {}
    for t in pc.getTransceivers():
        conn = t.receiver.transport.transport.iceGatherer._connection
        conns[id(conn)] = conn
    for conn in conns.values():
        original = conn.get_component_candidates

        async def only_ours(
            component: int,
            addresses: list[str],
            timeout: int = 5,  # noqa: ASYNC109 - aioice's own signature
            original: Any = original,
        ) -> list[Any]:
            return await original(component=component, addresses=list(chosen), timeout=timeout)

        conn.get_component_candidates = only_ours


class IceOptions:
    """Where the client's peers gather: flags, else PODIUM_ICE_ADDRESSES/SERVERS."""

    def __init__(self, addresses: tuple[str, ...] = (), servers: tuple[str, ...] = ()) -> None:
        self.addresses = addresses or split_env("PODIUM_ICE_ADDRESSES")
        self.servers = servers or split_env("PODIUM_ICE_SERVERS")

    def peer(self) -> RTCPeerConnection:
        return RTCPeerConnection(rtc_configuration(self.servers))
