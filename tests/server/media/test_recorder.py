"""Recording a live session to a playable WebM file, without transcoding."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import av
import pytest

from podium_server.media.peer import IceSettings
from podium_server.media.recorder import SessionRecorder
from podium_server.media.service import MediaService

from .peers import LOOPBACK, publish

pytestmark = pytest.mark.media

RECORD_SECONDS = 3.0


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
    files = sorted((tmp_path / "rec").glob("s1-*"))
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
    files = sorted((tmp_path / "rec").glob("s1-*"))
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
        files = sorted((tmp_path / "rec").glob("s1-*"))
        assert len(files) == 1
        info = read_back(files[0])
        assert info["duration"] is not None
        assert len(info["video_pts"]) > 20  # type: ignore[arg-type]
        assert relay.sources["video"].taps
    finally:
        await media.close()
