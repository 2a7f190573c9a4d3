"""ICE configuration: host candidates only unless STUN/TURN servers are configured, and
the host addresses to offer (PODIUM_ICE_ADDRESSES), loopback included."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from . import aiortc_private

log = logging.getLogger(__name__)


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


def rtc_configuration(ice_servers: tuple[str, ...] = ()) -> RTCConfiguration:
    """Never aiortc's default (a public Google STUN server): host candidates only."""
    return RTCConfiguration(iceServers=[ice_server(u) for u in ice_servers])


def offer_addresses(pc: RTCPeerConnection, addresses: tuple[str, ...]) -> None:
    """Offer exactly `addresses` as host candidates on every transport `pc` has now.

    Call after the transceivers exist (addTransceiver, or setRemoteDescription of an
    offer) and before setLocalDescription, which gathers. Empty: aioice's default
    (every interface address except loopback).
    """
    if not addresses:
        return
    for address in addresses:
        if not address or urlsplit(f"//{address}").hostname is None:
            raise ValueError(f"bad ICE address {address!r}")
    for conn in aiortc_private.ice_connections(pc):
        aiortc_private.offer_host_addresses(conn, addresses)
