"""Trickle ICE for WHIP/WHEP resources (RFC 9725 section 4.3): a PATCH carrying an
`application/trickle-ice-sdpfrag` adds the client's late candidates to its connection.

The fragment repeats the client's ICE credentials (`a=ice-ufrag`/`a=ice-pwd`), then per
media section an `a=mid` and its `a=candidate` lines, and may end with
`a=end-of-candidates`. Other credentials than the offer's would be an ICE restart, which
we do not do (the client POSTs a new offer instead). The resource's ETag names its ICE
session: a PATCH whose `If-Match` names another one is refused with 412.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from aiortc import RTCIceCandidate, RTCPeerConnection
from aiortc.sdp import candidate_from_sdp

from ..errors import BadRequest, MethodNotAllowed, PreconditionFailed
from .sdp import MAX_SDP_BYTES, candidate_port

log = logging.getLogger(__name__)

TRICKLE_ICE = "application/trickle-ice-sdpfrag"
MAX_FRAGMENT_CANDIDATES = 64  # a client has a handful per interface; more is abuse


@dataclass
class Fragment:
    ufrag: str | None = None
    pwd: str | None = None
    candidates: list[tuple[str | None, str]] = field(default_factory=list)  # (mid, a= value)
    end: bool = False


def parse_fragment(text: str) -> Fragment:
    """The parts of a trickle-ice-sdpfrag we use; BadRequest when it is malformed."""
    if len(text) > MAX_SDP_BYTES:
        raise BadRequest("trickle ICE fragment too large")
    fragment = Fragment()
    mid: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("a=ice-ufrag:"):
            fragment.ufrag = line.split(":", 1)[1]
        elif line.startswith("a=ice-pwd:"):
            fragment.pwd = line.split(":", 1)[1]
        elif line.startswith("a=mid:"):
            mid = line.split(":", 1)[1]
        elif line.startswith("m="):
            mid = None
        elif line.startswith("a=candidate:"):
            value = line[len("a=candidate:") :]
            fields = value.split()
            if len(fields) < 8 or fields[6] != "typ":
                raise BadRequest(f"malformed candidate: {line[:80]!r}")
            candidate_port(fields[5])
            fragment.candidates.append((mid, value))
        elif line == "a=end-of-candidates":
            fragment.end = True
    if len(fragment.candidates) > MAX_FRAGMENT_CANDIDATES:
        raise BadRequest(f"more than {MAX_FRAGMENT_CANDIDATES} candidates in one fragment")
    return fragment


def check_if_match(if_match: str | None, etag: str) -> None:
    """412 unless `If-Match` names `etag` (or `*`); a PATCH without one is let through."""
    if if_match is None:
        return
    tags = [t.strip().removeprefix("W/") for t in if_match.split(",")]
    if "*" not in tags and etag not in tags:
        raise PreconditionFailed("the ETag in If-Match is not this resource's current one")


def _remote_ufrag(pc: RTCPeerConnection) -> str | None:
    description = pc.remoteDescription
    if description is None:
        return None
    for line in description.sdp.splitlines():
        if line.startswith("a=ice-ufrag:"):
            return line.split(":", 1)[1].strip()
    return None


def _transport_mid(pc: RTCPeerConnection, mid: str | None) -> str | None:
    """The mid whose ICE transport carries `mid` (under BUNDLE: the first section's)."""
    transceivers = [t for t in pc.getTransceivers() if t.mid is not None]
    if not transceivers:
        return None
    target = next((t for t in transceivers if t.mid == mid), transceivers[0])
    owner = next(t for t in transceivers if t.receiver.transport is target.receiver.transport)
    return owner.mid


async def apply_fragment(pc: RTCPeerConnection, fragment: Fragment) -> int:
    """Add the fragment's candidates to `pc`; returns how many were added."""
    current = _remote_ufrag(pc)
    if fragment.ufrag is not None and current is not None and fragment.ufrag != current:
        raise MethodNotAllowed(
            "ICE restart is not supported: POST a new offer instead",
            allow="PATCH, DELETE, OPTIONS",
        )
    added = 0
    for mid, value in fragment.candidates:
        try:
            candidate: RTCIceCandidate = candidate_from_sdp(value)
        except (ValueError, AssertionError, IndexError) as exc:
            raise BadRequest(f"malformed candidate: {value[:80]!r}") from exc
        if candidate.protocol.lower() != "udp":
            continue  # aioice speaks ICE over UDP only
        candidate.sdpMid = _transport_mid(pc, mid)
        if candidate.sdpMid is None:
            break
        try:
            await pc.addIceCandidate(candidate)
        except ValueError as exc:  # e.g. an address aioice cannot parse
            raise BadRequest(f"unusable candidate: {value[:80]!r}") from exc
        added += 1
    if fragment.end:
        await pc.addIceCandidate(None)
    return added
