"""Keyframe detection on RTP payloads (VP8, H.264) and the GOP cache."""

from __future__ import annotations

import av
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder

from podium_server.media.keyframes import (
    KeyframeCache,
    h264_is_keyframe_start,
    keyframe_detector,
    vp8_is_keyframe_start,
)


def test_vp8_descriptor_variants() -> None:
    assert vp8_is_keyframe_start(b"\x10\x00")  # S, PID 0, P=0
    assert not vp8_is_keyframe_start(b"\x10\x01")  # inter frame
    assert not vp8_is_keyframe_start(b"\x00\x00")  # not the start of the frame
    assert not vp8_is_keyframe_start(b"\x11\x00")  # partition 1
    # X with a 15-bit picture id (I, M), then the frame tag.
    assert vp8_is_keyframe_start(b"\x90\x80\x81\x23\x00")
    assert not vp8_is_keyframe_start(b"\x90\x80\x81\x23\x01")
    # X with 7-bit picture id, TL0PICIDX and TID/KEYIDX.
    assert vp8_is_keyframe_start(b"\x90\xe0\x05\x07\x20\x00")
    assert not vp8_is_keyframe_start(b"")
    assert not vp8_is_keyframe_start(b"\x90")


def test_h264_nal_unit_kinds() -> None:
    assert h264_is_keyframe_start(b"\x65\x88")  # IDR slice
    assert h264_is_keyframe_start(b"\x67\x42")  # SPS
    assert not h264_is_keyframe_start(b"\x41\x9a")  # non-IDR slice
    sps, pps = b"\x67\x42\x00\x1f", b"\x68\xce"
    stap = b"\x18" + len(sps).to_bytes(2, "big") + sps + len(pps).to_bytes(2, "big") + pps
    assert h264_is_keyframe_start(stap)
    assert not h264_is_keyframe_start(b"\x18\x00\x02\x41\x9a")
    assert h264_is_keyframe_start(b"\x7c\x85\x00")  # FU-A, start bit, IDR
    assert not h264_is_keyframe_start(b"\x7c\x05\x00")  # FU-A continuation
    assert not h264_is_keyframe_start(b"\x7c\x81\x00")  # FU-A start of a non-IDR slice


def _frames(n: int) -> list[av.VideoFrame]:
    frames = []
    for i in range(n):
        f = av.VideoFrame(64, 48, "yuv420p")
        for plane in f.planes:
            plane.update(bytes([(i * 40) & 255]) * plane.buffer_size)
        f.pts = i * 3000
        f.time_base = __import__("fractions").Fraction(1, 90000)
        frames.append(f)
    return frames


def test_detectors_agree_with_real_encoders() -> None:
    for encoder, mime in ((Vp8Encoder(), "video/VP8"), (H264Encoder(), "video/H264")):
        detect = keyframe_detector(mime)
        assert detect is not None
        frames = _frames(3)
        first, _ = encoder.encode(frames[0], force_keyframe=True)
        second, _ = encoder.encode(frames[1])
        assert detect(first[0]), mime
        assert not any(detect(p) for p in first[1:] if mime == "video/VP8")
        assert not any(detect(p) for p in second), mime


def test_gop_cache_keeps_keyframe_and_following_frames() -> None:
    cache: KeyframeCache[str] = KeyframeCache(max_packets=10)
    cache.add("d0", 0, False)
    assert not cache.has_keyframe and cache.packets() == []
    cache.add("k1", 100, True)
    cache.add("k1b", 100, False)
    cache.add("k1c", 100, True)  # same picture (H.264: SPS, then IDR): no restart
    cache.add("d1", 200, False)
    assert cache.packets() == ["k1", "k1b", "k1c", "d1"] and cache.complete
    cache.add("k2", 300, True)
    assert cache.packets() == ["k2"]


def test_gop_cache_falls_back_to_the_keyframe_alone_when_too_long() -> None:
    cache: KeyframeCache[str] = KeyframeCache(max_packets=4)
    cache.add("k", 0, True)
    cache.add("k+", 0, False)
    for i in range(1, 10):
        cache.add(f"d{i}", i, False)
    assert cache.packets() == ["k", "k+"]
    assert not cache.complete
    cache.add("k2", 99, True)
    assert cache.packets() == ["k2"] and cache.complete
