"""`podium-client publish` and `watch` against a real server process: a test pattern
published and watched by the client (frames counted, the viewer counted online), a file
passed through, a recording written without transcoding, errors a person can act on."""

from __future__ import annotations

import os
import re
import signal
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from .server_process import Client, ServerProcess

pytestmark = pytest.mark.media


def publish_args(server: ServerProcess, token: str, *source: str) -> list[str]:
    return ["publish", "hall", "--server", server.url, "--token", token, *source]


def watch_args(server: ServerProcess, token: str, *extra: str) -> list[str]:
    return ["watch", "hall", "--server", server.url, "--token", token, *extra]


def frames_received(client: Client) -> int:
    line = client.wait_for("video frames in")[0]
    match = re.search(r"received (\d+) video frames", line)
    assert match, line
    return int(match.group(1))


def write_vp8_webm(path: Path, seconds: int = 3) -> None:
    """A small VP8 + Opus file, as a speaker might bring."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libvpx", rate=30)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = out.add_stream("libopus", rate=48_000)
        for i in range(seconds * 30):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 8) % 256]) * (plane.line_size * plane.height))
            frame.pts = i
            out.mux(video.encode(frame))
        for i in range(seconds * 50):
            samples = av.AudioFrame(format="s16", layout="stereo", samples=960)
            samples.planes[0].update(bytes(960 * 4))
            samples.sample_rate, samples.pts = 48_000, i * 960
            samples.time_base = Fraction(1, 48_000)
            out.mux(audio.encode(samples))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))


def test_a_published_test_pattern_is_watched_and_the_viewer_counted_online(
    server: ServerProcess, tmp_path: Path
) -> None:
    speaker = server.token("speaker", session="hall")
    publisher = Client(*publish_args(server, speaker, "--test-pattern", "--stats-every", "1"))
    try:
        publisher.wait_for("publishing hall")
        trainee = server.token("trainee", participant="T002")
        viewer = Client(*watch_args(server, trainee, "--for", "8s", "--stats-every", "2"))
        assert viewer.finish() == 0, viewer.errors
        assert frames_received(viewer) >= 60  # 8 s of a 30 fps pattern, after connecting
        stats = viewer.wait_for("frames/s")
        assert any("640x360" in line for line in stats)
        assert all("loss" in line and "jitter" in line for line in stats)
        sending = publisher.wait_for("sending", 2)
        assert any("RTT" in line and "kbit/s" in line for line in sending)
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0, publisher.errors
    server.stop()  # online time is written when the viewer's interval closes
    watched = server.watch_seconds("hall", "T002")
    assert watched > 3, watched


def test_a_vp8_file_is_passed_through_and_recorded_without_transcoding(
    server: ServerProcess, tmp_path: Path
) -> None:
    movie = tmp_path / "talk.webm"
    write_vp8_webm(movie)
    speaker = server.token("speaker", session="hall")
    publisher = Client(*publish_args(server, speaker, "--file", str(movie), "--loop"))
    try:
        assert (
            "VP8 320x240 passed through, Opus passed through" in publisher.wait_for("publishing")[0]
        )
        recording = tmp_path / "out.mkv"
        viewer = Client(
            *watch_args(
                server, server.token("organizer"), "--for", "6s", "--record", str(recording)
            )
        )
        assert viewer.finish() == 0, viewer.errors
        assert frames_received(viewer) > 30
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0
    with av.open(str(recording)) as played:
        video = played.streams.video[0]
        assert video.codec_context.name == "vp8"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
        assert played.streams.audio[0].codec_context.name == "opus"
        decoded = sum(1 for _ in played.decode(video=0))
    assert decoded > 30


def write_h264_mp4(path: Path, seconds: int = 3) -> None:
    """H.264 in MP4 (length-prefixed NAL units), baseline profile, no B-frames."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=30)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.options = {"profile": "baseline", "bf": "0", "g": "30", "tune": "zerolatency"}
        for i in range(seconds * 30):
            frame = av.VideoFrame(320, 240, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 8) % 256]) * (plane.line_size * plane.height))
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))


def test_an_h264_mp4_is_passed_through_and_recorded(server: ServerProcess, tmp_path: Path) -> None:
    movie = tmp_path / "talk.mp4"
    write_h264_mp4(movie)
    speaker = server.token("speaker", session="hall")
    publisher = Client(*publish_args(server, speaker, "--file", str(movie), "--loop"))
    try:
        assert "H264 320x240 passed through, no audio" in publisher.wait_for("publishing")[0]
        recording = tmp_path / "out.mkv"
        viewer = Client(
            *watch_args(
                server, server.token("organizer"), "--for", "6s", "--record", str(recording)
            )
        )
        assert viewer.finish() == 0, viewer.errors
        assert frames_received(viewer) > 30
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0
    with av.open(str(recording)) as played:
        assert played.streams.video[0].codec_context.name == "h264"
        decoded = sum(1 for _ in played.decode(video=0))
    assert decoded > 30


def test_a_file_that_ends_stops_the_publisher_cleanly(
    server: ServerProcess, tmp_path: Path
) -> None:
    movie = tmp_path / "short.webm"
    write_vp8_webm(movie, seconds=2)
    publisher = Client(
        *publish_args(server, server.token("speaker", session="hall"), "--file", str(movie))
    )
    assert publisher.finish(within=30) == 0, publisher.errors
    assert publisher.wait_for("end of file")


def test_publisher_and_viewer_come_back_after_a_server_restart(
    server: ServerProcess, tmp_path: Path
) -> None:
    speaker = server.token("speaker", session="hall")
    publisher = Client(*publish_args(server, speaker, "--test-pattern", "--stats-every", "1"))
    try:
        publisher.wait_for("publishing hall")
        # a viewer watching across the restart comes back by itself too
        across = Client(
            *watch_args(server, server.token("organizer"), "--for", "40s", "--stats-every", "1")
        )
        across.wait_for("frames/s")
        server.stop()
        time.sleep(1)
        server.start()
        publisher.wait_for("publishing hall again", within=40)
        across.wait_for("no picture: watching again", within=30)
        seen_before = len(across.lines)
        deadline = time.monotonic() + 30
        while not any(  # frames again after the restart
            re.search(r"\b(2\d|30)\.\d frames/s", line) for line in across.lines[seen_before:]
        ):
            assert time.monotonic() < deadline, "\n".join(across.lines)
            time.sleep(0.5)
        across.proc.send_signal(signal.SIGINT)
        assert across.finish() == 0, across.errors
        viewer = Client(*watch_args(server, server.token("organizer"), "--for", "4s"))
        assert viewer.finish() == 0, viewer.errors
        assert frames_received(viewer) > 20
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0


def test_the_publisher_comes_back_after_a_network_loss(server: ServerProcess) -> None:
    """The server frozen (SIGSTOP) past the publisher's patience: nothing comes back, as
    when the network drops. The server still holds the old publisher as live when it
    wakes; the client ends that resource first, then publishes again."""
    assert server.proc is not None
    speaker = server.token("speaker", session="hall")
    publisher = Client(*publish_args(server, speaker, "--test-pattern", "--stats-every", "1"))
    try:
        publisher.wait_for("publishing hall")
        publisher.wait_for("RTT", 2)
        os.kill(server.proc.pid, signal.SIGSTOP)
        try:
            publisher.wait_for("lost the server", within=30)
        finally:
            os.kill(server.proc.pid, signal.SIGCONT)
        publisher.wait_for("publishing hall again", within=40)
        viewer = Client(*watch_args(server, server.token("organizer"), "--for", "4s"))
        assert viewer.finish() == 0, viewer.errors
        assert frames_received(viewer) > 20
    finally:
        publisher.proc.send_signal(signal.SIGINT)
        assert publisher.finish() == 0, publisher.errors


@pytest.mark.parametrize(
    ("token_of", "session", "code", "says"),
    [
        (lambda s: "pd1.not.valid", "hall", 3, "token was refused"),
        (lambda s: s.token("trainee", participant="T001"), "hall", 3, "may not"),
        (lambda s: s.token("organizer"), "nowhere", 4, "nowhere"),
    ],
)
def test_publish_refusals_are_one_line_and_a_code(
    server: ServerProcess, token_of: object, session: str, code: int, says: str
) -> None:
    args = publish_args(server, token_of(server), "--test-pattern")  # type: ignore[operator]
    args[1] = session
    publisher = Client(*args, stdin=None)
    assert publisher.finish() == code
    assert len(publisher.errors) == 1 and says in publisher.errors[0], publisher.errors


def test_an_unreachable_server_is_exit_code_5(stopped_server: ServerProcess) -> None:
    viewer = Client(*watch_args(stopped_server, stopped_server.token("organizer")), stdin=None)
    assert viewer.finish() == 5
    assert len(viewer.errors) == 1 and "cannot reach" in viewer.errors[0]
    assert "(Connection refused)" in viewer.errors[0]


def test_a_file_without_usable_video_is_exit_code_6(server: ServerProcess, tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a film\n")
    audio_only = tmp_path / "voice.ogg"
    with av.open(str(audio_only), "w") as out:
        stream = out.add_stream("libopus", rate=48_000)
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(960 * 4))
        frame.sample_rate, frame.pts = 48_000, 0
        out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    speaker = server.token("speaker", session="hall")
    for path, says in ((text, "cannot read"), (audio_only, "no video track")):
        publisher = Client(*publish_args(server, speaker, "--file", str(path)), stdin=None)
        assert publisher.finish() == 6
        assert len(publisher.errors) == 1 and says in publisher.errors[0], publisher.errors
