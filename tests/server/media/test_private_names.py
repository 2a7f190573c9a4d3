"""Fails loudly if a private aiortc/aioice/pylibsrtp/asyncio name the relay relies on moves."""

from __future__ import annotations

import asyncio
import os

import aiortc
import pylibsrtp
from aioice.candidate import Candidate
from aioice.ice import CandidatePair, Connection, StunProtocol
from aiortc import RTCCertificate, RTCRtpReceiver, RTCRtpSender
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcicetransport import RTCIceGatherer, RTCIceTransport
from pylibsrtp._binding import lib as srtp_lib

from podium_server.media.aiortc_private import PRIVATE_NAMES


async def test_aiortc_version_is_the_one_we_read() -> None:
    assert aiortc.__version__.startswith("1.16."), (
        "aiortc changed: re-read media/aiortc_private.py against it and update the pin"
    )


async def test_every_private_name_still_exists() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    transport, protocol = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: StunProtocol(gatherer._connection), local_addr=("127.0.0.1", 0)
    )
    remote = Candidate("x", 1, "udp", 1, "127.0.0.1", 9, "host")
    dtls = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    objects = {
        "RTCRtpReceiver": RTCRtpReceiver,
        "RTCRtpReceiver()": RTCRtpReceiver("video", dtls),
        "RTCRtpSender": RTCRtpSender,
        "RTCRtpSender()": RTCRtpSender("video", dtls),
        "RTCDtlsTransport": RTCDtlsTransport,
        "RTCDtlsTransport()": dtls,
        "RTCIceGatherer()": gatherer,
        "Connection": Connection,
        "Connection()": gatherer._connection,
        "CandidatePair": CandidatePair,
        "CandidatePair()": CandidatePair(protocol, remote),
        "StunProtocol(connected)": protocol,
        "DatagramTransport()": transport,
        "pylibsrtp.Session()": pylibsrtp.Session(
            pylibsrtp.Policy(key=os.urandom(30), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        ),
        "pylibsrtp._binding.lib": srtp_lib,
    }
    missing = [
        f"{owner}.{name}" for owner, name in PRIVATE_NAMES if not hasattr(objects[owner], name)
    ]
    transport.close()
    assert not missing, f"aiortc internals moved: {missing}"
