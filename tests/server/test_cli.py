"""The `podium` command as a user runs it: real subprocesses, real files, a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from loopback import free_port

EXAMPLES = Path(__file__).parents[2] / "examples"


def podium(tmp_path: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "PODIUM_SECRET_FILE": str(tmp_path / "secret.key"),
        "PODIUM_STORE": f"sqlite:///{tmp_path}/podium.db",
    }
    return subprocess.run(
        [sys.executable, "-m", "podium_server.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_serve_demo_answers_health_and_event(tmp_path: Path) -> None:
    port = free_port()
    env = os.environ | {"PODIUM_SECRET_FILE": str(tmp_path / "secret.key")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "podium_server.cli",
            "--store",
            f"sqlite:///{tmp_path}/p.db",
            "serve",
            "--demo",
            "--no-demo-stream",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        lines = []
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline and len(lines) < 6:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        out = "".join(lines)
        assert f"http://127.0.0.1:{port}" in out
        for page in ("/dashboard#token=pd1.", "/scan#token=pd1.", "/watch/opening#token=pd1."):
            assert page in out
        assert "?token" not in out  # tokens ride in the fragment, never a query string
        assert get_json(f"http://127.0.0.1:{port}/healthz") == {"status": "ok"}
        event = get_json(f"http://127.0.0.1:{port}/api/v1/event")
        assert event["id"] == "ciep2021-itt" and len(event["sessions"]) == 7
        organizer = re.search(r"/dashboard#token=(\S+)", out).group(1)  # type: ignore[union-attr]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/participants",
            headers={"Authorization": f"Bearer {organizer}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert len(json.loads(response.read())["participants"]) == 180
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0  # clean shutdown on SIGTERM


def test_token_issue_prints_the_token_alone(tmp_path: Path) -> None:
    out = podium(
        tmp_path,
        "token",
        "issue",
        "--role",
        "staff",
        "--session",
        "policy",
        "--device",
        "door-A-1",
        "--ttl",
        "2h",
    ).stdout
    assert re.fullmatch(r"pd1\.[\w-]+\.[\w-]+\n", out)


def test_token_issue_refuses_a_ttl_over_the_cap(tmp_path: Path) -> None:
    refused = podium(
        tmp_path, "token", "issue", "--role", "organizer", "--ttl", "100000d", check=False
    )
    assert refused.returncode != 0 and refused.stdout == ""
    assert "at most 30 days" in refused.stderr


def test_backup_is_a_consistent_owner_only_copy(tmp_path: Path) -> None:
    import sqlite3
    import stat

    podium(tmp_path, "roster", "import", str(EXAMPLES / "ciep2021-roster.csv"))
    out = tmp_path / "backups" / "podium-day1.db"
    old = os.umask(0o022)
    try:
        done = podium(tmp_path, "backup", "--out", str(out))
    finally:
        os.umask(old)
    assert "backed up" in done.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    copy = sqlite3.connect(out)
    assert copy.execute("SELECT count(*) FROM participants").fetchone()[0] == 180
    copy.close()
    assert sorted(p.name for p in out.parent.iterdir()) == ["podium-day1.db"]  # no leftovers
    redis = podium(
        tmp_path, "backup", "--out", str(out), "--store", "redis://127.0.0.1:1/0", check=False
    )
    assert redis.returncode == 2 and "Redis" in redis.stderr


def test_a_trainee_token_is_issued_only_for_someone_on_the_roster(tmp_path: Path) -> None:
    refused = podium(
        tmp_path, "token", "issue", "--role", "trainee", "--participant", "NOPE", check=False
    )
    assert refused.returncode == 1 and refused.stdout == ""
    assert "unknown participant 'NOPE'" in refused.stderr
    podium(tmp_path, "roster", "import", str(EXAMPLES / "ciep2021-roster.csv"))
    first = next(iter((EXAMPLES / "ciep2021-roster.csv").read_text().splitlines()[1:]))
    pid = first.split(",")[0]
    out = podium(tmp_path, "token", "issue", "--role", "trainee", "--participant", pid).stdout
    assert re.fullmatch(r"pd1\.[\w-]+\.[\w-]+\n", out)


def test_event_load_roster_import_and_badges(tmp_path: Path) -> None:
    assert "7 sessions" in podium(tmp_path, "event", "load", str(EXAMPLES / "ciep2021.toml")).stdout
    out = podium(tmp_path, "roster", "import", str(EXAMPLES / "ciep2021-roster.csv")).stdout
    assert "180 added" in out
    again = podium(tmp_path, "roster", "import", str(EXAMPLES / "ciep2021-roster.csv")).stdout
    assert "180 updated" in again
    podium(tmp_path, "badges", "--out", str(tmp_path / "badges.html"))
    assert (tmp_path / "badges.html").read_text().count('class="badge"') == 180
    podium(tmp_path, "badges", "--out", str(tmp_path / "badges.pdf"))
    assert (tmp_path / "badges.pdf").read_bytes().startswith(b"%PDF")


def test_bad_roster_file_reports_lines_and_exits_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("id,name,email,organization,org_type,province,mode\nP1,,,O,x,Beijing,online\n")
    result = podium(tmp_path, "roster", "import", str(bad), check=False)
    assert result.returncode == 1
    assert "line 2" in result.stderr and "name is empty" in result.stderr
