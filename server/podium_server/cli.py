"""`podium`: the server's command line. CLI -> Config -> create_app(config) -> serve."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .config import Config, split_list
from .errors import InvalidFile

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    # Accepted before or after the command (`podium --store URL serve` and
    # `podium serve --store URL`); SUPPRESS keeps a subcommand from resetting them.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--store",
        default=argparse.SUPPRESS,
        help="store URL (sqlite:///./podium.db or redis://host:port/0)",
    )
    common.add_argument(
        "--secret-file",
        type=Path,
        default=argparse.SUPPRESS,
        help="deployment secret (created 0600)",
    )
    common.add_argument(
        "--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING or ERROR"
    )
    parser = argparse.ArgumentParser(
        prog="podium", description="Podium hybrid training server", parents=[common]
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(group: Any, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return group.add_parser(name, parents=[common], **kwargs)

    serve = add(sub, "serve", help="run the server")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--event", type=Path, dest="event_file", help="event TOML to load")
    serve.add_argument("--demo", action="store_true", help="the built-in CIEP 2021 demo")
    serve.add_argument("--public-url", help="URL users reach this server at")
    serve.add_argument(
        "--ice-address",
        action="append",
        dest="ice_addresses",
        default=None,
        help="local address offered as ICE host candidate (repeatable)",
    )
    serve.add_argument(
        "--ice-server",
        action="append",
        dest="ice_servers",
        default=None,
        help="STUN/TURN URL (repeatable); none by default",
    )
    serve.add_argument("--record", type=Path, dest="record_dir", help="record sessions here")
    serve.add_argument(
        "--no-demo-stream",
        action="store_true",
        help="with --demo: do not run the synthetic lecture stream",
    )

    event = add(sub, "event", help="event programme")
    event_sub = event.add_subparsers(dest="action", metavar="ACTION", required=True)
    load = add(event_sub, "load", help="validate and store an event TOML")
    load.add_argument("file", type=Path)

    roster = add(sub, "roster", help="participants")
    roster_sub = roster.add_subparsers(dest="action", metavar="ACTION", required=True)
    imp = add(roster_sub, "import", help="validate and import a roster CSV")
    imp.add_argument("file", type=Path)

    token = add(sub, "token", help="access tokens")
    token_sub = token.add_subparsers(dest="action", metavar="ACTION", required=True)
    issue = add(token_sub, "issue", help="print a signed token on stdout")
    issue.add_argument(
        "--role", required=True, choices=("organizer", "staff", "speaker", "trainee")
    )
    issue.add_argument("--session")
    issue.add_argument("--participant")
    issue.add_argument("--device")
    issue.add_argument("--ttl", default="12h", help="lifetime, e.g. 30m, 12h, 2d")
    revoke = add(token_sub, "revoke", help="revoke a token (takes effect on next use)")
    revoke.add_argument("token")

    badge = add(sub, "badge", help="badge codes")
    badge_sub = badge.add_subparsers(dest="action", metavar="ACTION", required=True)
    brevoke = add(badge_sub, "revoke", help="revoke a participant's badge")
    brevoke.add_argument("participant")

    backup = add(sub, "backup", help="a consistent copy of the SQLite store (0600)")
    backup.add_argument("--out", type=Path, required=True, help="the copy's file name")

    badges = add(sub, "badges", help="printable QR badges")
    badges.add_argument("--out", type=Path, required=True, help="badges.pdf or badges.html")

    report = add(sub, "report", help="attendance and certificate reports")
    report.add_argument("kind", choices=("attendance", "certificates", "statistics"))
    report.add_argument("--format", choices=("csv", "xlsx"), default="csv")
    report.add_argument("--out", type=Path, required=True)
    return parser


def config_from_args(args: argparse.Namespace, env: dict[str, str] | None = None) -> Config:
    env = dict(os.environ) if env is None else env
    log_level = getattr(args, "log_level", None)
    flags: dict[str, Any] = {
        "store": getattr(args, "store", None),
        "secret_file": getattr(args, "secret_file", None),
        "log_level": log_level.upper() if log_level else None,
    }
    for name in ("host", "port", "event_file", "public_url", "record_dir"):
        flags[name] = getattr(args, name, None)
    for name in ("ice_addresses", "ice_servers"):
        values = getattr(args, name, None)
        if values:
            flags[name] = tuple(v for item in values for v in split_list(item))
    if getattr(args, "demo", False):
        flags["demo"] = True
    if getattr(args, "no_demo_stream", False):
        flags["demo_stream"] = False
    return Config.from_env(env, **flags)


# -- commands ---------------------------------------------------------------------------


def cmd_serve(config: Config) -> int:
    from . import gcpolicy, serving
    from .app import create_app

    async def run() -> None:
        app = create_app(config)
        runner = await serving.setup(app, config)
        gcpolicy.install()  # after start-up (imports, event, roster): frozen with the rest
        port = await serving.listen(runner, config)
        bound = Config.from_env({}, **{**config.__dict__, "port": port})
        log.info("listening", extra={"url": bound.base_url, "store": config.store})
        print(f"Podium is running at {bound.base_url}", flush=True)
        if config.demo:
            _print_demo_urls(app, bound)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        log.info("shutting down")
        await runner.cleanup()

    asyncio.run(run())
    return 0


def _print_demo_urls(app: Any, config: Config) -> None:
    from . import appkeys as keys

    event = app[keys.EVENT].require()
    tokens = app[keys.TOKENS]
    now = time.time()
    streamed = next((s for s in event.sessions if s.stream), event.sessions[0])
    organizer = tokens.issue("organizer", now=now, ttl_s=3 * 86400, device="demo-organizer")
    staff = tokens.issue("staff", now=now, ttl_s=3 * 86400, device="door-A-1")
    trainee = tokens.issue("trainee", now=now, ttl_s=3 * 86400, participant="T001")
    speaker = tokens.issue("speaker", now=now, ttl_s=3 * 86400, session=streamed.id)
    base = config.base_url
    print(f"Event: {event.title}", flush=True)
    print(f"  Organizer dashboard: {base}/dashboard#token={organizer}")
    print(f"  Staff scanner:       {base}/scan#token={staff}")
    print(f"  Trainee watch page:  {base}/watch/{streamed.id}#token={trainee}")
    print(f"  Speaker publish:     {base}/publish/{streamed.id}#token={speaker}")
    # For OBS / GStreamer / any WHIP or WHEP client: the endpoint and its bearer token.
    print(f"  WHIP ingest:         {base}/whip/{streamed.id}  (Bearer {speaker})")
    print(f"  WHEP playback:       {base}/whep/{streamed.id}  (Bearer {trainee})", flush=True)


def _with_store(config: Config, action: Callable[[Any], Awaitable[int]]) -> int:
    from .store.factory import open_store

    async def run() -> int:
        store = open_store(config.store)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(run())


def cmd_event_load(config: Config, file: Path) -> int:
    from .event.loaders import load_event_file

    event = load_event_file(file)

    async def save(store: Any) -> int:
        await store.save_event(event)
        print(f"loaded event {event.id!r}: {len(event.sessions)} sessions")
        return 0

    return _with_store(config, save)


def cmd_roster_import(config: Config, file: Path) -> int:
    from .event.loaders import parse_roster_csv
    from .store.base import AuditRecord

    participants = parse_roster_csv(file.read_bytes(), source=str(file))

    async def save(store: Any) -> int:
        added, updated = await store.upsert_participants(participants)
        await store.append_audit(
            AuditRecord(
                at=time.time(),
                kind="roster_import",
                device="cli",
                detail={"file": str(file), "added": added, "updated": updated},
            )
        )
        print(f"imported {len(participants)} participants: {added} added, {updated} updated")
        return 0

    return _with_store(config, save)


def cmd_token_issue(config: Config, args: argparse.Namespace) -> int:
    from .auth import TokenSigner, load_or_create_secret, parse_ttl

    ttl_s = parse_ttl(args.ttl)  # a bad --ttl is refused before anything is opened
    if args.participant is not None:
        # A trainee token for nobody on the roster would watch uncounted: say so now.
        async def known(store: Any) -> int:
            return 0 if await store.get_participant(args.participant) is not None else 1

        if _with_store(config, known) != 0:
            print(
                f"unknown participant {args.participant!r}: import the roster first"
                " ('podium roster import FILE.csv')",
                file=sys.stderr,
            )
            return 1
    signer = TokenSigner(load_or_create_secret(config.secret_file))
    token = signer.issue(
        args.role,
        now=time.time(),
        ttl_s=ttl_s,
        session=args.session,
        participant=args.participant,
        device=args.device,
    )
    print(token)
    return 0


def cmd_revoke(config: Config, kind: str, value: str) -> int:
    from .store.base import AuditRecord

    if kind == "token":
        from .auth import TokenSigner, load_or_create_secret

        # Accept the token itself (verified, so nobody revokes by guessing) or a bare jti.
        if value.startswith("pd1."):
            signer = TokenSigner(load_or_create_secret(config.secret_file))
            value = signer.verify(value, now=0).jti

    async def save(store: Any) -> int:
        now = time.time()
        await store.revoke(kind, value, now)
        await store.append_audit(
            AuditRecord(at=now, kind="revoke", device="cli", detail={"what": kind, "value": value})
        )
        print(f"revoked {kind} {value}")
        return 0

    return _with_store(config, save)


def cmd_backup(config: Config, out: Path) -> int:
    from .store.sqlite import path_from_url
    from .store.sqlite_backup import backup_sqlite

    if not config.store.startswith("sqlite://"):
        print(
            "podium backup copies a SQLite store; for Redis, copy its append-only file"
            " and snapshots (redis-cli BGSAVE) as docs/security.md says",
            file=sys.stderr,
        )
        return 2
    path = path_from_url(config.store)
    if path == ":memory:":
        print("an in-memory store has nothing to back up", file=sys.stderr)
        return 2
    pages = backup_sqlite(path, out)
    print(f"backed up {path} to {out} ({pages} pages, readable by its owner only)")
    return 0


def cmd_badges(config: Config, out: Path) -> int:
    from .auth import BadgeSigner, load_or_create_secret
    from .auth.badge_sheet import write_badges

    signer = BadgeSigner.from_secret(load_or_create_secret(config.secret_file))

    async def make(store: Any) -> int:
        participants = await store.list_participants()
        event = await store.load_event()
        if not participants:
            print("no participants: run 'podium roster import FILE.csv' first", file=sys.stderr)
            return 1
        write_badges(out, participants, signer, title=event.title if event else "Podium")
        print(f"wrote {len(participants)} badges to {out}")
        return 0

    return _with_store(config, make)


def cmd_report(config: Config, args: argparse.Namespace) -> int:
    """Attendance and certificate reports, computed from what the store recorded."""
    from .attendance.certificates import CertificateSigner
    from .attendance_service import AttendanceService
    from .auth import BadgeSigner, load_or_create_secret
    from .event.holder import EventHolder
    from .web.reports import build_report

    secret = load_or_create_secret(config.secret_file)

    async def make(store: Any) -> int:
        event = await store.load_event()
        if event is None:
            print("no event loaded: run 'podium event load FILE.toml' first", file=sys.stderr)
            return 1
        service = AttendanceService(
            store,
            EventHolder(event),
            BadgeSigner.from_secret(secret),
            CertificateSigner.from_secret(secret),
            clock=time.time,
        )
        body, _ = await build_report(service, args.kind, args.format, config.base_url)
        args.out.write_bytes(body)
        print(f"wrote the {args.kind} report to {args.out}")
        return 0

    return _with_store(config, make)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as exc:
        print(f"podium: bad configuration: {exc}", file=sys.stderr)
        return 2
    from . import logs

    logs.configure(config.log_level)
    try:
        if args.command == "serve":
            return cmd_serve(config)
        if args.command == "event":
            return cmd_event_load(config, args.file)
        if args.command == "roster":
            return cmd_roster_import(config, args.file)
        if args.command == "token" and args.action == "issue":
            return cmd_token_issue(config, args)
        if args.command == "token" and args.action == "revoke":
            return cmd_revoke(config, "token", args.token)
        if args.command == "badge":
            return cmd_revoke(config, "badge", args.participant)
        if args.command == "badges":
            return cmd_badges(config, args.out)
        if args.command == "backup":
            return cmd_backup(config, args.out)
        if args.command == "report":
            return cmd_report(config, args)
    except InvalidFile as exc:
        print(f"podium: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"podium: {exc}", file=sys.stderr)
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
