"""`podium-client scan` against a real server process: stdin in, outcomes out, the offline
queue across a server restart and across a SIGKILL of the client."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from redis_process import RedisProcess

from .server_process import Client, ServerProcess


def scan_args(server: ServerProcess, token: str, queue: Path, *extra: str) -> list[str]:
    return [
        "scan",
        "--server",
        server.url,
        "--token",
        token,
        "--session",
        "hall",
        "--queue",
        str(queue),
        *extra,
    ]


def test_codes_from_stdin_print_each_outcome_with_the_name(
    server: ServerProcess, tmp_path: Path
) -> None:
    staff = server.token("staff")
    client = Client("--color", "always", *scan_args(server, staff, tmp_path / "q.db"))
    client.send(server.badge("T001"), server.badge("T002"), server.badge("T001"), "not-a-badge")
    client.close_input()
    assert client.finish() == 0, client.errors
    out = "\n".join(client.lines)
    assert "ACCEPTED" in out and "Zhang Wei · Shenzhen Tech Transfer Centre" in out
    assert "Li Na · Wuhan University" in out
    assert "ALREADY_INSIDE" in out  # T001 scanned in twice
    assert "\x1b[1;32mACCEPTED" in out  # green, and the refusals are not
    refused = [line for line in client.lines if "not-a-badge"[:8] in line or "INVALID" in line]
    assert refused and "\x1b[1;31m" in refused[0]
    assert [(p, d) for p, d, _ in server.recorded_scans()] == [("T001", "in"), ("T002", "in")]


def test_no_colour_when_asked(server: ServerProcess, tmp_path: Path) -> None:
    client = Client(
        "--color", "never", *scan_args(server, server.token("staff"), tmp_path / "q.db")
    )
    client.send(server.badge("T003"))
    client.close_input()
    assert client.finish() == 0
    assert any("ACCEPTED" in line and "Wang Fang" in line for line in client.lines)
    assert not any("\x1b[" in line for line in client.lines)


def test_server_stopped_mid_run_then_restarted_loses_and_doubles_nothing(
    server: ServerProcess, tmp_path: Path
) -> None:
    client = Client(*scan_args(server, server.token("staff"), tmp_path / "q.db"))
    client.send(server.badge("T001"), server.badge("T002"))
    client.wait_for("ACCEPTED", 2)
    server.stop()
    offline_from = time.time()
    client.send(server.badge("T003"), server.badge("T004"), server.badge("T005"))
    client.wait_for("QUEUED", 3)
    time.sleep(1.5)  # the queued scans are older than the restart
    server.start()
    back_at = time.time()
    synced = client.wait_for("ACCEPTED", 5, within=30)
    client.close_input()
    assert client.finish() == 0, client.errors
    assert sum("(scanned" in line for line in synced) == 3  # sent late, with their own time
    recorded = server.recorded_scans()
    assert sorted(p for p, _, _ in recorded) == ["T001", "T002", "T003", "T004", "T005"]
    late = [at for p, _, at in recorded if p in ("T003", "T004", "T005")]
    assert all(offline_from - 1 <= at < back_at for at in late), (late, offline_from, back_at)
    assert len(server.audited_scans()) == 5


def test_client_killed_with_scans_queued_sends_them_once_when_started_again(
    stopped_server: ServerProcess, tmp_path: Path
) -> None:
    server = stopped_server
    staff = server.token("staff", device="door-east")
    queue = tmp_path / "q.db"
    first = Client(*scan_args(server, staff, queue))
    first.send(*(server.badge(p) for p in ("T001", "T002", "T003", "T004")))
    first.wait_for("QUEUED", 4)
    first.proc.send_signal(signal.SIGKILL)
    assert first.finish() == -signal.SIGKILL

    server.start()
    second = Client(*scan_args(server, staff, queue), stdin=subprocess.DEVNULL)
    assert second.finish() == 0, second.errors
    assert len([line for line in second.lines if "ACCEPTED" in line]) == 4
    assert sorted(p for p, _, _ in server.recorded_scans()) == ["T001", "T002", "T003", "T004"]

    # Killed after the server recorded a scan but before the answer was kept here: the
    # same scan is pending again. Sent again (same id), it is answered the same and
    # recorded once.
    with sqlite3.connect(queue) as db:
        db.execute("UPDATE scans SET answer = NULL, answered_at = NULL")
    third = Client(*scan_args(server, staff, queue), stdin=subprocess.DEVNULL)
    assert third.finish() == 0, third.errors
    assert len([line for line in third.lines if "ACCEPTED" in line]) == 4
    assert len(server.recorded_scans()) == 4
    assert len(server.audited_scans()) == 4

    # and a queue with nothing pending sends nothing
    fourth = Client(*scan_args(server, staff, queue), stdin=subprocess.DEVNULL)
    assert fourth.finish() == 0 and fourth.lines == []


def test_exit_flag_leaves_scans_queued_when_the_server_is_unreachable(
    stopped_server: ServerProcess, tmp_path: Path
) -> None:
    queue = tmp_path / "q.db"
    client = Client(*scan_args(stopped_server, stopped_server.token("staff"), queue, "--exit"))
    client.send(stopped_server.badge("T006"))
    client.close_input()
    assert client.finish() == 7
    assert any("1 scans stay queued" in line for line in client.lines)
    with sqlite3.connect(queue) as db:
        assert db.execute("SELECT count(*) FROM scans WHERE answered_at IS NULL").fetchone() == (1,)


def test_a_bad_token_is_one_clear_line_and_exit_code_3(
    server: ServerProcess, tmp_path: Path
) -> None:
    client = Client(*scan_args(server, "pd1.forged.token", tmp_path / "q.db"))
    client.send(server.badge("T001"))
    client.close_input()
    assert client.finish() == 3
    assert len(client.errors) == 1 and "token" in client.errors[0]
    assert "1 scans stay queued" in client.errors[0]


def test_an_unknown_session_is_exit_code_4(server: ServerProcess, tmp_path: Path) -> None:
    args = scan_args(server, server.token("staff"), tmp_path / "q.db")
    args[args.index("hall")] = "nowhere"
    client = Client(*args)
    client.send(server.badge("T001"))
    client.close_input()
    assert client.finish() == 4
    assert len(client.errors) == 1 and "unknown session 'nowhere'" in client.errors[0]


def test_a_trainee_token_cannot_scan(server: ServerProcess, tmp_path: Path) -> None:
    trainee = server.token("trainee", participant="T001")
    client = Client(*scan_args(server, trainee, tmp_path / "q.db"))
    client.send(server.badge("T001"))
    client.close_input()
    assert client.finish() == 3
    assert len(client.errors) == 1 and "a trainee token cannot scan" in client.errors[0]
    assert server.recorded_scans() == []


def test_a_store_outage_keeps_scans_queued_until_the_server_can_record_them(
    tmp_path: Path,
) -> None:
    """Redis stopped under a running server: it answers scans with an error that says
    nothing was recorded (`unavailable`; `internal` before that code existed), the
    client keeps them and sends the same ids again once the store is back."""
    redis = RedisProcess(tmp_path / "redis")
    redis.start()
    server = ServerProcess(tmp_path, store=redis.url)
    server.start()
    try:
        client = Client(*scan_args(server, server.token("staff"), tmp_path / "q.db"))
        client.send(server.badge("T001"))
        client.wait_for("ACCEPTED")
        redis.stop()
        client.send(server.badge("T002"), server.badge("T003"))
        client.wait_for("cannot record scans now")
        client.wait_for("QUEUED", 2)
        redis.start()
        client.wait_for("ACCEPTED", 3, within=40)
        client.close_input()
        assert client.finish() == 0, client.errors
        picture = server.attendance("hall")
        assert picture["inside"] == 3  # none lost
        in_room = sorted(t["participant"] for t in picture["trainees"] if t["room_s"] > 0)  # type: ignore[attr-defined, index]
        assert in_room == ["T001", "T002", "T003"]
        assert not any("ALREADY_INSIDE" in line for line in client.lines)  # none doubled
    finally:
        server.stop()
        redis.stop()


def test_a_token_revoked_mid_run_stops_the_scanner_and_keeps_its_scans(
    server: ServerProcess, tmp_path: Path
) -> None:
    staff = server.token("staff")
    client = Client(*scan_args(server, staff, tmp_path / "q.db"))
    client.send(server.badge("T001"))
    client.wait_for("ACCEPTED")
    server.revoke(staff)
    client.send(server.badge("T002"))
    assert client.finish() == 3
    assert len(client.errors) == 1 and "revoked" in client.errors[0], client.errors
    assert "1 scans stay queued" in client.errors[0]
    assert [p for p, _, _ in server.recorded_scans()] == ["T001"]


def test_killed_with_scans_in_flight_each_scan_is_recorded_exactly_once(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The hard case: scans sent, the server about to record them, the client killed
    before any answer. The server (frozen meanwhile with SIGSTOP) then records what it
    had received; the client, started again, sends the same ids again. Each scan is in
    the server's audit exactly once."""
    assert server.proc is not None
    staff = server.token("staff")
    queue = tmp_path / "q.db"
    first = Client(*scan_args(server, staff, queue))
    first.send(*(server.badge(p) for p in ("T001", "T002", "T003")))
    first.wait_for("ACCEPTED", 3)
    os.kill(server.proc.pid, signal.SIGSTOP)
    try:
        first.send(*(server.badge(p) for p in ("T004", "T005", "T006", "T001", "T002")))
        deadline = time.monotonic() + 20
        while queued(queue) < 8:
            assert time.monotonic() < deadline, queued(queue)
            time.sleep(0.1)
        time.sleep(1.0)  # sent: in the frozen server's socket buffer
        first.proc.send_signal(signal.SIGKILL)
        first.finish()
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
    with sqlite3.connect(queue) as db:
        taken = {row[0] for row in db.execute("SELECT id FROM scans")}
        left = db.execute("SELECT count(*) FROM scans WHERE answered_at IS NULL").fetchone()[0]
    assert len(taken) == 8 and left == 5
    # the case meant: the server recorded the in-flight scans its dead client never heard of
    deadline = time.monotonic() + 10
    while len(server.audited_scans()) < 8:
        assert time.monotonic() < deadline, "the server did not record the in-flight scans"
        time.sleep(0.2)
    second = Client(*scan_args(server, staff, queue), stdin=subprocess.DEVNULL)
    assert second.finish() == 0, second.errors
    assert len(second.lines) == 5
    audited = [str(d["id"]) for d in server.audited_scans()]
    assert sorted(audited) == sorted(taken)  # every one, each once


def queued(queue: Path) -> int:
    with sqlite3.connect(queue) as db:
        return int(db.execute("SELECT count(*) FROM scans").fetchone()[0])
