"""A real `podium serve` process for the client's tests: its own SQLite store, event and
roster, on a fixed port so it can be stopped and started again where clients find it."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from loopback import free_port
from podium_server.auth import BadgeSigner, TokenSigner, load_or_create_secret
from tokens import sign

TRAINEES = [
    ("T001", "Zhang Wei", "Shenzhen Tech Transfer Centre", "transfer_center", "Guangdong"),
    ("T002", "Li Na", "Wuhan University", "university", "Hubei"),
    ("T003", "Wang Fang", "Beijing S&T Commission", "government", "Beijing"),
    ("T004", "Chen Jie", "Suzhou Industrial Park", "industrial_park", "Jiangsu"),
    ("T005", "Liu Yang", "Sichuan Research Institute", "research_institute", "Sichuan"),
    ("T006", "Huang Min", "Zhejiang Enterprise Ltd", "enterprise", "Zhejiang"),
]
LOOPBACK_ENV = {"PODIUM_ICE_ADDRESSES": "127.0.0.1", "NO_PROXY": "*", "no_proxy": "*"}


class ServerProcess:
    def __init__(self, work: Path, store: str | None = None) -> None:
        self.work = work
        self.db = work / "server.db"
        self.store = store or f"sqlite:///{self.db}"
        self.secret_file = work / "secret.key"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        secret = load_or_create_secret(self.secret_file)
        self.tokens = TokenSigner(secret)
        self.badges = BadgeSigner.from_secret(secret)
        self._load()

    def _podium(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "podium_server.cli",
            "--store",
            self.store,
            "--secret-file",
            str(self.secret_file),
            "--log-level",
            "WARNING",
            *args,
        ]

    def _load(self) -> None:
        now = datetime.now(UTC).replace(microsecond=0)
        start = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
        end = (now + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        toml = self.work / "event.toml"
        toml.write_text(
            f'[event]\nid = "client-test"\ntitle = "Client test"\ntimezone = "UTC"\n\n'
            f'[[sessions]]\nid = "hall"\ntitle = "Main hall"\nstart = {start}\nend = {end}\n'
            f'mode = "hybrid"\nstream = true\n\n'
            f'[[sessions]]\nid = "side"\ntitle = "Side room"\nstart = {start}\nend = {end}\n'
            f'mode = "in_person"\nstream = false\n'
        )
        roster = self.work / "roster.csv"
        lines = ["id,name,email,organization,org_type,province,mode"]
        for pid, name, org, kind, province in TRAINEES:
            lines.append(f"{pid},{name},{pid.lower()}@example.org,{org},{kind},{province},hybrid")
        roster.write_text("\n".join(lines) + "\n")
        for args in (("event", "load", str(toml)), ("roster", "import", str(roster))):
            subprocess.run(self._podium(*args), check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        assert self.proc is None
        self.proc = subprocess.Popen(
            self._podium("serve", "--port", str(self.port)),
            env=os.environ | LOOPBACK_ENV,
            stdout=subprocess.DEVNULL,
            stderr=(self.work / "server.log").open("ab"),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.work / "server.log").read_text()[-2000:])
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
            self.proc = None

    def revoke(self, token: str) -> None:
        """`podium token revoke`, as an organizer would on a lost scanner."""
        subprocess.run(
            self._podium("token", "revoke", token), check=True, capture_output=True, timeout=60
        )

    def token(self, role: str, **claims: str) -> str:
        return sign(self.tokens, role, **claims)

    def badge(self, pid: str) -> str:
        return self.badges.code_for(pid)

    def recorded_scans(self) -> list[tuple[str, str, float]]:
        """(participant, direction, time) of every door scan the store holds."""
        with sqlite3.connect(self.db) as db:
            rows = db.execute(
                "SELECT participant_id, direction, at FROM door_scans ORDER BY at"
            ).fetchall()
        return [(str(p), str(d), float(a)) for p, d, a in rows]

    def attendance(self, session: str) -> dict[str, object]:
        """The organizer's live picture of a session, from the HTTP API."""
        request = urllib.request.Request(
            f"{self.url}/api/v1/sessions/{session}/attendance",
            headers={"Authorization": f"Bearer {self.token('organizer')}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def watch_seconds(self, session: str, participant: str) -> float:
        """Online time the server measured delivering `session` to `participant`."""
        with sqlite3.connect(self.db) as db:
            row = db.execute(
                "SELECT coalesce(sum(end - start), 0) FROM watches"
                " WHERE session_id = ? AND participant_id = ?",
                (session, participant),
            ).fetchone()
        return float(row[0])

    def audited_scans(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.db) as db:
            rows = db.execute("SELECT detail FROM audit WHERE kind = 'scan' ORDER BY seq")
            return [json.loads(r[0]) for r in rows]


class Client:
    """A `podium-client` process whose output lines are collected as they come."""

    def __init__(self, *args: str, stdin: int | None = subprocess.PIPE) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "podium_client.cli", *args],
            env=os.environ | LOOPBACK_ENV,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _pump(self, stream: object, into: list[str]) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._changed:
                into.append(line.rstrip("\n"))
                self._changed.notify_all()

    def send(self, *lines: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("".join(f"{line}\n" for line in lines))
        self.proc.stdin.flush()

    def close_input(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()

    def wait_for(self, text: str, count: int = 1, within: float = 20.0) -> list[str]:
        """The output lines containing `text`, once there are `count` of them."""
        deadline = time.monotonic() + within
        with self._changed:
            while True:
                found = [line for line in self.lines if text in line]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._alive_readers():
                    raise AssertionError(
                        f"{count} x {text!r} not seen; out: {self.lines} err: {self.errors}"
                    )
                self._changed.wait(min(left, 0.5))

    def _alive_readers(self) -> bool:
        return any(r.is_alive() for r in self._readers)

    def finish(self, within: float = 60.0) -> int:
        code = self.proc.wait(timeout=within)
        for reader in self._readers:
            reader.join(timeout=5)
        return code
