"""SDP checks and codec choices for WHIP/WHEP (aiortc does the offer/answer itself)."""

from __future__ import annotations

import logging

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from ..errors import BadRequest

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
# What the pass-through relay carries: VP8 or H.264 video, Opus audio (never transcoded).
RELAY_MIME_TYPES = {"video": ("video/vp8", "video/h264"), "audio": ("audio/opus",)}


def offered_kinds(sdp: str) -> list[str]:
    """The media kinds of an offer, in m-line order, after sanity checks (else BadRequest)."""
    if len(sdp) > MAX_SDP_BYTES:
        raise BadRequest("SDP offer too large")
    if not sdp.startswith("v=0"):
        raise BadRequest("not an SDP offer: it must start with v=0")
    kinds: list[str] = []
    session_fingerprint = False
    sections: list[tuple[str, int, bool]] = []  # (kind, port, has a=fingerprint)
    for line in sdp.splitlines():
        if line.startswith("m="):
            fields = line[2:].split()
            if len(fields) < 4:
                raise BadRequest(f"malformed m-line: {line[:80]!r}")
            port = _port(fields[1].split("/", 1)[0], "m-line")
            sections.append((fields[0], port, False))
            if fields[0] in ("audio", "video"):
                kinds.append(fields[0])
        elif line.startswith("a=fingerprint:"):
            if sections:
                kind, port, _ = sections[-1]
                sections[-1] = (kind, port, True)
            else:
                session_fingerprint = True
        elif line.startswith("a=candidate:"):
            fields = line.split()
            if len(fields) < 8:
                raise BadRequest(f"malformed candidate: {line[:80]!r}")
            candidate_port(fields[5])
    if not kinds:
        raise BadRequest("the SDP offer has no audio or video m-line")
    # DTLS-SRTP needs the peer's certificate fingerprint for every section in use (a
    # bundled section with port 0 shares its transport with the first one).
    for kind, port, fingerprint in sections:
        if port and not (fingerprint or session_fingerprint):
            raise BadRequest(f"the SDP offer has no a=fingerprint for its {kind} section")
    if not session_fingerprint and not any(f for _, _, f in sections):
        raise BadRequest("the SDP offer has no a=fingerprint")
    return kinds


def candidate_port(text: str) -> int:
    return _port(text, "candidate")


def _port(text: str, where: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise BadRequest(f"the SDP offer has an out-of-range {where} port {text[:12]!r}")
    return int(text)


def relay_codecs(kind: str, prefer: str | None = None) -> list[RTCRtpCodecCapability]:
    """Capabilities to negotiate for `kind`: relayable codecs (+ RTX), `prefer` first."""
    allowed = RELAY_MIME_TYPES[kind]
    codecs = [
        c
        for c in RTCRtpSender.getCapabilities(kind).codecs
        if c.mimeType.lower() in allowed or c.mimeType.lower() == f"{kind}/rtx"
    ]
    if prefer is not None:
        codecs.sort(key=lambda c: 0 if c.mimeType.lower() == prefer.lower() else 1)
    return codecs


def offered_setup(sdp: str) -> set[str]:
    """The a=setup values in an SDP (actpass, active, passive)."""
    return {
        line.split(":", 1)[1].strip() for line in sdp.splitlines() if line.startswith("a=setup:")
    }
