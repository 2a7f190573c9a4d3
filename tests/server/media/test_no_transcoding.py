"""The server process never decodes or encodes relayed media: a real server process with
every aiortc codec entry point spied on, a WHIP publisher and two WHEP viewers over HTTP."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import av
import pytest

from loopback import free_port
from podium_http import sdp_exchange
from tokens import file_signer, sign

from .peers import publish, watch

pytestmark = pytest.mark.media


async def test_relay_path_calls_no_decoder_or_encoder(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    port = free_port()
    tokens = file_signer(tmp_path / "secret.key")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name("spy_server.py")),
        str(port),
        str(tmp_path),
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    pub = viewers = None
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(100):
                try:
                    async with http.get(f"{base}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)

            speaker = sign(tokens, "speaker", session="s1")
            pub = await publish(sdp_exchange(f"{base}/whip/s1", speaker), vp8_packets)
            viewers = [
                await watch(sdp_exchange(f"{base}/whep/s1", sign(tokens, "trainee", participant=p)))
                for p in ("p001", "p002")
            ]
            ok = await asyncio.gather(*(v.wait_frames(30, within=10) for v in viewers))
            assert all(ok), "viewers decoded no frames: the relay did not run"
            assert all(v.audio_frames for v in viewers)
    finally:
        for v in viewers or []:
            await v.close()
        if pub is not None:
            await pub.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(15):
            await proc.wait()
    report = json.loads((tmp_path / "calls.json").read_text())
    assert report["control"] == {"aiortc.rtcrtpreceiver.get_decoder": 1}, "spies not working"
    assert report["calls"] == {}, f"the server decoded or encoded: {report['calls']}"
