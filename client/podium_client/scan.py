"""`podium-client scan`: badge codes from stdin (a USB scanner types them like a keyboard),
each outcome printed in colour with the trainee's name. Every scan goes through the local
queue (scan_queue.py), so a scanner that loses the server goes on scanning, and the
queue is sent, with each scan's own time, when the server is back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from rich.console import Console
from rich.text import Text

from .errors import EXIT_OK, EXIT_PENDING, AuthError, ClientError, NotFoundError
from .scan_queue import QueuedScan, ScanQueue
from .ws_session import Offline, WsSession

# Answers that leave a scan queued, to be sent again (the same id) later: the server
# could not record it now. A connection that drops is the same case.
RETRY_CODES = frozenset({"unavailable", "rate_limited", "internal"})
MAX_BATCH = 500  # the server takes at most this many scans in one `sync`
# Outcomes and states by colour: green in, yellow look again, red refused (the default).
STYLES = {
    "accepted": "bold green",
    "already_inside": "yellow",
    "not_inside": "yellow",
    "queued": "yellow",
    "offline": "bold yellow",
    "online": "bold green",
}
BACKOFF_S = (0.5, 1.0, 2.0, 3.0, 5.0)


@dataclass
class ScanOptions:
    server: str
    token: str
    session: str
    direction: str
    queue_path: Path
    device: str | None = None
    exit_at_end: bool = False


class Scanner:
    def __init__(self, opts: ScanOptions, console: Console) -> None:
        self.opts = opts
        self.console = console
        self.queue = ScanQueue(opts.queue_path, opts.server)
        default_device = f"cli-{socket.gethostname()}"[:64]
        self.device = opts.device or self.queue.setting("device", default_device)
        self.wake = asyncio.Event()
        self.input_done = False
        self.online: bool | None = None  # None: not tried yet
        self.session: WsSession | None = None
        self.closed = False
        self.announced: set[str] = set()  # ids of the scans already shown as queued

    # -- input --------------------------------------------------------------------------

    def take(self, line: str) -> None:
        code = line.strip()
        if not code or self.closed:
            return
        scan = self.queue.add(code, self.opts.session, self.opts.direction, self.opts.token)
        if self.online is False:
            self.announce_queued([scan])
        self.wake.set()

    def announce_queued(self, scans: list[QueuedScan]) -> None:
        """Each scan kept for later gets its line once: the person at the door sees it."""
        waiting = self.queue.count_pending()
        for scan in scans:
            if scan.id not in self.announced:
                self.announced.add(scan.id)
                self.say(scan.scanned_at, "queued", "QUEUED", f"{waiting} waiting for the server")

    def end_of_input(self) -> None:
        self.input_done = True
        self.wake.set()

    # -- output -------------------------------------------------------------------------

    def say(self, at: float, style_key: str, label: str, rest: str) -> None:
        line = Text(time.strftime("%H:%M:%S ", time.localtime(at)))
        line.append(
            f"{label:<18}",
            style=STYLES.get(style_key, "bold red"),
        )
        line.append(rest)
        self.console.print(line, highlight=False, soft_wrap=True)

    def show(self, scan: QueuedScan, reply: dict[str, Any]) -> None:
        late = time.time() - scan.scanned_at > 2.0
        note = f"  (scanned {time.strftime('%H:%M:%S', time.localtime(scan.scanned_at))})"
        if reply.get("type") == "scan.result":
            outcome = str(reply.get("outcome"))
            person = reply.get("participant") or {}
            who = str(person.get("name") or "")
            org = str(person.get("organization") or "")
            text = f"{who} · {org}" if who and org else who or scan.code[:24]
            self.say(time.time(), outcome, outcome.upper(), text + (note if late else ""))
        else:
            code = str(reply.get("code"))
            self.say(time.time(), code, f"ERROR {code}", str(reply.get("message", "")))

    # -- sending ------------------------------------------------------------------------

    async def connect(self) -> WsSession:
        session = await WsSession.open(self.opts.server, self.opts.token, self.device)
        role = session.welcome.get("role")
        if role not in ("staff", "organizer"):
            await session.close()
            raise AuthError(f"a {role} token cannot scan: use a staff token")
        event = session.welcome.get("event") or {}
        ids = [s.get("id") for s in event.get("sessions", [])]
        if self.opts.session not in ids:
            await session.close()
            raise NotFoundError(
                f"unknown session {self.opts.session!r}; this event has: {', '.join(map(str, ids))}"
            )
        bound = session.welcome.get("session")
        if bound and bound != self.opts.session:
            await session.close()
            raise AuthError(f"this staff token scans only session {bound!r}")
        return session

    async def send_batch(self, session: WsSession, batch: list[QueuedScan]) -> int:
        """Send pending scans; record the answers. Returns how many must be sent again."""
        self.queue.mark_sent(batch)
        if len(batch) == 1:
            replies = [await session.request(batch[0].message())]
        else:
            msg = {"type": "sync", "scans": [s.message() for s in batch]}
            reply = await session.request(msg, wait_s=60.0)
            if reply.get("type") != "sync.result":
                replies = [reply] * len(batch)
            else:
                replies = list(reply.get("results", []))
        done: list[tuple[QueuedScan, dict[str, Any]]] = []
        retry = 0
        for scan, answer in zip(batch, replies, strict=False):
            code = answer.get("code") if answer.get("type") == "error" else None
            if code == "forbidden" and "token" in str(answer.get("message", "")):
                raise AuthError(f"the server refused the token: {answer.get('message')}")
            if code in RETRY_CODES:
                retry += 1
                continue
            done.append((scan, answer))
        retry += max(0, len(batch) - len(replies))
        self.queue.answer(done)  # durable before shown: a crash now resends nothing
        for scan, answer in done:
            self.show(scan, answer)
        return retry

    def went_offline(self, why: str) -> None:
        if self.online is not False:
            waiting = self.queue.count_pending()
            self.say(
                time.time(), "offline", "OFFLINE", f"{why}; {waiting} scans kept until it is back"
            )
        self.online = False

    async def pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()

    async def run(self) -> int:
        """Send until input has ended and the queue is empty (or, with --exit, until input
        has ended and the server cannot take the rest). Returns the exit code."""
        failures = 0
        try:
            while True:
                self.wake.clear()
                batch = self.queue.pending(MAX_BATCH)
                if not batch:
                    if self.input_done:
                        return EXIT_OK
                    await self.wake.wait()
                    continue
                if self.session is None or self.session.closed:
                    try:
                        self.session = await self.connect()
                    except Offline as exc:
                        self.session = None
                        self.went_offline(f"server unreachable: {exc}")
                        self.announce_queued(batch)
                        if self.input_done and self.opts.exit_at_end:
                            return self.left_queued()
                        await self.pause(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                        failures += 1
                        continue
                    if self.online is False:
                        self.say(
                            time.time(),
                            "online",
                            "ONLINE",
                            f"sending {self.queue.count_pending()} queued scans",
                        )
                    self.online = True
                    self.warn_other_tokens()
                try:
                    retry = await self.send_batch(self.session, batch)
                except Offline as exc:
                    await self.session.close()
                    self.session = None
                    self.went_offline(str(exc))
                    self.announce_queued(batch)
                    continue
                if retry:
                    # The server is up but cannot record now (its store is away): like offline.
                    self.went_offline(f"the server cannot record scans now ({retry} to resend)")
                    self.announce_queued(self.queue.pending(MAX_BATCH))
                    if self.input_done and self.opts.exit_at_end:
                        return self.left_queued()
                    await self.pause(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
                    failures += 1
                    continue
                failures = 0
                self.online = True
        finally:
            if self.session is not None:
                await self.session.close()

    def left_queued(self) -> int:
        n = self.queue.count_pending()
        self.console.print(
            f"{n} scans stay queued in {self.queue.path}; they are sent at the next start",
            style="yellow",
        )
        return EXIT_PENDING

    def warn_other_tokens(self) -> None:
        others = self.queue.other_tokens(self.opts.token)
        if others:
            self.console.print(
                f"note: {others} queued scans were taken with another token; sent with this one",
                style="yellow",
            )


def read_lines(
    stream: TextIO,
    loop: asyncio.AbstractEventLoop,
    take: Callable[[str], None],
    end: Callable[[], None],
) -> threading.Thread:
    """Read `stream` line by line on a thread (a terminal, a pipe or a file alike)."""

    def pump() -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed first: nothing to do
            try:
                for line in stream:
                    loop.call_soon_threadsafe(take, line)
            finally:
                loop.call_soon_threadsafe(end)

    thread = threading.Thread(target=pump, name="stdin", daemon=True)
    thread.start()
    return thread


async def scan_command(opts: ScanOptions, console: Console, stream: TextIO | None = None) -> int:
    scanner = Scanner(opts, console)
    try:
        read_lines(
            stream or sys.stdin, asyncio.get_running_loop(), scanner.take, scanner.end_of_input
        )
        return await scanner.run()
    except ClientError as err:
        pending = scanner.queue.count_pending()
        if pending:
            err.message += f" ({pending} scans stay queued in {scanner.queue.path})"
        raise
    finally:
        scanner.closed = True
        scanner.queue.close()
