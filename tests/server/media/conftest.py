"""Media fixtures: a relay service on 127.0.0.1 and VP8 packets encoded once per run."""

from __future__ import annotations

from collections.abc import AsyncIterator

import av
import pytest

from podium_server.media.peer import IceSettings
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy

from .peers import LOOPBACK, encode_vp8


@pytest.fixture(scope="session")
def vp8_packets() -> list[av.Packet]:
    return encode_vp8(60)


@pytest.fixture
def relay_policy() -> RelayPolicy:
    return RelayPolicy(viewer_timeout=3.0, stall_timeout=2.0, rr_timeout=3.0, report_every=1.0)


@pytest.fixture
async def media(relay_policy: RelayPolicy) -> AsyncIterator[MediaService]:
    service = MediaService(
        ice=IceSettings(addresses=LOOPBACK), policy=relay_policy, tick_interval=0.25
    )
    await service.start()
    yield service
    await service.close()
