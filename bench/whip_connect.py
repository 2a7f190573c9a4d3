"""WHIP connect time: a GStreamer publisher that trickles its candidates against one that
sends them all in its offer, side by side in one run.

    .venv/bin/python bench/whip_connect.py [--runs 8]

A real Podium app on 127.0.0.1 (a temporary SQLite store); each run starts the GStreamer
webrtcbin publisher of the test suite (tests/server/media/gst_whip_publish.py, under the
system python3 with python3-gi) for H.264 640x480, alternating the two modes. The time
is from the publisher's offer being made to its ICE agent reporting connected, as read
from its output lines. Without trickle the offer waits for gathering to end; with it the
offer goes out at once and the candidates follow by PATCH. Measured (8 runs per mode,
2 cores shared with other work, load ~6): in the offer p50 286 ms / p95 357 ms, trickled
p50 80 ms / p95 452 ms (ratio of p50s 0.28x).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp import web

from podium_server import appkeys as keys
from podium_server.app import create_app
from podium_server.config import Config
from podium_server.event.model import Event, Session

ROOT = Path(__file__).resolve().parent.parent
PUBLISHER = ROOT / "tests" / "server" / "media" / "gst_whip_publish.py"


def one_session_event() -> Event:
    now = datetime.now(UTC).replace(microsecond=0)
    session = Session(
        id="s1",
        title="Bench",
        start=now - timedelta(minutes=5),
        end=now + timedelta(hours=1),
        stream=True,
    )
    return Event(id="bench", title="Bench", timezone="UTC", sessions=(session,))


async def connect_time(url: str, token: str, trickle: bool) -> float | None:
    args = [str(PUBLISHER), f"{url}/whip/s1", token, "--codec", "h264", "--seconds", "2"]
    proc = await asyncio.create_subprocess_exec(
        "/usr/bin/python3",
        *args,
        *(["--trickle"] if trickle else []),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    offered = connected = None
    async for raw in proc.stdout:
        line = raw.decode(errors="replace").strip()
        if line.startswith("offer made") and offered is None:
            offered = time.monotonic()
        if line in ("ice connected", "ice completed") and connected is None:
            connected = time.monotonic()
    await proc.wait()
    if offered is None or connected is None:
        return None
    return connected - offered


async def run(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Config(
            store=f"sqlite:///{tmp}/bench.db",
            secret_file=Path(tmp) / "secret.key",
            ice_addresses=("127.0.0.1",),
            demo_stream=False,
        )
        app = create_app(config, event=one_session_event())
        runner = web.AppRunner(app)
        await runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        await web.TCPSite(runner, "127.0.0.1", port).start()
        url = f"http://127.0.0.1:{port}"
        token = app[keys.TOKENS].issue("speaker", now=time.time(), session="s1")
        times: dict[bool, list[float]] = {False: [], True: []}
        misses = {False: 0, True: 0}
        try:
            for _ in range(runs):
                for trickle in (False, True):
                    t = await connect_time(url, token, trickle)
                    if t is None:
                        misses[trickle] += 1
                    else:
                        times[trickle].append(t)
                    await asyncio.sleep(0.3)
        finally:
            await runner.cleanup()
    for trickle, label in ((False, "candidates in the offer"), (True, "trickled by PATCH")):
        got = sorted(times[trickle])
        p50 = statistics.median(got) if got else float("nan")
        p95 = statistics.quantiles(got, n=20)[-1] if len(got) >= 2 else float("nan")
        print(
            f"{label:24s} offer -> ICE connected: p50 {p50 * 1000:5.0f} ms,"
            f" p95 {p95 * 1000:5.0f} ms ({len(got)} runs, {misses[trickle]} failed)"
        )
    if times[False] and times[True]:
        ratio = statistics.median(times[True]) / statistics.median(times[False])
        print(f"ratio (p50, trickled / in the offer): {ratio:.2f}x")
    print(f"(GStreamer webrtcbin H.264 publisher on 127.0.0.1, {os.cpu_count()} cores)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=8, help="publishes per mode")
    asyncio.run(run(parser.parse_args().runs))


if __name__ == "__main__":
    main()
