"""What a person checking a stream wants every few seconds, read from aiortc's stats:
for a publisher the bitrate sent, the round-trip time and loss the server reports; for a
viewer frames a second, bitrate, loss and jitter."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from aiortc import RTCPeerConnection


@dataclass
class PublisherSample:
    bytes_sent: int = 0
    rtt_s: float | None = None
    loss: float | None = None  # fraction the server lost, its last report
    last_report: datetime | None = None  # when the server's last receiver report came


async def publisher_sample(pc: RTCPeerConnection) -> PublisherSample:
    sample = PublisherSample()
    for transceiver in pc.getTransceivers():
        for stat in (await transceiver.sender.getStats()).values():
            if stat.type == "outbound-rtp":
                sample.bytes_sent += stat.bytesSent
            elif stat.type == "remote-inbound-rtp" and transceiver.kind == "video":
                sample.rtt_s = stat.roundTripTime
                sample.loss = stat.fractionLost / 256
                sample.last_report = stat.timestamp
    return sample


@dataclass
class ViewerSample:
    received: int = 0
    lost: int = 0
    jitter_ms: float | None = None


async def viewer_sample(pc: RTCPeerConnection) -> ViewerSample:
    sample = ViewerSample()
    for transceiver in pc.getTransceivers():
        for stat in (await transceiver.receiver.getStats()).values():
            if stat.type == "inbound-rtp":
                sample.received += stat.packetsReceived
                sample.lost += max(0, stat.packetsLost)
                if transceiver.kind == "video":
                    sample.jitter_ms = stat.jitter / 90  # RTP units of the 90 kHz clock
    return sample


@dataclass
class Rate:
    """Per-second rates of counters between two readings."""

    at: float = field(default_factory=time.monotonic)
    values: dict[str, float] = field(default_factory=dict)

    def step(self, **now: float) -> dict[str, float]:
        t = time.monotonic()
        dt = max(t - self.at, 1e-6)
        rates = {k: (v - self.values.get(k, 0.0)) / dt for k, v in now.items()}
        self.at, self.values = t, dict(now)
        return rates


def kbps(bytes_per_s: float) -> str:
    return f"{bytes_per_s * 8 / 1000:,.0f} kbit/s"
