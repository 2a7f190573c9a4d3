"""docker-compose.yml: parsed, then its services run as processes (no docker engine here):
its redis-server command, its init steps and its two `podium serve` nodes, on 127.0.0.1.
A scan on node A shows on a dashboard subscribed on node B, and the same request retried
on node B is answered the same and recorded once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from podium_server.auth import BadgeSigner, TokenSigner, load_or_create_secret

ROOT = Path(__file__).resolve().parents[1]
APP = "/app/"  # where the Dockerfile puts the repository's files


def services() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def options(args: list[str]) -> dict[str, str]:
    """`--name value` pairs of a command line."""
    return {a: b for a, b in zip(args, args[1:], strict=False) if a.startswith("--")}


def test_compose_runs_redis_and_two_nodes_sharing_it_and_a_secret() -> None:
    s = services()
    assert {"redis", "init", "node-a", "node-b"} <= set(s)
    redis = options(s["redis"]["command"][1:])
    # every acknowledged scan on disk: the store's durability rests on these
    assert redis["--appendonly"] == "yes" and redis["--appendfsync"] == "always"
    nodes = [s["node-a"], s["node-b"]]
    ports = {options(n["command"])["--port"] for n in nodes}
    assert len(ports) == 2 and redis["--port"] not in ports
    assert len({n["environment"]["PODIUM_NODE_ID"] for n in nodes}) == 2
    for n in (*nodes, s["init"]):
        env = n["environment"]
        assert env["PODIUM_STORE"] == f"redis://127.0.0.1:{redis['--port']}/0"
        assert env["PODIUM_SECRET_FILE"].startswith("/secrets/")
        assert "secrets:/secrets" in n["volumes"]
        assert n["network_mode"] == "host"  # WebRTC needs the machine's own addresses
    for n in nodes:
        assert n["depends_on"]["init"]["condition"] == "service_completed_successfully"
        assert "PODIUM_ICE_ADDRESSES" in n["environment"]
    assert s["coturn"]["profiles"] == ["turn"]  # optional: only with --profile turn
    # what init loads is in the image
    for path in re.findall(rf"{APP}(\S+)", " ".join(s["init"]["command"])):
        assert (ROOT / path).is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY examples examples" in dockerfile and "pip install" in dockerfile


@pytest.fixture
def deployment(
    tmp_path: Path, unused_tcp_port_factory: Callable[[], int]
) -> Iterator[dict[str, Any]]:
    """The compose file's services as local processes, with free ports and a temp dir."""
    s = services()
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    free_port = unused_tcp_port_factory  # pytest-asyncio's: 127.0.0.1, never the same twice
    redis_port, ports = free_port(), {"node-a": free_port(), "node-b": free_port()}
    redis_args = s["redis"]["command"][1:]
    compose_redis_port = options(redis_args)["--port"]
    redis_args = [str(redis_port) if a == compose_redis_port else a for a in redis_args]
    procs = [
        subprocess.Popen(
            [exe, *redis_args, "--dir", str(tmp_path), "--save", ""],
            stdout=subprocess.DEVNULL,
        )
    ]

    def env_of(service: dict[str, Any]) -> dict[str, str]:
        env = dict(os.environ)
        for key, value in service["environment"].items():
            value = str(value).replace(f":{compose_redis_port}/", f":{redis_port}/")
            value = value.replace("/secrets/", f"{tmp_path}/secrets/")
            env[key] = "127.0.0.1" if value.startswith("${PODIUM_ICE_ADDRESSES") else value
        return env

    def podium(args: list[str]) -> list[str]:
        assert args[0] == "podium"
        local = [a.replace(APP, f"{ROOT}/") for a in args[1:]]
        return [sys.executable, "-m", "podium_server.cli", *local]

    assert podium(["podium"])[-1] == "podium_server.cli"

    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", redis_port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        init = s["init"]
        assert init["command"][:2] == ["sh", "-c"]
        podium_cmd = " ".join(shlex.quote(a) for a in podium(["podium"]))
        script = (
            init["command"][2]
            .replace(APP, f"{ROOT}/")
            .replace("/secrets/", f"{tmp_path}/secrets/")
            .replace("podium ", f"{podium_cmd} ")
        )

        def run_init() -> str:
            """Its output's last line: the organizer token (`token issue` prints it alone)."""
            return subprocess.run(
                ["sh", "-c", script], env=env_of(init), check=True, capture_output=True, text=True
            ).stdout.splitlines()[-1]

        (tmp_path / "secrets").mkdir()  # the compose file's `secrets` volume
        organizer = run_init().strip()
        assert (tmp_path / "secrets" / ".programme-loaded").exists()
        # `docker compose up` again: init runs again, but leaves the programme alone
        marker = (tmp_path / "secrets" / ".programme-loaded").stat().st_mtime_ns
        assert run_init().strip() != organizer  # a fresh token each time
        assert (tmp_path / "secrets" / ".programme-loaded").stat().st_mtime_ns == marker
        # The compose programme is CIEP 2021 (long past): a live one on top, for scanning.
        now = datetime.now(UTC).replace(microsecond=0)
        live = tmp_path / "live.toml"
        live.write_text(
            '[event]\nid = "live"\ntitle = "Live"\ntimezone = "UTC"\n[[sessions]]\n'
            f'id = "hall"\ntitle = "Hall"\nstart = {(now - timedelta(minutes=5)).isoformat()}\n'
            f"end = {(now + timedelta(hours=1)).isoformat()}\n"
        )
        roster = tmp_path / "roster.csv"
        roster.write_text(
            "id,name,email,organization,org_type,province,mode\n"
            "T1,Trainee One,t1@x.org,Org,government,Guangdong,in_person\n"
        )
        for extra in (["event", "load", str(live)], ["roster", "import", str(roster)]):
            subprocess.run(podium(["podium", *extra]), env=env_of(init), check=True)
        for name, port in ports.items():
            args = s[name]["command"]
            args = [str(port) if a == options(args)["--port"] else a for a in args]
            args = ["127.0.0.1" if a == "0.0.0.0" else a for a in args]
            procs.append(
                subprocess.Popen(podium(args), env=env_of(s[name]), stdout=subprocess.DEVNULL)
            )
        for port in ports.values():
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                        break
                except OSError:
                    assert time.monotonic() < deadline, "a node did not become ready"
                    time.sleep(0.1)
        secret = load_or_create_secret(Path(env_of(init)["PODIUM_SECRET_FILE"]))
        yield {"ports": ports, "organizer": organizer, "secret": secret}
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()


async def test_compose_services_as_processes_share_dashboards_and_dedupe(
    deployment: dict[str, Any],
) -> None:
    a, b = (f"http://127.0.0.1:{p}" for p in deployment["ports"].values())
    staff = TokenSigner(deployment["secret"]).issue("staff", now=time.time())
    code = BadgeSigner.from_secret(deployment["secret"]).code_for("T1")
    async with aiohttp.ClientSession() as http:

        async def hello(base: str, token: str, device: str) -> aiohttp.ClientWebSocketResponse:
            ws = await http.ws_connect(base.replace("http", "ws", 1) + "/ws")
            await ws.send_json({"type": "hello", "id": "h", "token": token, "device": device})
            assert (await ws.receive_json(timeout=10))["type"] == "welcome"
            return ws

        dash = await hello(b, deployment["organizer"], "dash-b")
        await dash.send_json({"type": "subscribe", "id": "sub"})
        snap = await dash.receive_json(timeout=10)
        assert snap["type"] == "snapshot" and snap["sessions"]["hall"]["inside"] == 0
        scan = {"type": "scan", "id": "x1", "code": code, "session": "hall", "direction": "in"}
        door = await hello(a, staff, "door-1")
        await door.send_json(scan)
        first = await door.receive_json(timeout=10)
        assert first["outcome"] == "accepted"

        async def update_showing_t1() -> dict[str, Any]:
            while True:
                msg = await dash.receive_json(timeout=10)
                if msg["type"] == "update" and msg["sessions"].get("hall", {}).get("inside"):
                    return dict(msg)

        upd = await asyncio.wait_for(update_showing_t1(), 15)
        assert upd["sessions"]["hall"]["recent"][0]["participant"] == "T1"
        # the door fails over to node B and retries: the same answer, recorded once
        await door.close()
        door = await hello(b, staff, "door-1")
        await door.send_json(scan)
        assert await door.receive_json(timeout=10) == first
        request = urllib.request.Request(
            f"{b}/api/v1/sessions/hall/attendance",
            headers={"Authorization": f"Bearer {deployment['organizer']}"},
        )
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(request, timeout=10).read())
        hall = json.loads(body)
        assert hall["inside"] == 1 and hall["attended"] == 1
        await door.close()
        await dash.close()
