"""A Podium server process with every aiortc codec entry point spied on (for
test_no_transcoding.py): `python spy_server.py PORT WORKDIR`. On shutdown (SIGTERM) it
writes the call counts to WORKDIR/calls.json."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiortc.codecs
import aiortc.codecs.h264
import aiortc.codecs.opus
import aiortc.codecs.vpx
import aiortc.rtcrtpreceiver
import aiortc.rtcrtpsender
from aiohttp import web

from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event, Session

CALLS: Counter[str] = Counter()


def spy(owner: Any, name: str, label: str) -> None:
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        CALLS[label] += 1
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def install() -> list[str]:
    labels = []
    for module in (aiortc.codecs, aiortc.rtcrtpreceiver, aiortc.rtcrtpsender):
        for name in ("get_decoder", "get_encoder", "depayload"):
            if hasattr(module, name):
                label = f"{module.__name__}.{name}"
                spy(module, name, label)
                labels.append(label)
    for cls, method in (
        (aiortc.codecs.vpx.Vp8Decoder, "decode"),
        (aiortc.codecs.vpx.Vp8Encoder, "encode"),
        (aiortc.codecs.vpx.Vp8Encoder, "pack"),
        (aiortc.codecs.h264.H264Decoder, "decode"),
        (aiortc.codecs.h264.H264Encoder, "encode"),
        (aiortc.codecs.opus.OpusDecoder, "decode"),
        (aiortc.codecs.opus.OpusEncoder, "encode"),
    ):
        label = f"{cls.__name__}.{method}"
        spy(cls, method, label)
        labels.append(label)
    return labels


def main() -> None:
    port, workdir = int(sys.argv[1]), Path(sys.argv[2])
    labels = install()
    # Positive control: the spies see a call made the way aiortc's receiver makes it.
    aiortc.rtcrtpreceiver.get_decoder(
        aiortc.codecs.get_capabilities("video").codecs[0]  # type: ignore[arg-type]
    )
    control = dict(CALLS)
    CALLS.clear()
    now = datetime.now(UTC)
    event = Event(
        id="spy",
        title="Spy",
        timezone="UTC",
        sessions=(
            Session(
                id="s1",
                title="Live",
                start=now - timedelta(minutes=5),
                end=now + timedelta(hours=1),
                stream=True,
            ),
        ),
    )
    config = Config(
        store=f"sqlite:///{workdir}/spy.db",
        secret_file=workdir / "secret.key",
        ice_addresses=("127.0.0.1",),
        demo_stream=False,
        port=port,
    )
    app = create_app(config, event=event)

    async def report(app: web.Application) -> None:
        (workdir / "calls.json").write_text(
            json.dumps(
                {"labels": labels, "control": control, "calls": dict(CALLS), "at": time.time()}
            )
        )

    app.on_cleanup.append(report)
    web.run_app(app, host="127.0.0.1", port=port, print=None)


if __name__ == "__main__":
    main()
