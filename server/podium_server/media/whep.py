"""WHEP playback: one viewer's peer connection fed by a session's sources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiortc import RTCPeerConnection
from aiortc.codecs import is_rtx
from aiortc.rtcrtpparameters import RTCRtpSendParameters

from . import aiortc_private
from .outbox import DropCounter, Outbox
from .peer import IceSettings, make_answer, peer_from_offer
from .relay import ViewerTrack, codec_key
from .session import SessionRelay, Viewer

log = logging.getLogger(__name__)


class ViewerPeer:
    """Owns one WHEP viewer's peer connection, its place among the session's viewers
    and its tasks."""

    def __init__(self, resource_id: str, session: SessionRelay, pc: RTCPeerConnection) -> None:
        self.id = resource_id
        self.session = session
        self.pc = pc
        self.etag = f'"{resource_id}"'  # names this ICE session (trickle PATCH If-Match)
        self.viewer: Viewer | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        await self.pc.close()
        for task in list(self.tasks):
            task.cancel()


async def open_viewer(
    resource_id: str,
    session: SessionRelay,
    offer: str,
    *,
    participant_id: str | None,
    ice: IceSettings,
    on_gone: Callable[[ViewerPeer], None],
    on_drop: DropCounter | None = None,
    outbox_packets: int = 256,
) -> tuple[ViewerPeer, str]:
    """Answer a WHEP offer; the viewer's tracks attach when DTLS is up."""
    prefer = {k: s.codec.mime_type for k, s in session.sources.items() if s.codec is not None}
    pc, transceivers = await peer_from_offer(offer, direction="sendonly", ice=ice, prefer=prefer)
    peer = ViewerPeer(resource_id, session, pc)
    dtls = transceivers[0].sender.transport
    sink = aiortc_private.DtlsSink(dtls)

    async def send_rtcp(data: bytes) -> None:
        await sink.send_rtcp(data)

    viewer = Viewer(
        resource_id,
        session,
        participant_id=participant_id,
        send_rtcp=send_rtcp,
        is_connected=lambda: sink.connected,
        now=session.clock(),
    )
    peer.viewer = viewer
    try:
        for t in transceivers:
            _install_sender(t.kind, t.sender, viewer, session, outbox_packets, on_drop)
        answer = await make_answer(pc)
    except BaseException:
        await peer.close()
        raise

    @pc.on("connectionstatechange")
    def on_state() -> None:
        log.info("viewer %s of %s: %s", resource_id, session.session_id, pc.connectionState)
        if pc.connectionState in ("failed", "closed"):
            on_gone(peer)

    session.add_viewer(viewer)
    return peer, answer


def _install_sender(
    kind: str,
    sender: object,
    viewer: Viewer,
    session: SessionRelay,
    outbox_packets: int,
    on_drop: DropCounter | None,
) -> None:
    from aiortc import RTCRtpSender

    assert isinstance(sender, RTCRtpSender)

    def on_start(parameters: RTCRtpSendParameters) -> None:
        pt_map: dict[str, int] = {}
        for codec in parameters.codecs:
            if codec.payloadType is not None and not is_rtx(codec):
                pt_map.setdefault(
                    codec_key(codec.mimeType, dict(codec.parameters)), codec.payloadType
                )
        # The transport may have been re-bound by BUNDLE since the offer: take it now.
        outbox = Outbox(
            aiortc_private.DtlsSink(sender.transport),
            max_packets=outbox_packets,
            max_size=aiortc_private.MAX_RTP_PACKET,
            on_drop=on_drop,
        )
        track = ViewerTrack(kind, tap.ssrc, pt_map, outbox)
        if not viewer.closed:
            viewer.add_track(track)

    def on_stop() -> None:
        track = viewer.tracks.get(kind)
        if track is not None:
            session.sources[kind].detach(track)
            track.outbox.close()

    tap = aiortc_private.SenderTap(sender, on_start, viewer.handle_rtcp, on_stop)
    tap.install()
