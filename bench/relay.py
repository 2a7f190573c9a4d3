"""Relay benchmark: server CPU per viewer, ours vs aiortc's MediaRelay, in one run.

    /tmp/venv/bin/python bench/relay.py [--ours 10,25,40] [--aiortc 1,3] [--window 6]
                                        [--baseline GIT-REF]

One publisher (VP8 640x360 30 fps ~1 Mbps + Opus, encoded once before the run, so the
publisher costs little) and N viewers, all aiortc peers over 127.0.0.1, each group in its
own process so the server process's CPU (read from /proc) is measured alone. For each
server -- ours (encoded pass-through) and aiortc's `MediaRelay` with one `RTCRtpSender`
(and so one encoder) per viewer -- the server CPU rate is measured with the publisher
alone and at each N; the slope is the CPU per viewer, extrapolated to viewers per core.
Viewers do not decode: they count RTP (through the same receiver tap the relay uses);
time to first frame is from the start of the WHEP request to the last packet of the first
complete keyframe. On a 2-core machine the viewers share the cores with the server, so N
stays small and the per-viewer cost is extrapolated (say so when quoting the figures).
`--baseline REF` also measures the relay server as it was at git commit REF (exported with
`git archive`, only the server process runs that code), in the same run, for before/after.

`--late-joins K` measures instead time to first frame for K late joiners, one after the
other, to a live stream packetized into 1400-byte RTP packets (GStreamer's default MTU)
and, side by side in the same run, into 1200-byte ones (aiortc's size). aiortc cannot
send packets over 1356 bytes, so in this mode the server process feeds the stream into
the session itself, at the relay's input, as the demo lecture does. A joiner that gets
no complete keyframe within 5 s counts as a miss (with `--baseline`, the relay before
the fix for 1400-byte packets shows them). Measured with 20 joiners per row on 2 cores
shared with other work (load average ~9): 1400-byte packets p50 60 ms / p95 167 ms,
1200-byte 66 / 200 ms (ratio 0.91x / 0.83x: no cost to full-size packets); the relay
before the fix, same run: 0 of 20 joiners got a frame.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import signal
import socket
import statistics
import struct
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import aiohttp
import av
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from baseline import export_server
from podium_server.media.aiortc_private import ReceiverTap
from podium_server.media.ice import offer_addresses, rtc_configuration
from podium_server.media.keyframes import vp8_is_keyframe_start
from podium_server.media.peer import IceSettings
from podium_server.media.relay import CodecInfo
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy

LOOPBACK = ("127.0.0.1",)
FPS = 30


# --- the stream, encoded once ---------------------------------------------------------


def encode_stream(path: Path, seconds: int = 4) -> None:
    """VP8 640x360 ~1 Mbps (keyframe every 2 s) and an Opus tone, written to `path`."""
    w, h = 640, 360
    v = av.CodecContext.create("libvpx", "w")
    v.width, v.height, v.pix_fmt = w, h, "yuv420p"
    v.time_base, v.framerate, v.bit_rate, v.gop_size = Fraction(1, FPS), FPS, 1_000_000, 60
    v.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    base = bytes((x * 7) & 255 for x in range(2 * w))
    chroma = bytes([128]) * (w * h // 4)
    video: list[bytes] = []
    for i in range(seconds * FPS):
        f = av.VideoFrame(w, h, "yuv420p")
        s = (i * 4) % w
        row = base[s : s + w]
        f.planes[0].update(
            b"".join(row if (r // 20 + i // 10) % 2 else row[::-1] for r in range(h))
        )
        f.planes[1].update(chroma)
        f.planes[2].update(chroma)
        f.pts = i
        video.extend(bytes(p) for p in v.encode(f))
    a = av.CodecContext.create("libopus", "w")
    a.sample_rate, a.layout, a.format, a.bit_rate = 48000, "stereo", "s16", 64000
    a.time_base = Fraction(1, 48000)
    audio: list[bytes] = []
    for i in range(seconds * 50):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        tone = (int(6000 * math.sin(2 * math.pi * 440 * (i * 960 + n) / 48000)) for n in range(960))
        frame.planes[0].update(b"".join(struct.pack("<hh", s, s) for s in tone))
        frame.sample_rate, frame.pts, frame.time_base = 48000, i * 960, Fraction(1, 48000)
        audio.extend(bytes(p) for p in a.encode(frame))
    path.write_text(
        json.dumps({"video": [x.hex() for x in video], "audio": [x.hex() for x in audio]})
    )


class LoopTrack(MediaStreamTrack):
    """Pre-encoded packets, paced in real time, looped."""

    def __init__(self, kind: str, packets: list[bytes], rate: int) -> None:
        super().__init__()
        self.kind = kind
        self._packets, self._rate, self._i = packets, rate, 0
        self._step = 1 if kind == "video" else 960
        self._clock = 90_000 if kind == "video" else 48_000
        self._start: float | None = None

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        self._start = self._start or time.monotonic()
        delay = self._start + self._i / self._rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._packets[self._i % len(self._packets)])
        packet.pts = self._i * self._step
        packet.time_base = Fraction(1, FPS) if self.kind == "video" else Fraction(1, 48000)
        self._i += 1
        return packet


def vp8_rtp_payloads(frame: bytes, max_payload: int) -> list[bytes]:
    """RFC 7741 packetization with a 1-byte descriptor (S bit on the first packet)."""
    room = max_payload - 1
    chunks = [frame[i : i + room] for i in range(0, len(frame), room)]
    return [bytes([0x10 if i == 0 else 0x00]) + c for i, c in enumerate(chunks)]


async def feed(service: MediaService, data: dict[str, list[str]], rtp_size: int) -> None:
    """Publish the stream into session "s" at the relay's input, in `rtp_size` packets."""
    relay = service.relay("s")
    vp8 = CodecInfo.of("video/VP8", 90_000, {})
    opus = CodecInfo.of("audio/opus", 48_000, {})
    video = [bytes.fromhex(x) for x in data["video"]]
    audio = [bytes.fromhex(x) for x in data["audio"]]
    relay.sources["video"].set_input(None)  # keyframes come every 2 s; PLI is ignored
    relay.sources["audio"].set_input(None)
    seq = {"video": 0, "audio": 0}

    def send(kind: str, payload: bytes, ts: int, marker: int, codec: CodecInfo) -> None:
        ssrc = 0x1111 if kind == "video" else 0x2222
        relay.sources[kind].publish(ssrc, seq[kind], ts, marker, payload, codec)
        seq[kind] = (seq[kind] + 1) & 0xFFFF

    start, frame, tick = time.monotonic(), 0, 0
    while True:  # video at 30 fps, audio every 20 ms, on one timeline
        due_video, due_audio = start + frame / FPS, start + tick * 0.02
        await asyncio.sleep(max(0.0, min(due_video, due_audio) - time.monotonic()))
        if due_video <= due_audio:
            payloads = vp8_rtp_payloads(video[frame % len(video)], rtp_size - 12)
            for i, payload in enumerate(payloads):
                send("video", payload, frame * 3000, int(i == len(payloads) - 1), vp8)
            frame += 1
        else:
            send("audio", audio[tick % len(audio)], tick * 960, 1, opus)
            tick += 1


# --- processes --------------------------------------------------------------------------


async def serve(
    mode: str, port: int, stream: dict[str, list[str]] | None = None, rtp_size: int = 0
) -> None:
    app = web.Application()
    if mode == "ours":
        service = MediaService(
            ice=IceSettings(addresses=LOOPBACK), policy=RelayPolicy(viewer_timeout=120)
        )
        await service.start()
        if stream is not None and rtp_size:
            feeding = asyncio.get_running_loop().create_task(feed(service, stream, rtp_size))
            feeding.add_done_callback(lambda t: t.cancelled() or t.result())

        async def whip(request: web.Request) -> web.Response:
            return web.Response(text=(await service.publish("s", await request.text()))[1])

        async def whep(request: web.Request) -> web.Response:
            answer = (await service.watch("s", await request.text(), participant_id=None))[1]
            return web.Response(text=answer)

        async def stats(request: web.Request) -> web.Response:
            # What was really sent, so a CPU figure is never read off viewers the
            # server had silently stopped serving.
            sent = sum(
                t.packets
                for peer in service.viewers.values()
                if peer.viewer is not None
                for t in peer.viewer.tracks.values()
            )
            received = sum(
                src.packets for r in service.relays.values() for src in r.sources.values()
            )
            return web.json_response(
                {"viewers": len(service.viewers), "sent": sent, "received": received}
            )

        app.router.add_get("/stats", stats)

    else:
        relay = MediaRelay()
        tracks: dict[str, MediaStreamTrack] = {}
        pcs: list[RTCPeerConnection] = []

        async def whip(request: web.Request) -> web.Response:
            pc = RTCPeerConnection(rtc_configuration())
            pc.on("track", lambda t: tracks.__setitem__(t.kind, t))
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=await request.text(), type="offer")
            )
            offer_addresses(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createAnswer())
            pcs.append(pc)
            return web.Response(text=pc.localDescription.sdp)

        async def whep(request: web.Request) -> web.Response:
            pc = RTCPeerConnection(rtc_configuration())
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=await request.text(), type="offer")
            )
            for kind in ("audio", "video"):
                pc.addTrack(relay.subscribe(tracks[kind]))
            offer_addresses(pc, LOOPBACK)
            await pc.setLocalDescription(await pc.createAnswer())
            pcs.append(pc)
            return web.Response(text=pc.localDescription.sdp)

    app.router.add_post("/whip", whip)
    app.router.add_post("/whep", whep)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    await asyncio.Event().wait()


async def post(url: str, offer: str) -> str:
    async with aiohttp.ClientSession() as http, http.post(url, data=offer) as r:
        r.raise_for_status()
        return await r.text()


async def publish(base: str, data: dict[str, list[str]]) -> None:
    pc = RTCPeerConnection(rtc_configuration())
    pc.addTransceiver(LoopTrack("audio", [bytes.fromhex(x) for x in data["audio"]], 50), "sendonly")
    t = pc.addTransceiver(
        LoopTrack("video", [bytes.fromhex(x) for x in data["video"]], FPS), "sendonly"
    )
    t.setCodecPreferences(
        [
            c
            for c in t.sender.getCapabilities("video").codecs
            if c.mimeType in ("video/VP8", "video/rtx")
        ]
    )
    offer_addresses(pc, LOOPBACK)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await post(f"{base}/whip", pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    print("ready", flush=True)
    await asyncio.Event().wait()


class CountingViewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(rtc_configuration())
        self.started = 0.0
        self.first_frame: float | None = None
        self.packets = 0
        self._in_key = False
        self.framed = asyncio.Event()

    def on_packet(self, packet: Any, codec: Any) -> None:
        self.packets += 1
        if self.first_frame is not None or codec.mimeType.lower() != "video/vp8":
            return
        if vp8_is_keyframe_start(packet.payload):
            self._in_key = True
        if self._in_key and packet.marker:
            self.first_frame = time.monotonic() - self.started
            self.framed.set()

    async def connect(self, base: str) -> None:
        self.started = time.monotonic()
        for kind in ("audio", "video"):
            t = self.pc.addTransceiver(kind, direction="recvonly")
            ReceiverTap(t.receiver, self.on_packet).install()  # count, never decode
        offer_addresses(self.pc, LOOPBACK)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await post(f"{base}/whep", self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


async def join(base: str, count: int) -> None:
    """`count` late joiners one after the other; prints their times to first frame."""
    ttff: list[float | None] = []
    for _ in range(count):
        viewer = CountingViewer()
        await viewer.connect(base)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0):
                await viewer.framed.wait()
        ttff.append(viewer.first_frame)
        await viewer.pc.close()
        await asyncio.sleep(0.2)
    print("ready", flush=True)
    print(json.dumps({"ttff": ttff}), flush=True)


async def view(base: str, count: int) -> None:
    viewers = [CountingViewer() for _ in range(count)]
    for i in range(0, count, 5):  # a few at a time, as people arrive
        await asyncio.gather(*(v.connect(base) for v in viewers[i : i + 5]))
    for _ in range(100):
        if all(v.first_frame is not None for v in viewers):
            break
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    result = {"ttff": [v.first_frame for v in viewers], "packets": [v.packets for v in viewers]}
    print(json.dumps(result), flush=True)


# --- orchestration ----------------------------------------------------------------------


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process and its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


async def spawn(
    *args: str, server_path: str | None = None, ready_within: float = 60
) -> asyncio.subprocess.Process:
    env = dict(os.environ)
    if server_path is not None:  # another revision of podium_server, for --baseline
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [server_path, env.get("PYTHONPATH")]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE, env=env
    )
    assert proc.stdout is not None
    async with asyncio.timeout(ready_within):
        line = await proc.stdout.readline()
    if line.strip() != b"ready":
        raise RuntimeError(f"{args[0]} did not start: {line!r}")
    return proc


async def relay_stats(base: str) -> dict[str, int] | None:
    """The bench server's delivery counters; None where it has none (older revisions)."""
    async with aiohttp.ClientSession() as http, http.get(f"{base}/stats") as r:
        return await r.json() if r.status == 200 else None


async def cpu_rate(pid: int, window: float) -> tuple[float, float]:
    """(user, system) cores used over `window` seconds."""
    (u0, s0), t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(window)
    (u1, s1), dt = cpu_seconds(pid), time.monotonic() - t0
    return (u1 - u0) / dt, (s1 - s0) / dt


def slope(points: list[tuple[int, float]]) -> float:
    """Least-squares CPU (cores) per viewer."""
    mx = statistics.fmean(n for n, _ in points)
    my = statistics.fmean(c for _, c in points)
    num = sum((n - mx) * (c - my) for n, c in points)
    den = sum((n - mx) ** 2 for n, _ in points)
    return num / den


async def run_mode(
    mode: str, steps: list[int], stream: Path, window: float, server_path: str | None = None
) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    procs: list[asyncio.subprocess.Process] = []
    ttff: list[float] = []
    try:
        serve_mode = "ours" if mode == "before" else mode
        server = await spawn(
            "serve", "--mode", serve_mode, "--port", str(port), server_path=server_path
        )
        procs.append(server)
        procs.append(await spawn("publish", "--url", base, "--stream", str(stream)))
        await asyncio.sleep(2.0)
        rates = [(0, await cpu_rate(server.pid, window))]
        viewer_procs: list[asyncio.subprocess.Process] = []
        have = 0
        for n in steps:
            per_proc = max(1, math.ceil((n - have) / 2))
            while have < n:
                k = min(per_proc, n - have)
                viewer_procs.append(await spawn("view", "--url", base, "--count", str(k)))
                have += k
            await asyncio.sleep(1.5)
            before = await relay_stats(base) if serve_mode == "ours" else None
            rates.append((n, await cpu_rate(server.pid, window)))
            after = await relay_stats(base) if serve_mode == "ours" else None
            user, system = rates[-1][1]
            delivered = ""
            if before is not None and after is not None:
                expected = n * (after["received"] - before["received"])
                share = (after["sent"] - before["sent"]) / expected if expected else 0.0
                delivered = (
                    f", {after['viewers']} viewers served, {share:.1%} of their packets sent"
                )
            print(
                f"  {mode:6s} viewers={n:3d} server CPU {(user + system) * 100:5.1f}% of a core"
                f" (user {user * 100:.1f}%, system {system * 100:.1f}%){delivered}",
                flush=True,
            )
        for proc in viewer_procs:
            proc.send_signal(signal.SIGTERM)
            assert proc.stdout is not None
            out = json.loads(await proc.stdout.readline())
            ttff.extend(t for t in out["ttff"] if t is not None)
            missing = sum(1 for t in out["ttff"] if t is None)
            if missing:
                print(f"  {mode}: {missing} viewers got no frame", flush=True)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        for proc in locals().get("viewer_procs", []):
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    points = [(n, u + s) for n, (u, s) in rates]
    per_viewer = slope(points)
    user_per_viewer = slope([(n, u) for n, (u, _) in rates])
    return {
        "points": points,
        "cpu_per_viewer": per_viewer,
        "user_per_viewer": user_per_viewer,
        "viewers_per_core": 1 / per_viewer if per_viewer > 0 else math.inf,
        "ttff_p50": statistics.median(ttff) if ttff else None,
        "ttff_p95": statistics.quantiles(ttff, n=20)[-1] if len(ttff) >= 2 else None,
    }


async def run_late_joins(
    label: str, rtp_size: int, joins: int, stream: Path, server_path: str | None = None
) -> dict[str, Any]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    server = await spawn(
        "serve",
        "--mode",
        "ours",
        "--port",
        str(port),
        "--stream",
        str(stream),
        "--rtp-size",
        str(rtp_size),
        server_path=server_path,
    )
    try:
        await asyncio.sleep(2.5)  # the stream is live, the GOP cache filled
        joiner = await spawn(
            "join", "--url", base, "--count", str(joins), ready_within=30 + 6 * joins
        )
        assert joiner.stdout is not None
        out = json.loads(await joiner.stdout.readline())
        await joiner.wait()
        stats = await relay_stats(base)
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.kill()
        await server.wait()
    got = sorted(t for t in out["ttff"] if t is not None)
    result = {
        "label": label,
        "rtp_size": rtp_size,
        "joins": joins,
        "misses": joins - len(got),
        "p50": statistics.median(got) if got else None,
        "p95": statistics.quantiles(got, n=20)[-1] if len(got) >= 2 else None,
        "stats": stats,
    }
    p50 = f"{result['p50'] * 1000:.0f} ms" if result["p50"] is not None else "-"
    p95 = f"{result['p95'] * 1000:.0f} ms" if result["p95"] is not None else "-"
    print(
        f"  {label:34s} {rtp_size:5d}-byte RTP: {len(got)}/{joins} joiners got a frame,"
        f" TTFF p50 {p50}, p95 {p95}",
        flush=True,
    )
    return result


async def late_joins(args: argparse.Namespace) -> None:
    stream, joins, t0 = Path(args.stream), args.late_joins, time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (1400, 1200):
            rows.append(await run_late_joins("podium pass-through relay", size, joins, stream))
        if args.baseline:
            path = export_server(args.baseline, tmp)
            label = f"podium relay at {args.baseline[:12]}"
            rows.append(await run_late_joins(label, 1400, joins, stream, server_path=path))
    big, small = rows[0], rows[1]
    if big["p50"] and small["p50"]:
        print(
            f"ratio (TTFF p50, 1400-byte / 1200-byte packets): {big['p50'] / small['p50']:.2f}x;"
            f" p95 {big['p95'] / small['p95']:.2f}x"
        )
    print(
        f"({joins} late joiners per row, one at a time, each a fresh aiortc peer on 127.0.0.1;"
        f" {os.cpu_count()} cores; bench took {time.monotonic() - t0:.0f} s)"
    )


async def orchestrate(args: argparse.Namespace) -> None:
    stream = Path(args.stream)
    t0 = time.monotonic()
    steps = [int(x) for x in args.ours.split(",")]
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            path = export_server(args.baseline, tmp)
            before = await run_mode("before", steps, stream, args.window, server_path=path)
            rows.append((f"podium relay at {args.baseline[:12]}", before))
    ours = await run_mode("ours", steps, stream, args.window)
    rows.insert(0, ("podium pass-through relay", ours))
    theirs = await run_mode("aiortc", [int(x) for x in args.aiortc.split(",")], stream, args.window)
    rows.append(("aiortc MediaRelay + sender", theirs))
    print()
    print(
        f"{'server':32s} {'CPU/viewer':>11s} {'viewers/core':>13s} {'(user only)':>12s}"
        f" {'TTFF p50':>9s} {'p95':>7s}"
    )
    for name, r in rows:
        p50 = f"{r['ttff_p50'] * 1000:.0f} ms" if r["ttff_p50"] is not None else "-"
        p95 = f"{r['ttff_p95'] * 1000:.0f} ms" if r["ttff_p95"] is not None else "-"
        user_only = 1 / r["user_per_viewer"] if r["user_per_viewer"] > 0 else math.inf
        print(
            f"{name:32s} {r['cpu_per_viewer'] * 100:10.3f}% {r['viewers_per_core']:13.1f}"
            f" {user_only:12.1f} {p50:>9s} {p95:>7s}"
        )
    ratio = ours["viewers_per_core"] / theirs["viewers_per_core"]
    print(f"ratio (viewers per core, ours / aiortc): {ratio:.1f}x")
    if args.baseline:
        gain = ours["viewers_per_core"] / rows[1][1]["viewers_per_core"]
        print(f"ratio (viewers per core, ours / ours at {args.baseline[:12]}): {gain:.2f}x")
    print(
        f"(CPU per viewer is the least-squares slope over {[p[0] for p in ours['points']]} and "
        f"{[p[0] for p in theirs['points']]} viewers on {os.cpu_count()} cores, extrapolated; "
        f"bench took {time.monotonic() - t0:.0f} s)"
    )
    print(
        "(system time on loopback includes the kernel delivering each datagram to, and waking,"
        " the viewer processes on the same machine; 'user only' leaves that out)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="cmd")
    s = sub.add_parser("serve")
    s.add_argument("--mode", choices=("ours", "aiortc"), required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--rtp-size", type=int, default=0, help="feed the stream in-process")
    s.add_argument("--stream", default=None)
    p = sub.add_parser("publish")
    p.add_argument("--url", required=True)
    p.add_argument("--stream", required=True)
    v = sub.add_parser("view")
    v.add_argument("--url", required=True)
    v.add_argument("--count", type=int, required=True)
    j = sub.add_parser("join")
    j.add_argument("--url", required=True)
    j.add_argument("--count", type=int, required=True)
    parser.add_argument("--ours", default="10,25,40", help="viewer counts for our relay")
    parser.add_argument("--aiortc", default="1,3", help="viewer counts for aiortc MediaRelay")
    parser.add_argument("--window", type=float, default=6.0, help="seconds of CPU per point")
    parser.add_argument("--stream", default="/tmp/podium-bench-stream.json")
    parser.add_argument("--baseline", help="also measure the relay at this git commit")
    parser.add_argument(
        "--late-joins", type=int, default=0, help="measure K late joiners' TTFF instead"
    )
    args = parser.parse_args()
    if args.cmd == "serve":
        stream = json.loads(Path(args.stream).read_text()) if args.stream else None
        asyncio.run(serve(args.mode, args.port, stream, args.rtp_size))
    elif args.cmd == "publish":
        asyncio.run(publish(args.url, json.loads(Path(args.stream).read_text())))
    elif args.cmd == "view":
        asyncio.run(view(args.url, args.count))
    elif args.cmd == "join":
        asyncio.run(join(args.url, args.count))
    else:
        if not Path(args.stream).exists():
            print("encoding the stream once (VP8 640x360 30 fps ~1 Mbps + Opus)...", flush=True)
            encode_stream(Path(args.stream))
        asyncio.run(late_joins(args) if args.late_joins else orchestrate(args))


if __name__ == "__main__":
    main()
