"""`loadtest checkins`: staff connections scanning as fast as the server answers (each
keeps --window scans in flight, the next sent from the previous one's answer), over the
event's real badge codes; then scans/s and answer latency. Scans are recorded for real:
run it against a test event."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rich.console import Console

from ..errors import AuthError, ClientError, UnreachableError, from_http, reason
from ..ws_session import ws_url
from .guard import MAX_CONNECTIONS, MAX_SECONDS, check_bounds, check_target
from .lean_ws import LeanStaff
from .summary import ms, pct, run_with_progress, table


@dataclass
class CheckinLoad:
    server: str
    token: str  # an organizer's: it lists the badge codes and may scan
    session: str
    connections: int = 16
    window: int = 1
    seconds: float = 10.0
    allow_remote: bool = False


@dataclass
class CheckinStats:
    acks: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    sent: int = 0


async def badge_codes(server: str, token: str) -> list[str]:
    """Every participant's badge code, from the organizer API."""
    url = f"{server.rstrip('/')}/api/v1/participants"
    try:
        async with (
            aiohttp.ClientSession(trust_env=False, timeout=aiohttp.ClientTimeout(total=30)) as http,
            http.get(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            if response.status != 200:
                body: dict[str, Any] = await response.json(content_type=None)
                error = body.get("error", {}) if isinstance(body, dict) else {}
                raise from_http(
                    response.status, error.get("code", ""), error.get("message", ""), "list badges"
                )
            data = await response.json()
    except (aiohttp.ClientConnectionError, TimeoutError) as exc:
        raise UnreachableError(f"cannot reach {url} ({reason(exc)})") from exc
    return [str(p["badge_code"]) for p in data.get("participants", [])]


async def connect_all(url: str, token: str, n: int) -> list[LeanStaff]:
    async def one(i: int) -> LeanStaff:
        try:
            return await LeanStaff.connect(url, token, f"loadtest-{i}")
        except OSError as exc:
            raise UnreachableError(f"cannot reach {url} ({reason(exc)})") from exc
        except RuntimeError as exc:
            raise AuthError(f"the server refused the token ({exc})") from exc

    staffs: list[LeanStaff] = []
    for start in range(0, n, 50):  # a few at a time, as doors open
        staffs += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 50))))
    return staffs


async def run_checkins(load: CheckinLoad, console: Console) -> int:
    check_target(load.server, load.allow_remote)
    check_bounds("--connections", load.connections, MAX_CONNECTIONS)
    check_bounds("--window", load.window, 64)
    check_bounds("--seconds", load.seconds, MAX_SECONDS)
    codes = await badge_codes(load.server, load.token)
    if not codes:
        raise ClientError("the roster is empty: import one before a check-in load test")
    if load.connections * load.window > len(codes):
        console.print(
            f"note: {load.connections * load.window} scans in flight share {len(codes)} badges:"
            " expect already_inside / not_inside outcomes",
            style="yellow",
        )
    staffs = await connect_all(ws_url(load.server), load.token, load.connections)
    stats = CheckinStats()
    run = os.urandom(3).hex()  # ids of this run only: a second run is not answered from the first
    loop = asyncio.get_running_loop()
    stop_at = time.monotonic() + load.seconds
    slots = load.connections * load.window

    def slot(staff: LeanStaff, c: int, w: int) -> None:
        mine = list(range(c * load.window + w, len(codes), slots)) or [0]
        direction = dict.fromkeys(mine, "in")
        k = 0
        sent_at = 0.0

        def scan_next() -> None:
            nonlocal k, sent_at
            if time.monotonic() >= stop_at or staff.closed:
                return
            i = mine[k % len(mine)]
            k += 1
            sent_at = time.perf_counter()
            stats.sent += 1
            msg: dict[str, object] = {
                "type": "scan",
                "id": f"lt{run}-c{c}w{w}n{k}",
                "code": codes[i],
                "session": load.session,
                "direction": direction[i],
            }
            staff.request(msg, answered)

        def answered(answer: dict[str, Any]) -> None:
            nonlocal k
            if answer.get("code") == "rate_limited":  # back off, scan the same badge again
                stats.outcomes["rate_limited"] += 1
                k -= 1
                loop.call_later(0.05, scan_next)
                return
            stats.acks.append(time.perf_counter() - sent_at)
            stats.outcomes[str(answer.get("outcome") or answer.get("code"))] += 1
            i = mine[(k - 1) % len(mine)]
            direction[i] = "out" if direction[i] == "in" else "in"
            scan_next()

        scan_next()

    started = time.monotonic()
    for c, staff in enumerate(staffs):
        for w in range(load.window):
            slot(staff, c, w)

    def status() -> str:
        rate = len(stats.acks) / max(time.monotonic() - started, 1e-6)
        return f"{len(stats.acks):,} answered  {rate:,.0f}/s"

    try:
        await run_with_progress(console, "check-ins", load.seconds, status)
        await asyncio.sleep(0.5)  # the last answers
    finally:
        for staff in staffs:
            staff.close()
    took = time.monotonic() - started
    rows = [
        ("connections x in flight", f"{load.connections} x {load.window}"),
        ("badges on the roster", f"{len(codes):,}"),
        ("session", load.session),
        ("scans sent", f"{stats.sent:,}"),
        ("scans answered", f"{len(stats.acks):,}"),
        ("answered per second", f"{len(stats.acks) / took:,.0f}"),
        ("answer p50", ms(pct(stats.acks, 0.5))),
        ("answer p99", ms(pct(stats.acks, 0.99))),
        ("answer max", ms(max(stats.acks, default=float("nan")))),
    ]
    rows += [(f"outcome {name}", f"{n:,}") for name, n in stats.outcomes.most_common()]
    console.print(table(f"check-in load on {load.server}", rows))
    if not stats.acks:
        raise ClientError("no scan was answered")
    return 0
