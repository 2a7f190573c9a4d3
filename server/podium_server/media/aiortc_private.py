"""Every use of aiortc/aioice private names, in one module (aiortc pinned >=1.16,<1.17).

The relay needs four things aiortc does not expose:
- ingest: the publisher's `RTCRtpReceiver._handle_rtp_packet` is replaced by a tap that
  keeps aiortc's statistics (for receiver reports), RTX unwrap, REMB and NACK generation
  and skips depayload, jitter buffer and decoder, handing each packet to the relay;
- egress: each viewer's `RTCRtpSender` is kept from running its encoder loop
  (`send`/`stop` replaced) and its RTCP (`_handle_rtcp_packet`) goes to the relay; packets
  are SRTP-protected with the viewer's `RTCDtlsTransport._tx_srtp` and written straight to
  the nominated UDP pair, or through `_send_rtp` when that could block (TURN). The
  fan-out's fast path (`DirectWire`) goes one level further down: libsrtp's
  `srtp_protect` through pylibsrtp's cffi binding, in place in one scratch buffer, and
  `sendto` on the pair's raw socket (asyncio's transport `_sock`), so no `bytes` object
  is built per viewer;
- ICE: the aioice `Connection` under an `RTCIceGatherer`, to offer chosen host addresses;
- DTLS role: answer WHIP/WHEP offers as the DTLS server (`a=setup:passive`).
`PRIVATE_NAMES` lists them; tests/server/media/test_private_names.py fails if one moves.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import Any

from aioice.ice import Connection, StunProtocol
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import is_rtx
from aiortc.rtcdtlstransport import RTCDtlsTransport, State
from aiortc.rtcicetransport import RTCIceGatherer
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import (
    RTCP_PSFB_APP,
    AnyRtcpPacket,
    RtcpPsfbPacket,
    RtpPacket,
    is_rtcp,
    pack_remb_fci,
    unwrap_rtx,
)
from pylibsrtp import Session as SrtpSession
from pylibsrtp._binding import ffi as _srtp_ffi
from pylibsrtp._binding import lib as _srtp_lib

log = logging.getLogger(__name__)

# (owner, attribute): what this module touches. Instance attributes are checked on
# freshly built objects by the test; methods on the classes.
PRIVATE_NAMES: tuple[tuple[str, str], ...] = (
    ("RTCRtpReceiver", "_handle_rtp_packet"),
    ("RTCRtpReceiver", "_send_rtcp"),
    ("RTCRtpReceiver", "_send_rtcp_nack"),
    ("RTCRtpReceiver", "_send_rtcp_pli"),
    ("RTCRtpReceiver", "_RTCRtpReceiver__stop_decoder"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__codecs"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__remote_streams"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__rtx_ssrc"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__nack_generator"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__remote_bitrate_estimator"),
    ("RTCRtpReceiver()", "_RTCRtpReceiver__rtcp_ssrc"),
    ("RTCRtpSender", "_handle_rtcp_packet"),
    ("RTCRtpSender()", "_ssrc"),
    ("RTCDtlsTransport", "_send_rtp"),
    ("RTCDtlsTransport", "_register_rtp_sender"),
    ("RTCDtlsTransport", "_unregister_rtp_sender"),
    ("RTCDtlsTransport", "_set_role"),
    ("RTCDtlsTransport()", "_role"),
    ("RTCDtlsTransport()", "_state"),
    ("RTCDtlsTransport()", "_tx_srtp"),
    ("RTCIceGatherer()", "_connection"),
    ("Connection()", "_nominated"),
    ("Connection", "get_component_candidates"),
    ("CandidatePair()", "protocol"),
    ("CandidatePair", "remote_addr"),
    ("StunProtocol(connected)", "transport"),
    ("DatagramTransport()", "_sock"),
    ("pylibsrtp.Session()", "_srtp"),
    ("pylibsrtp._binding.lib", "srtp_protect"),
)

_R = "_RTCRtpReceiver__"


# --- ICE -------------------------------------------------------------------------------


def ice_connections(pc: RTCPeerConnection) -> list[Connection]:
    """The aioice connections of every transport of `pc` created so far."""
    gatherers: list[RTCIceGatherer] = []
    for t in pc.getTransceivers():
        gatherers.append(t.receiver.transport.transport.iceGatherer)
    if pc.sctp is not None:
        gatherers.append(pc.sctp.transport.transport.iceGatherer)
    seen: dict[int, Connection] = {}
    for g in gatherers:
        conn = g._connection
        seen[id(conn)] = conn
    return list(seen.values())


def offer_host_addresses(conn: Connection, chosen: tuple[str, ...]) -> None:
    """Make `conn` gather host candidates on exactly `chosen` (loopback allowed).

    aioice's `gather_candidates` asks `self.get_component_candidates(component=...,
    addresses=...)` with the interface list minus loopback; an instance attribute swaps in
    our addresses. STUN/TURN candidates, if configured, are still gathered on top.
    """
    if getattr(conn, "_podium_addresses", None) == chosen:
        return
    original = conn.get_component_candidates

    async def get_component_candidates(
        component: int,
        addresses: list[str],
        timeout: int = 5,  # noqa: ASYNC109 - aioice's own signature
    ) -> list[Any]:
        return await original(component=component, addresses=list(chosen), timeout=timeout)

    conn.get_component_candidates = get_component_candidates  # type: ignore[method-assign]
    conn._podium_addresses = chosen  # type: ignore[attr-defined]


# --- DTLS role ---------------------------------------------------------------------------


def answer_as_dtls_server(pc: RTCPeerConnection) -> None:
    """After setRemoteDescription of an `actpass` offer: take the DTLS server role.

    aiortc answers `actpass` with `setup:active`; GStreamer's WHIP client fails that
    handshake, so we answer `setup:passive`. (An offer saying `setup:passive` must not come
    here: the caller checks, we would be the client then.)
    """
    for t in pc.getTransceivers():
        dtls = t.receiver.transport
        if dtls._role == "auto" and dtls.state == "new":
            dtls._set_role("server")


# --- Ingest ------------------------------------------------------------------------------

PacketHandler = Callable[[RtpPacket, RTCRtpCodecParameters], None]


class ReceiverTap:
    """Feeds a publisher's RTP to the relay instead of aiortc's depayloader and decoder."""

    def __init__(self, receiver: RTCRtpReceiver, on_packet: PacketHandler) -> None:
        self._receiver = receiver
        self._on_packet = on_packet
        self.codecs: dict[int, RTCRtpCodecParameters] = {}
        self.kind = ""

    def install(self) -> None:
        r = self._receiver
        original_receive = r.receive

        async def receive(parameters: RTCRtpReceiveParameters) -> None:
            await original_receive(parameters)
            self.codecs = {c.payloadType: c for c in parameters.codecs if c.payloadType is not None}
            # The decoder thread is idle until a frame is queued; we never queue one, and
            # stopping it also ends the receiver's RemoteStreamTrack.
            getattr(r, _R + "stop_decoder")()

        r.receive = receive  # type: ignore[method-assign]
        r._handle_rtp_packet = self._handle_rtp_packet  # type: ignore[method-assign]

    async def _handle_rtp_packet(self, packet: RtpPacket, arrival_time_ms: int) -> None:
        # Mirrors RTCRtpReceiver._handle_rtp_packet up to (not including) depayload.
        r = self._receiver
        if not r._enabled:
            return
        estimator = getattr(r, _R + "remote_bitrate_estimator")
        rtcp_ssrc = getattr(r, _R + "rtcp_ssrc")
        if estimator is not None and packet.extensions.abs_send_time is not None:
            remb = estimator.add(
                abs_send_time=packet.extensions.abs_send_time,
                arrival_time_ms=arrival_time_ms,
                payload_size=len(packet.payload) + packet.padding_size,
                ssrc=packet.ssrc,
            )
            if rtcp_ssrc is not None and remb is not None:
                await r._send_rtcp(
                    RtcpPsfbPacket(
                        fmt=RTCP_PSFB_APP, ssrc=rtcp_ssrc, media_ssrc=0, fci=pack_remb_fci(*remb)
                    )
                )
        codecs: dict[int, RTCRtpCodecParameters] = getattr(r, _R + "codecs")
        codec = codecs.get(packet.payload_type)
        if codec is None:
            return
        streams: dict[int, StreamStatistics] = getattr(r, _R + "remote_streams")
        stats = streams.get(packet.ssrc)
        if stats is None:
            stats = streams[packet.ssrc] = StreamStatistics(codec.clockRate)
        stats.add(packet)
        if is_rtx(codec):
            original_ssrc = getattr(r, _R + "rtx_ssrc").get(packet.ssrc)
            apt = codec.parameters.get("apt")
            if original_ssrc is None or len(packet.payload) < 2 or apt not in codecs:
                return
            packet = unwrap_rtx(packet, payload_type=apt, ssrc=original_ssrc)
            codec = codecs[apt]
        nack = getattr(r, _R + "nack_generator")
        if nack is not None and nack.add(packet):
            await r._send_rtcp_nack(packet.ssrc, sorted(nack.missing))
        if packet.payload:  # padding-only packets are bandwidth probes: nothing to relay
            try:
                self._on_packet(packet, codec)
            except Exception:
                # Raising here would end aiortc's receive loop for the whole transport.
                log.exception("relay failed on a %s packet", codec.mimeType)

    async def request_keyframe(self, media_ssrc: int) -> None:
        await self._receiver._send_rtcp_pli(media_ssrc)


# --- Egress ------------------------------------------------------------------------------


class SenderTap:
    """Turns a viewer's RTCRtpSender into a relay output: no track, no encoder loop."""

    def __init__(
        self,
        sender: RTCRtpSender,
        on_start: Callable[[RTCRtpSendParameters], None],
        on_rtcp: Callable[[AnyRtcpPacket], Awaitable[None]],
        on_stop: Callable[[], None],
    ) -> None:
        self._sender = sender
        self._on_start = on_start
        self._on_rtcp = on_rtcp
        self._on_stop = on_stop
        self._started = False

    @property
    def ssrc(self) -> int:
        return int(self._sender._ssrc)

    def install(self) -> None:
        s = self._sender

        async def send(parameters: RTCRtpSendParameters) -> None:
            if self._started:
                return
            self._started = True
            # Route this SSRC's RTCP (receiver reports, NACK, PLI/FIR) to us.
            s.transport._register_rtp_sender(s, parameters)
            try:
                self._on_start(parameters)
            except Exception:
                # aiortc runs this inside its connect task, which nobody awaits: an error
                # escaping here would be an unretrieved task exception and a dead viewer.
                log.exception("viewer track failed to start")

        async def stop() -> None:
            if self._started:
                self._started = False
                s.transport._unregister_rtp_sender(s)
            self._on_stop()

        s.send = send  # type: ignore[method-assign]
        s.stop = stop  # type: ignore[method-assign]
        s._handle_rtcp_packet = self._on_rtcp  # type: ignore[method-assign,assignment]


# The fan-out's scratch buffer. The fan-out runs synchronously on the event loop's thread,
# so one buffer serves every viewer in turn: header at 0..12, payload behind it,
# `srtp_protect` encrypts in place and appends its tag, and `sendto` reads a memoryview
# slice of it. pylibsrtp's `Session.protect` does the same work but builds two `bytes`
# objects and a cffi `int *` per call (6.5 us against 4 us per 1200-byte packet here).
#
# The same buffer serves the slow path (`protect_rtp`): pylibsrtp's own buffer is 1500
# bytes and it reserves 144 of them for a trailer (tag + MKI), so it refuses any packet
# over 1356 bytes -- a 1400-byte H.264 packet from GStreamer's default payloader, say.
# WebRTC uses no MKI, so the real trailer is at most SRTP_MAX_TAG_LEN: a packet up to
# MAX_RTP_PACKET still fits a 1500-byte MTU once protected. Longer ones are dropped.
SRTP_MAX_TAG_LEN = 16
MTU = 1500
MAX_RTP_PACKET = MTU - SRTP_MAX_TAG_LEN  # RTP header + payload, before protection
MAX_DIRECT_PACKET = MAX_RTP_PACKET
SRTP_TRAILER_ROOM = 16 + 128  # SRTP_MAX_TAG_LEN + SRTP_MAX_MKI_LEN, as pylibsrtp reserves
SCRATCH: Any = _srtp_ffi.new("char[]", MAX_RTP_PACKET + SRTP_TRAILER_ROOM)
SCRATCH_VIEW = memoryview(_srtp_ffi.buffer(SCRATCH))
SCRATCH_LEN: Any = _srtp_ffi.new("int *")  # in: plain length, out: protected length
srtp_protect: Callable[[Any, Any, Any], int] = _srtp_lib.srtp_protect


class Unsendable(Exception):
    """This one packet cannot be sent to this viewer (too long, or refused by libsrtp)."""


def protect_rtp(session: SrtpSession, data: bytes) -> bytes:
    """SRTP-protect one RTP packet of up to MAX_RTP_PACKET bytes (a copy is returned)."""
    size = len(data)
    if size > MAX_RTP_PACKET:
        raise Unsendable(f"RTP packet of {size} bytes exceeds {MAX_RTP_PACKET}")
    SCRATCH_VIEW[:size] = data
    SCRATCH_LEN[0] = size
    if srtp_protect(session._srtp[0], SCRATCH, SCRATCH_LEN):
        raise Unsendable("libsrtp refused to protect the packet")
    return bytes(SCRATCH_VIEW[: SCRATCH_LEN[0]])


class DirectWire:
    """One viewer's nominated plain-UDP path and SRTP context, for the fast fan-out.

    `live` turns False when the viewer's DTLS transport leaves the connected state; the
    fan-out checks it before every write and falls back to the outbox (which then fails).
    """

    __slots__ = ("ctx", "sendto", "addr", "live", "_session")

    def __init__(self, session: SrtpSession, sock: socket.socket, addr: tuple[str, int]):
        self._session = session  # owns (and frees) the srtp_t that `ctx` points to
        self.ctx: Any = session._srtp[0]
        self.sendto = sock.sendto
        self.addr = addr
        self.live = True


class DtlsSink:
    """One viewer's wire: SRTP-protect and send, synchronously when UDP allows it."""

    __slots__ = ("_dtls", "_conn", "_pair", "_direct", "_wire")

    def __init__(self, dtls: RTCDtlsTransport) -> None:
        self._dtls = dtls
        self._conn: Connection = dtls.transport.iceGatherer._connection
        self._pair: object = None
        # (SRTP session, transport, remote address) of the nominated UDP pair, looked up once.
        self._direct: tuple[SrtpSession, Any, tuple[str, int]] | None = None
        self._wire: DirectWire | None = None
        dtls.on("statechange", self._on_dtls_state)

    def _on_dtls_state(self) -> None:
        if self._dtls._state is not State.CONNECTED and self._wire is not None:
            self._wire.live = False
            self._wire = None

    def _refresh(self) -> None:
        pair = self._conn._nominated.get(1)
        if pair is not self._pair:
            self._pair = pair
            if self._wire is not None:
                self._wire.live = False
                self._wire = None
            # Only a plain UDP host/srflx pair is written directly; TURN wraps the data.
            if pair is None or type(pair.protocol) is not StunProtocol:
                self._direct = None
            else:
                self._direct = (
                    self._dtls._tx_srtp,
                    pair.protocol.transport,
                    pair.remote_addr,
                )

    def direct(self) -> DirectWire | None:
        """The fast path when it is usable now: connected, plain UDP, nothing buffered."""
        if self._dtls._state is not State.CONNECTED:
            return None
        self._refresh()
        direct = self._direct
        if direct is None:
            return None
        transport = direct[1]
        if transport.get_write_buffer_size():
            return None  # asyncio still holds older datagrams: writing past them reorders
        if self._wire is None:
            sock = getattr(transport, "_sock", None)
            if not isinstance(sock, socket.socket):
                return None
            self._wire = DirectWire(self._dtls._tx_srtp, sock, direct[2])
        return self._wire

    def try_send(self, data: bytes) -> bool:
        if self._dtls._state is not State.CONNECTED:
            raise ConnectionError("viewer transport is not connected")
        self._refresh()
        direct = self._direct
        if direct is None:
            return False
        _, transport, addr = direct
        if transport.get_write_buffer_size():
            return False
        transport.sendto(protect_rtp(self._dtls._tx_srtp, data), addr)
        return True

    async def send(self, data: bytes) -> None:
        # Not `_send_rtp`: pylibsrtp's protect refuses packets over 1356 bytes.
        if self._dtls._state is not State.CONNECTED:
            raise ConnectionError("viewer transport is not connected")
        await self._conn.send(protect_rtp(self._dtls._tx_srtp, data))

    def backlog(self) -> int:
        pair = self._conn._nominated.get(1)
        if pair is None or type(pair.protocol) is not StunProtocol:
            return 0
        transport: Any = pair.protocol.transport
        return 0 if transport is None else int(transport.get_write_buffer_size())

    async def send_rtcp(self, data: bytes) -> None:
        assert is_rtcp(data)
        try:
            await self._dtls._send_rtp(data)
        except ConnectionError:
            pass

    @property
    def connected(self) -> bool:
        return self._dtls._state is State.CONNECTED


def spawn(coro: Awaitable[None], tasks: set[asyncio.Task[None]]) -> None:
    """Run a small RTCP send in the background, keeping a reference until it ends."""

    async def run() -> None:
        try:
            await coro
        except ConnectionError:
            pass
        except Exception:  # never left for asyncio to report as "never retrieved"
            log.exception("background RTCP send failed")

    task = asyncio.get_running_loop().create_task(run())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
