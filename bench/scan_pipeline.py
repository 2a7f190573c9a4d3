"""The scan path inside one server process, without sockets: CPU per scan, ours vs an
earlier commit, side by side in one run.

    .venv/bin/python bench/scan_pipeline.py [--scans 20000] [--stores sqlite,redis]
                                            [--baseline GIT-REF] [--repeat 3]

Each run is a fresh process: an attendance service on a real store (a SQLite file, or a
redis-server started as docker-compose.yml runs it), 2,000 trainees on the roster, one
session under way. Scans are submitted as the WebSocket adapter does (`submit` with a
`done` callback, at most 2,000 in flight), each answer made into its frame's text as
the adapter does, trainees going in and out in turn. Measured over `--scans` scans after
a warm-up: the process's CPU per 1,000 scans (the SQLite writer process and
redis-server are not counted: this is the pipeline's own cost) and the wall time.

The full system (sockets, load generators, dashboards) is bench/checkins.py; on a busy
machine its throughput swings with the neighbours' load, while this CPU figure shows a
change to the pipeline's code apart from that. `--baseline GIT-REF` runs the service as
it was at GIT-REF (its `server/podium_server` exported with `git archive`) right after
ours, `--repeat N` times with the order swapped every other round, and prints the
ratios ours / baseline of the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from baseline import export_server  # noqa: E402
from checkins import start_redis  # noqa: E402

PEOPLE = 2000
WINDOW = 2000
WARMUP = 4000


async def measure(store_url: str, scans: int) -> dict[str, float]:
    """In the child process: the figures of one run, on the podium_server it imports."""
    from podium_server.attendance import protocol
    from podium_server.attendance.certificates import CertificateSigner
    from podium_server.attendance.checkin import Scanner, ScanRequest
    from podium_server.attendance_service import AttendanceService
    from podium_server.auth import BadgeSigner
    from podium_server.event.holder import EventHolder
    from podium_server.event.model import Event, Participant, Session
    from podium_server.store.factory import open_store

    store = open_store(store_url)
    await store.open()
    now = time.time()
    start = datetime.fromtimestamp(now, UTC) - timedelta(minutes=5)
    session = Session(id="s1", title="S", start=start, end=start + timedelta(hours=3))
    event = Event(id="e", title="E", timezone="UTC", sessions=(session,))
    await store.save_event(event)
    await store.upsert_participants(
        [
            Participant(f"p{i}", "N", "n@x.org", "Org", "government", "Hubei", "in_person")
            for i in range(PEOPLE)
        ]
    )
    secret = b"b" * 32
    badges = BadgeSigner.from_secret(secret)
    codes = [badges.code_for(f"p{i}") for i in range(PEOPLE)]
    clock = [now]
    service = AttendanceService(
        store, EventHolder(event), badges, CertificateSigner.from_secret(secret), lambda: clock[0]
    )
    await service.start()
    door = Scanner("door", "bench")
    room = asyncio.Semaphore(WINDOW)
    finished = asyncio.Event()
    left = [0]
    # The answer as the adapter frames it: a value made a frame (answer_frame), or, in
    # code from before answers were values, the reply dict itself.
    answer_frame: Any = getattr(protocol, "answer_frame", None)

    def done_for(rid: str) -> Any:
        def done(result: Any) -> None:
            if isinstance(result, BaseException):
                raise result
            frame = result if isinstance(result, dict) else answer_frame(rid, result)
            protocol.encode(frame)
            room.release()
            left[0] -= 1
            if not left[0]:
                finished.set()

        return done

    async def run(count: int, first: int) -> None:
        left[0] = count
        finished.clear()
        for j in range(first, first + count):
            await room.acquire()
            clock[0] += 0.001
            rid = f"r{j}"
            direction = "in" if (j // PEOPLE) % 2 == 0 else "out"
            request = ScanRequest(rid, codes[j % PEOPLE], "s1", direction)
            service.scans.submit(request, door, done_for(rid))
        await finished.wait()

    await run(WARMUP, 0)
    cpu, wall = time.process_time(), time.perf_counter()
    await run(scans, WARMUP)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    await service.stop()
    await store.close()
    return {"cpu_ms_per_1000": cpu / scans * 1e6, "wall_ms_per_1000": wall / scans * 1e6}


def one_run(code_path: str, store_url: str, scans: int) -> dict[str, float]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [code_path, os.environ.get("PYTHONPATH")])),
    }
    out = subprocess.run(
        [sys.executable, __file__, "--child", store_url, "--scans", str(scans)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scans", type=int, default=20000)
    parser.add_argument("--stores", default="sqlite,redis")
    parser.add_argument("--baseline", default="")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child, args.scans))))
        return 0
    work = Path(tempfile.mkdtemp(prefix="podium-bench-pipeline-"))
    codes = [("ours", str(Path(__file__).resolve().parents[1] / "server"))]
    if args.baseline:
        (work / "baseline").mkdir()
        codes.append((args.baseline[:12], export_server(args.baseline, work / "baseline")))
    print(
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {args.scans} scans a run"
    )
    print(f"{'code':12} {'store':7} {'cpu ms/1000':>12} {'wall ms/1000':>13}")
    figures: dict[tuple[str, str], list[dict[str, float]]] = {}
    redis = None
    try:
        for store in args.stores.split(","):
            if store == "redis":
                redis, url = start_redis(work, [])
            runs = [
                (code, path)
                for round_ in range(args.repeat)
                for code, path in (codes if round_ % 2 == 0 else codes[::-1])
            ]
            if len(runs) > 16:
                parser.error("at most 16 runs a store (one Redis database each)")
            for n, (code, path) in enumerate(runs):  # each run on a store of its own
                if store == "redis":
                    store_url = f"{url.rsplit('/', 1)[0]}/{n}"
                else:
                    store_url = f"sqlite:///{work}/run-{n}.db"
                row = one_run(path, store_url, args.scans)
                figures.setdefault((code, store), []).append(row)
                print(
                    f"{code:12} {store:7} {row['cpu_ms_per_1000']:12.1f}"
                    f" {row['wall_ms_per_1000']:13.1f}",
                    flush=True,
                )
            if redis is not None:
                redis.terminate()
                redis.wait()
                redis = None
    finally:
        if redis is not None:
            redis.terminate()
    if args.baseline:
        base = args.baseline[:12]
        print(f"ours / {base} (medians):")
        for store in args.stores.split(","):
            ratios = []
            for key in ("cpu_ms_per_1000", "wall_ms_per_1000"):
                ours = statistics.median(r[key] for r in figures[("ours", store)])
                theirs = statistics.median(r[key] for r in figures[(base, store)])
                ratios.append(f"{key.removesuffix('_per_1000')} {ours / theirs:.2f}x")
            print(f"  {store:7} " + "  ".join(ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
