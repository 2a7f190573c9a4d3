"""SDP checks and codec choices for WHIP/WHEP (aiortc does the offer/answer itself)."""

from __future__ import annotations

import logging

from aiortc import RTCRtpSender
from aiortc.rtcrtpparameters import RTCRtpCodecCapability

from ..errors import BadRequest

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
# What the pass-through relay carries (DESIGN): VP8 or H.264 video, Opus audio.
RELAY_MIME_TYPES = {"video": ("video/vp8", "video/h264"), "audio": ("audio/opus",)}


def offered_kinds(sdp: str) -> list[str]:
    """The media kinds of an offer, in m-line order, after sanity checks (else BadRequest)."""
    if len(sdp) > MAX_SDP_BYTES:
        raise BadRequest("SDP offer too large")
    if not sdp.startswith("v=0"):
        raise BadRequest("not an SDP offer: it must start with v=0")
    kinds: list[str] = []
    for line in sdp.splitlines():
        if line.startswith("m="):
            kind = line[2:].split(" ", 1)[0]
            if kind in ("audio", "video"):
                kinds.append(kind)
    if not kinds:
        raise BadRequest("the SDP offer has no audio or video m-line")
    return kinds


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
