"""Building the server's RTCPeerConnection from a WHIP/WHEP offer (shared by both)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.exceptions import InternalError, InvalidAccessError, OperationError

from ..errors import BadRequest, NotAcceptable
from . import aiortc_private
from .ice import offer_addresses, rtc_configuration
from .sdp import offered_kinds, offered_setup, relay_codecs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IceSettings:
    servers: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()


async def peer_from_offer(
    offer: str,
    *,
    direction: str,
    ice: IceSettings,
    prefer: dict[str, str] | None = None,
) -> tuple[RTCPeerConnection, list[RTCRtpTransceiver]]:
    """A peer connection with one transceiver per offered kind (first of each), the remote
    offer applied, and the DTLS server role taken; answer not made yet.

    Codecs are restricted to what the relay forwards; an offer with none of them is 406
    (WHIP/WHEP clients then retry differently), a malformed one 400.
    """
    kinds = offered_kinds(offer)
    pc = RTCPeerConnection(rtc_configuration(ice.servers))
    try:
        ours: list[RTCRtpTransceiver] = []
        for kind in dict.fromkeys(kinds):
            t = pc.addTransceiver(kind, direction=direction)
            t.setCodecPreferences(relay_codecs(kind, (prefer or {}).get(kind)))
            ours.append(t)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except OperationError as exc:
            raise NotAcceptable(
                f"no codec in common: the relay carries VP8, H.264, Opus ({exc})"
            ) from exc
        except (ValueError, KeyError, IndexError, InternalError, InvalidAccessError) as exc:
            raise BadRequest(f"malformed SDP offer: {exc}") from exc
        except Exception as exc:
            # aiortc's parser also fails by assertion on some inputs: still the offer's
            # fault, so a 400 with no internals in it, never a 500.
            log.info("SDP offer refused by the parser: %r", exc)
            raise BadRequest("malformed SDP offer") from exc
        offer_addresses(pc, ice.addresses)
        if "passive" not in offered_setup(offer):
            aiortc_private.answer_as_dtls_server(pc)
        used = [t for t in ours if t.mid is not None]
        if not used:
            raise BadRequest("the SDP offer matched no audio or video transceiver")
        return pc, used
    except BaseException:
        await pc.close()
        raise


ANSWER_TIMEOUT = 10.0  # gathering host candidates takes milliseconds; STUN/TURN longer


async def make_answer(pc: RTCPeerConnection) -> str:
    """Create and apply the answer; aiortc gathers all candidates first (no trickle)."""
    async with asyncio.timeout(ANSWER_TIMEOUT):
        answer = await pc.createAnswer()
        await pc.setLocalDescription(answer)
    return pc.localDescription.sdp
