"""`podium-client` entry point: parse, run the command, turn errors into one line and an
exit code (listed in `--help`)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from rich.console import Console

from .arguments import build_parser
from .errors import EXIT_USAGE, ClientError


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
        from .ws_session import ws_url

        _required(args, "server", "token")
        ws_url(args.server)  # a bad URL is said now, not when the first scan is sent
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
    if args.command in ("publish", "watch"):
        from .ice import IceOptions
        from .whip import endpoint

        _required(args, "server", "token")
        endpoint(args.server, "whip", args.session)  # a bad URL is said before any work
        ice = IceOptions(tuple(args.ice_addresses or ()), tuple(args.ice_servers or ()))
        if args.command == "publish":
            from .publish import PublishOptions, publish_command

            if args.loop and args.file is None:
                raise ClientError("--loop goes with --file", EXIT_USAGE)
            return await publish_command(
                PublishOptions(
                    server=args.server,
                    token=args.token,
                    session=args.session,
                    file=args.file,
                    device=args.device,
                    loop=args.loop,
                    stats_every=args.stats_every,
                    duration=args.duration,
                    ice=ice,
                ),
                console,
            )
        from .watch import WatchOptions, watch_command

        return await watch_command(
            WatchOptions(
                server=args.server,
                token=args.token,
                session=args.session,
                record=args.record,
                duration=args.duration,
                stats_every=args.stats_every,
                ice=ice,
            ),
            console,
        )
    if args.command == "loadtest":
        _required(args, "server", "token")
        if args.load == "checkins":
            from .loadtest.checkins import CheckinLoad, run_checkins

            return await run_checkins(
                CheckinLoad(
                    server=args.server,
                    token=args.token,
                    session=args.session,
                    connections=args.connections,
                    window=args.window,
                    seconds=args.seconds,
                    allow_remote=args.allow_remote,
                ),
                console,
            )
        from .ice import IceOptions
        from .loadtest.viewers import ViewerLoad, run_viewers

        return await run_viewers(
            ViewerLoad(
                server=args.server,
                token=args.token,
                session=args.session,
                viewers=args.viewers,
                seconds=args.seconds,
                allow_remote=args.allow_remote,
                ice=IceOptions(tuple(args.ice_addresses or ())),
            ),
            console,
        )
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
