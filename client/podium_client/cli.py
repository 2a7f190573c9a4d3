"""`podium-client`: publish, watch, scan and load-test a Podium server from a terminal.

Exit codes: 0 done; 1 failed (the message says why); 2 bad command line; 3 token refused
(bad, expired, revoked, or without the needed role); 4 unknown session; 5 server
unreachable; 6 unusable input (a file with no usable video track, a bad device); 7 scans
left queued by `scan --exit` (sent at the next start).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from rich.console import Console

from .errors import EXIT_USAGE, ClientError
from .scan_queue import default_queue_path


def _common(parser: argparse.ArgumentParser, *, token_help: str) -> None:
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
        description=__doc__,
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
    return parser


def _console(color: str) -> Console:
    if color == "always":
        return Console(force_terminal=True, highlight=False)
    if color == "never":
        return Console(no_color=True, highlight=False)
    return Console(highlight=False)


def _required(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n}" for n in names if not getattr(args, n, None)]
    if missing:
        raise ClientError(f"{args.command} needs {' and '.join(missing)}", EXIT_USAGE)


async def _run(args: argparse.Namespace, console: Console) -> int:
    if args.command == "scan":
        from .scan import ScanOptions, scan_command

        _required(args, "server", "token")
        opts = ScanOptions(
            server=args.server,
            token=args.token,
            session=args.session,
            direction=args.direction,
            queue_path=args.queue,
            device=args.device,
            exit_at_end=args.exit,
        )
        return await scan_command(opts, console)
    raise ClientError(f"unknown command {args.command}", EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    console = _console(args.color)
    errors = Console(stderr=True, highlight=False, no_color=console.no_color)
    try:
        return asyncio.run(_run(args, console))
    except ClientError as err:
        errors.print(
            f"podium-client {args.command}: {err.message}", style="bold red", soft_wrap=True
        )
        return err.exit_code
    except KeyboardInterrupt:
        errors.print(f"podium-client {args.command}: interrupted", style="yellow")
        return 130


if __name__ == "__main__":
    sys.exit(main())
