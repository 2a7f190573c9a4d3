"""Media fixtures: a relay service on 127.0.0.1, the whole app on a real port, and VP8
packets encoded once per run."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterator

import av
import pytest

from podium_http import Podium, start_podium
from podium_server.config import Config
from podium_server.event.model import Event
from podium_server.media.peer import IceSettings
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy

from .peers import LOOPBACK, encode_vp8


class _Unretrieved(logging.Handler):
    """Keeps asyncio's reports of exceptions nobody awaited (a task or future's)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "exception was never retrieved" in message:
            exc = record.exc_info[1] if record.exc_info else None
            self.records.append(f"{message} {exc!r}")


@pytest.fixture(autouse=True)
def no_unretrieved_exceptions() -> Iterator[None]:
    """Fail a media test when any exception on the media path went unretrieved."""
    handler = _Unretrieved()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(handler)
    try:
        yield
        gc.collect()  # asyncio reports an unretrieved exception when its task is freed
    finally:
        asyncio_log.removeHandler(handler)
    assert not handler.records, handler.records


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


@pytest.fixture
async def podium(make_config: Callable[..., Config], small_event: Event) -> AsyncIterator[Podium]:
    """The whole app with the small event on 127.0.0.1:free port, for clients that need
    a real URL (another process, trickle PATCHes)."""
    p = await start_podium(make_config(), small_event)
    try:
        yield p
    finally:
        await p.server.close()
