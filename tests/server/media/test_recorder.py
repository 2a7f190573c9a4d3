"""Recording a live session to a playable WebM file, without transcoding."""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

import av
import pytest

from podium_server.media.peer import IceSettings
from podium_server.media.recorder import SessionRecorder
from podium_server.media.relay import CodecInfo
from podium_server.media.service import MediaService
from podium_server.media.session import RelayPolicy, SessionRelay

from .peers import LOOPBACK, publish
from .test_depacketize import packetize_h264
from .test_depacketize import vp8_packets as vp8_rtp
from .test_h264_peers import encode_h264

pytestmark = pytest.mark.media

RECORD_SECONDS = 3.0


def recorded_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("s1-*"))


def read_back(path: Path) -> dict[str, object]:
    """What a player would see: format, streams, decoded video frames and audio.

    VP8 is decoded with libvpx, as aiortc's viewers do: the test publisher loops over its
    delta frames, which libvpx takes and FFmpeg's own VP8 decoder rejects.
    """
    with av.open(str(path)) as c:
        duration = c.duration / 1e6 if c.duration is not None else None
        video = c.streams.video[0]
        audio = c.streams.audio[0] if c.streams.audio else None
        vname = video.codec_context.name
        info: dict[str, object] = {
            "format": c.format.name,
            "duration": duration,
            "video_codec": vname,
            "audio_codec": audio.codec_context.name if audio is not None else None,
        }
        decoder = av.CodecContext.create("libvpx" if vname == "vp8" else vname, "r")
        if vname != "vp8":
            decoder.extradata = video.codec_context.extradata
        sizes: set[tuple[int, int]] = set()
        video_pts: list[int] = []
        audio_pts: list[int] = []
        audio_samples = 0
        for packet in c.demux():
            if packet.pts is None:
                continue
            if packet.stream.type == "video":
                for frame in decoder.decode(packet):
                    assert isinstance(frame, av.VideoFrame)
                    sizes.add((frame.width, frame.height))
                    video_pts.append(packet.pts)
            else:
                for frame in packet.decode():
                    assert isinstance(frame, av.AudioFrame)
                    audio_pts.append(packet.pts)
                    audio_samples += frame.samples
        info.update(
            sizes=sizes, video_pts=video_pts, audio_pts=audio_pts, audio_samples=audio_samples
        )
    return info


async def test_live_session_is_recorded_to_a_playable_webm(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    media = MediaService(ice=IceSettings(addresses=LOOPBACK), record_dir=tmp_path / "rec")
    await media.start()

    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    pub = await publish(whip, vp8_packets)
    try:
        flowing = asyncio.Event()  # the clock starts when media flows
        media.relay("s1").sources["video"].taps.append(lambda _: flowing.set())
        async with asyncio.timeout(10):
            await flowing.wait()
        started = time.monotonic()
        await asyncio.sleep(RECORD_SECONDS)
        recorded = time.monotonic() - started
    finally:
        await pub.close()
        await media.close()
    files = recorded_files(tmp_path / "rec")
    assert [f.suffix for f in files] == [".webm"], files
    info = read_back(files[0])
    assert info["format"] == "matroska,webm"
    assert info["video_codec"] == "vp8" and info["audio_codec"] == "opus"
    video_pts = info["video_pts"]
    assert isinstance(video_pts, list)
    # 30 fps from the publisher: most of the recorded seconds' frames decode
    assert len(video_pts) >= 0.8 * 30 * recorded, len(video_pts)
    assert info["sizes"] == {(320, 180)}
    assert video_pts == sorted(video_pts) and len(set(video_pts)) == len(video_pts)
    audio_pts = info["audio_pts"]
    assert isinstance(audio_pts, list) and audio_pts == sorted(audio_pts)
    assert info["audio_samples"] >= 0.8 * 48_000 * recorded  # type: ignore[operator]
    duration = info["duration"]
    assert isinstance(duration, float)
    assert recorded - 0.5 <= duration <= recorded + 1.0, (duration, recorded)
    # video pts follow the 30 fps RTP clock: the span of the frames is the frame count
    span = (video_pts[-1] - video_pts[0]) / 1000
    assert abs(span - (len(video_pts) - 1) / 30) < 0.2, span


async def test_reconnect_continues_the_file_with_monotonic_time(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    media = MediaService(ice=IceSettings(addresses=LOOPBACK), record_dir=tmp_path / "rec")
    await media.start()

    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    try:
        for _ in range(2):  # the second publisher starts its own RTP clock and SSRC
            pub = await publish(whip, vp8_packets)
            try:
                await asyncio.sleep(1.5)
            finally:
                await pub.close()
            await asyncio.sleep(0.3)
    finally:
        await media.close()
    files = recorded_files(tmp_path / "rec")
    assert len(files) == 1, files  # a quick reconnect is the same recording
    info = read_back(files[0])
    video_pts = info["video_pts"]
    assert isinstance(video_pts, list) and len(video_pts) >= 50
    assert video_pts == sorted(video_pts)
    gaps = [b - a for a, b in zip(video_pts, video_pts[1:], strict=False)]
    assert max(gaps) >= 200  # the publisher's absence is a gap in time, not a jump back


async def test_idle_session_closes_its_file(tmp_path: Path, vp8_packets: list[av.Packet]) -> None:
    media = MediaService(ice=IceSettings(addresses=LOOPBACK), record_dir=tmp_path / "rec")
    await media.start()

    async def whip(offer: str) -> str:
        return (await media.publish("s1", offer))[1]

    relay = media.relay("s1")
    recorder = media._recorders["s1"]
    assert isinstance(recorder, SessionRecorder)
    recorder.idle_close = 0.5
    recorder.flush_every = 0.2
    try:
        pub = await publish(whip, vp8_packets)
        try:
            await asyncio.sleep(1.5)
        finally:
            await pub.close()
        await asyncio.sleep(1.5)
        # closed while the server runs: playable with its duration already
        assert recorder._part is None
        files = recorded_files(tmp_path / "rec")
        assert len(files) == 1
        info = read_back(files[0])
        assert info["duration"] is not None
        assert len(info["video_pts"]) > 20  # type: ignore[arg-type]
        assert relay.sources["video"].taps
    finally:
        await media.close()


# -- the recorder fed directly through a session's sources (no network) -------------------

VP8 = CodecInfo.of("video/VP8", 90_000, {})
H264 = CodecInfo.of("video/H264", 90_000, {"packetization-mode": "1"})
OPUS = CodecInfo.of("audio/opus", 48_000, {})


def encode_opus(packets: int) -> list[bytes]:
    """20 ms Opus packets of a tone (the test's own encoder, not the server's)."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format = 48_000, "stereo", "s16"  # type: ignore[attr-defined]
    out: list[bytes] = []
    for i in range(packets):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.sample_rate = 48_000
        frame.planes[0].update(bytes(960 * 4))
        frame.pts = i * 960
        out.extend(bytes(p) for p in ctx.encode(frame))  # type: ignore[attr-defined]
    return out


class Feed:
    """A publisher's packets straight into `relay`'s sources, with its own SSRC and clocks."""

    def __init__(
        self, relay: SessionRelay, *, seq: int = 1000, video_ts: int = 0, audio_ts: int = 0
    ) -> None:
        self.relay = relay
        self.ssrc = random.getrandbits(32)
        self.seq = {"video": seq, "audio": seq}
        self.ts = {"video": video_ts, "audio": audio_ts}

    def video(self, packets: list[tuple[int, int, int, bytes]], codec: CodecInfo) -> None:
        for _, _, marker, payload in packets:
            self.relay.sources["video"].publish(
                self.ssrc, self.seq["video"], self.ts["video"], marker, payload, codec
            )
            self.seq["video"] = (self.seq["video"] + 1) & 0xFFFF
        self.ts["video"] = (self.ts["video"] + 3000) & 0xFFFFFFFF

    def audio(self, payload: bytes) -> None:
        self.relay.sources["audio"].publish(
            self.ssrc + 1, self.seq["audio"], self.ts["audio"], 0, payload, OPUS
        )
        self.seq["audio"] = (self.seq["audio"] + 1) & 0xFFFF
        self.ts["audio"] = (self.ts["audio"] + 960) & 0xFFFFFFFF


def recorder_for(tmp_path: Path) -> tuple[SessionRelay, SessionRecorder]:
    relay = SessionRelay("s1", RelayPolicy())
    recorder = SessionRecorder(tmp_path, "s1")
    recorder.attach(relay)
    return relay, recorder


@pytest.fixture(scope="module")
def h264_units() -> list[bytes]:
    return encode_h264(75)  # IDR at 0, 30 and 60


@pytest.fixture(scope="module")
def opus_packets() -> list[bytes]:
    return encode_opus(130)


async def test_h264_and_opus_go_to_matroska_from_the_first_keyframe(
    tmp_path: Path, h264_units: list[bytes], opus_packets: list[bytes]
) -> None:
    relay, recorder = recorder_for(tmp_path)
    feed = Feed(relay)
    audio = iter(opus_packets)
    for i, unit in enumerate(h264_units[5:], start=5):  # joins mid-GOP
        feed.video(packetize_h264(unit, 0, 0), H264)
        while feed.ts["audio"] / 48_000 <= i / 30:
            feed.audio(next(audio))
    await recorder.close()
    files = recorder.paths
    assert [f.suffix for f in files] == [".mkv"]
    info = read_back(files[0])
    assert (info["video_codec"], info["audio_codec"]) == ("h264", "opus")
    assert info["sizes"] == {(320, 180)}
    video_pts = info["video_pts"]
    assert isinstance(video_pts, list)
    assert len(video_pts) == 75 - 30  # from the IDR at frame 30 on, every frame decodes
    assert video_pts == sorted(video_pts) and video_pts[0] == 0
    assert abs(video_pts[-1] - 44 * 1000 / 30) <= 2
    assert info["audio_samples"] >= 0.9 * 48_000 * 44 / 30  # type: ignore[operator]


async def test_codec_change_starts_a_new_part(
    tmp_path: Path, vp8_packets: list[av.Packet], h264_units: list[bytes]
) -> None:
    relay, recorder = recorder_for(tmp_path)
    first = Feed(relay)
    for i, packet in enumerate(vp8_packets[:30]):
        first.video(vp8_rtp(bytes(packet), 0, 0, picture_id=i), VP8)
    second = Feed(relay)  # the publisher comes back with H.264
    for unit in h264_units[:30]:
        second.video(packetize_h264(unit, 0, 0), H264)
    await recorder.close()
    files = recorder.paths
    assert [f.suffix for f in files] == [".webm", ".mkv"]
    assert len(read_back(files[0])["video_pts"]) == 30  # type: ignore[arg-type]
    assert len(read_back(files[1])["video_pts"]) == 30  # type: ignore[arg-type]


async def test_rtp_timestamp_and_sequence_wrap_keep_time_monotonic(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    relay, recorder = recorder_for(tmp_path)
    feed = Feed(relay, seq=65_500, video_ts=(1 << 32) - 3000 * 20)
    for i, packet in enumerate(vp8_packets[:50]):
        feed.video(vp8_rtp(bytes(packet), 0, 0, picture_id=i), VP8)
    await recorder.close()
    (path,) = recorder.paths
    video_pts = read_back(path)["video_pts"]
    assert isinstance(video_pts, list) and len(video_pts) == 50
    assert video_pts == sorted(video_pts)
    assert abs(video_pts[-1] - 49 * 1000 / 30) <= 2


async def test_lost_packet_drops_one_frame_and_asks_for_a_keyframe(
    tmp_path: Path, vp8_packets: list[av.Packet]
) -> None:
    relay, recorder = recorder_for(tmp_path)
    asked: list[int] = []
    relay.sources["video"].set_input(lambda: asked.append(1))
    feed = Feed(relay)
    for i, packet in enumerate(vp8_packets[:30]):
        packets = vp8_rtp(bytes(packet), 0, 0, size=300, picture_id=i)
        if i == 10:
            assert len(packets) >= 2
            packets = packets[:-1]  # the marker packet never comes
            feed.seq["video"] += 1
        feed.video(packets, VP8)
    await recorder.close()
    assert recorder.lost_frames == 1
    assert asked  # the recorder asked the publisher for a keyframe to heal
    (path,) = recorder.paths
    assert len(read_back(path)["video_pts"]) == 29  # type: ignore[arg-type]


CRASH_SCRIPT = """
import asyncio, os, sys
from pathlib import Path
sys.path[:0] = {paths!r}
from tests.server.media import test_recorder as t
from tests.server.media.peers import encode_vp8

async def main():
    relay, recorder = t.recorder_for(Path({out!r}))
    feed = t.Feed(relay)
    packets = encode_vp8(90)
    for i, packet in enumerate(packets):
        feed.video(t.vp8_rtp(bytes(packet), 0, 0, picture_id=i), t.VP8)
        await asyncio.sleep(1 / 30)
    await recorder.flush()
    os._exit(9)  # killed: no close, no trailer

asyncio.run(main())
"""


async def test_a_crash_leaves_a_playable_file_up_to_the_last_flush(tmp_path: Path) -> None:
    script = CRASH_SCRIPT.format(paths=sys.path, out=str(tmp_path))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, cwd=str(Path(__file__).parents[3])
    )
    assert await proc.wait() == 9
    (path,) = recorded_files(tmp_path)
    assert path.suffix == ".webm"
    info = read_back(path)
    video_pts = info["video_pts"]
    assert isinstance(video_pts, list)
    print(f"after a crash: {len(video_pts)} of 90 frames readable")
    # of 90 frames in 3 s, flushed at the end: all but the open cluster (<= 250 ms)
    assert len(video_pts) >= 80, len(video_pts)
    assert video_pts == sorted(video_pts)
