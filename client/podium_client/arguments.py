"""The command line of `podium-client`: every command, its flags and their help."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from .scan_queue import default_queue_path

DESCRIPTION = """Publish, watch, scan and load-test a Podium server from a terminal.

Examples:
  podium-client scan --server http://127.0.0.1:8080 --token STAFF --session policy
  podium-client publish policy --server URL --token SPEAKER --file talk.webm --loop
  podium-client watch policy --server URL --token TRAINEE --for 60s --record out.mkv
  podium-client loadtest checkins --server URL --token ORGANIZER --session policy

Exit codes: 0 done; 1 failed (the message says why); 2 bad command line; 3 token refused
(bad, expired, revoked, or without the needed role); 4 unknown session; 5 server
unreachable; 6 unusable input (a file with no usable video track, a bad device); 7 scans
left queued by `scan --exit` (sent at the next start).
"""


def _common(parser: argparse.ArgumentParser, *, token_help: str) -> None:
    parser.add_argument("--color", choices=("auto", "always", "never"), default=argparse.SUPPRESS)
    parser.add_argument(
        "--server",
        default=os.environ.get("PODIUM_SERVER"),
        help="the server's URL, e.g. http://127.0.0.1:8080 (env PODIUM_SERVER)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("PODIUM_TOKEN"),
        help=f"{token_help} (env PODIUM_TOKEN keeps it out of the process list)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podium-client",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output: auto (on a terminal, unless NO_COLOR is set), always, never",
    )
    sub = parser.add_subparsers(dest="command", metavar="publish|watch|scan|loadtest")

    scan = sub.add_parser(
        "scan",
        help="check badges in from stdin (a USB scanner or typed), queued offline",
        description="Reads one badge code per line from stdin and prints each outcome with "
        "the trainee's name. Every scan is first kept in a local SQLite queue (--queue), "
        "so scans taken while the server is unreachable, or cannot record (error "
        "'unavailable'), are sent when it is back, with the time they were taken; a scan "
        "is never lost or recorded twice, also if this program is killed and started "
        "again. At the end of input it waits until every queued scan is sent.",
    )
    _common(scan, token_help="a staff (or organizer) token")
    scan.add_argument("--session", required=True, help="the session scanned for")
    scan.add_argument("--direction", choices=("in", "out"), default="in")
    scan.add_argument(
        "--device",
        help="this scanner's name (default: chosen once and kept in the queue file)",
    )
    scan.add_argument(
        "--queue",
        type=Path,
        default=Path(os.environ.get("PODIUM_CLIENT_QUEUE") or default_queue_path()),
        help="the offline queue file (env PODIUM_CLIENT_QUEUE; default %(default)s)",
    )
    scan.add_argument(
        "--exit",
        action="store_true",
        help="at the end of input do not wait for an unreachable server: exit (code 7), "
        "keeping unsent scans queued for the next start",
    )
    publish = sub.add_parser(
        "publish",
        help="publish a session's stream over WHIP (test pattern, file or camera)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Publishes SESSION over WHIP and prints bitrate, RTT and loss every few "
        "seconds; after a network loss or a server restart it publishes again by itself.\n\n"
        "What is sent as is, without re-encoding:\n"
        "  --file: VP8 video (WebM, MKV) and H.264 video (MP4, MKV) are passed through,\n"
        "          picture by picture (MP4's length-prefixed H.264 is rewritten to start\n"
        "          codes, the pictures unchanged); Opus audio is passed through too. Other\n"
        "          audio (AAC, say) is decoded and encoded to Opus. Other video codecs are\n"
        "          refused: convert first (ffmpeg -c:v libvpx). H.264 with B-frames does\n"
        "          not suit WebRTC: use the baseline or main profile without B-frames.\n"
        "  --test-pattern: a moving VP8 pattern, encoded once at start, then sent as is;\n"
        "          silent audio (encoded to Opus).\n"
        "  --device: camera pictures are decoded and encoded to VP8 (re-encoded).",
    )
    publish.add_argument("session", metavar="SESSION")
    _common(publish, token_help="a speaker token for SESSION (or an organizer token)")
    what = publish.add_mutually_exclusive_group(required=True)
    what.add_argument("--file", type=Path, help="a VP8 (.webm) or H.264 (.mp4) file")
    what.add_argument("--test-pattern", action="store_true", help="a moving test pattern")
    what.add_argument("--device", help="a camera, e.g. /dev/video0 (Linux, v4l2)")
    publish.add_argument(
        "--loop", action="store_true", help="with --file: start again at the end (default: stop)"
    )
    _media_common(publish)

    watch = sub.add_parser(
        "watch",
        help="watch a session over WHEP: frames/s, bitrate, loss, jitter; --record",
        description="Watches SESSION over WHEP and prints frames a second, bitrate, loss and "
        "jitter every few seconds. With a trainee token it counts as watching online, as "
        "the watch page does. --record writes the received video (VP8 or H.264) and Opus "
        "audio to a Matroska (.mkv) or WebM (.webm) file as received, without transcoding.",
    )
    watch.add_argument("session", metavar="SESSION")
    _common(watch, token_help="a trainee token (or an organizer token)")
    watch.add_argument("--record", type=Path, help="write what is received to this .mkv/.webm")
    _media_common(watch)

    loadtest = sub.add_parser(
        "loadtest",
        help="load-test a server (bounded; loopback only unless --allow-remote)",
        description="Load generators for a test server: bounded in count and time, and "
        "refused for any server not on this machine's loopback unless --allow-remote. "
        "A progress bar runs meanwhile; a summary table follows.",
    )
    kinds = loadtest.add_subparsers(dest="load", metavar="checkins|viewers", required=True)
    checkins = kinds.add_parser(
        "checkins",
        help="staff connections scanning badges as fast as answered",
        description="Opens --connections staff connections, each keeping --window scans in "
        "flight over the roster's badge codes (listed with the organizer --token), scanning "
        "each person in and out in turn; prints scans answered a second and answer "
        "latency. The scans are recorded: run it against a test event, not a live one.",
    )
    _common(checkins, token_help="an organizer token (lists the badge codes, scans)")
    checkins.add_argument("--session", required=True, help="the session scanned for")
    checkins.add_argument("--connections", type=int, default=16, help="at most 1000")
    checkins.add_argument("--window", type=int, default=1, help="scans in flight per connection")
    checkins.add_argument("--seconds", type=parse_duration, default=10.0, help="at most 600")
    checkins.add_argument("--allow-remote", action="store_true", help="allow a non-loopback server")
    viewers = kinds.add_parser(
        "viewers",
        help="WHEP viewers of one session, counting frames without decoding",
        description="Opens --viewers WHEP viewers of SESSION (five at a time), which count the "
        "video frames they receive without decoding them; prints how many got video, time to "
        "first frame, frames a second per viewer and loss.",
    )
    viewers.add_argument("session", metavar="SESSION")
    _common(viewers, token_help="an organizer (or trainee) token")
    viewers.add_argument("--viewers", type=int, default=10, help="at most 200")
    viewers.add_argument("--seconds", type=parse_duration, default=10.0, help="at most 600")
    viewers.add_argument("--allow-remote", action="store_true", help="allow a non-loopback server")
    viewers.add_argument(
        "--ice-address",
        action="append",
        dest="ice_addresses",
        default=None,
        help="local address offered as ICE candidate (repeatable; env PODIUM_ICE_ADDRESSES)",
    )
    return parser


def _media_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--for",
        dest="duration",
        type=parse_duration,
        help="stop after this long, e.g. 60s, 5m, 1h (default: until Ctrl-C)",
    )
    parser.add_argument(
        "--stats-every", type=parse_duration, default=5.0, help="seconds between stats lines"
    )
    parser.add_argument(
        "--ice-address",
        action="append",
        dest="ice_addresses",
        default=None,
        help="local address offered as ICE candidate (repeatable; env PODIUM_ICE_ADDRESSES)",
    )
    parser.add_argument(
        "--ice-server",
        action="append",
        dest="ice_servers",
        default=None,
        help="STUN/TURN URL (repeatable; env PODIUM_ICE_SERVERS); none by default",
    )


def parse_duration(text: str) -> float:
    """`90`, `90s`, `5m`, `1h` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600}
    value = text.strip().lower()
    scale = units.get(value[-1:], None)
    number = value[:-1] if scale else value
    try:
        seconds = float(number) * (scale or 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration like 60s, 5m or 1h") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("a duration must be more than 0")
    return seconds
