"""`podium`'s commands that work on the store, each its own process: load the
programme, import the roster, issue and revoke tokens, print badges, back up, report.
Each opens the store, does its one thing and closes it; changes that running nodes hold
in memory are announced on the message bus."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .config import Config


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


async def _announce(config: Config, message: dict[str, Any]) -> None:
    """Tell running nodes about a change made here (with Redis; a SQLite server is
    another process, which this in-process bus cannot reach)."""
    from .store.factory import open_bus

    bus = open_bus(config.store)
    await bus.open()
    try:
        await bus.publish(message)
    finally:
        await bus.close()


def cmd_event_load(config: Config, file: Path) -> int:
    from .event.loaders import load_event_file
    from .store.bus import event_loaded

    event = load_event_file(file)

    async def save(store: Any) -> int:
        await store.save_event(event)
        await _announce(config, event_loaded(event.id))
        print(f"loaded event {event.id!r}: {len(event.sessions)} sessions")
        return 0

    return _with_store(config, save)


def cmd_roster_import(config: Config, file: Path) -> int:
    from .event.loaders import parse_roster_csv
    from .store.bus import ROSTER_CHANGED
    from .store.records import AuditRecord

    participants = parse_roster_csv(file.read_bytes(), source=str(file))

    async def save(store: Any) -> int:
        added, updated = await store.upsert_participants(participants)
        await _announce(config, ROSTER_CHANGED)  # nodes drop their cached roster
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
    from .store.records import AuditRecord

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
    from .store.sqlite import backup_sqlite, path_from_url

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
