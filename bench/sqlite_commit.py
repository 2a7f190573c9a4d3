"""The SQLite check-in commit alone: `SqliteStore.commit` on a real file, our code and a
baseline side by side in one run.

Each round starts one process per code (ours, and with `--baseline GIT-REF` the server as
it was at that commit, exported with `git archive` and put first on PYTHONPATH), which
opens a fresh database file and commits `--batches` batches of `--batch-size` door
scans (each a first scan of its pair, as at a door's opening rush), `--in-flight` at a
time as the server keeps them. It prints, per code, the medians over the rounds of:

- scans/s committed (acknowledged: inserted, COMMITted and fsynced by the writer process),
- the event loop's CPU per scan (encoding the rows, pickling, the pipe, the answers),
- the CPU per scan of the process's other threads (the background WAL checkpoints),
- the writer process's CPU per scan (unpickling, the checks, the inserts),
- commit latency p50/p99 (call to answer, one batch),

and with a baseline, the ratios ours / baseline. The order of the codes alternates every
round, so the machine's mood falls on both. The whole server (sockets, decisions) is
`bench/checkins.py`'s; this isolates the part the store owns.

    python bench/sqlite_commit.py [--batches 400] [--batch-size 64] [--in-flight 3]
        [--rounds 3] [--baseline GIT-REF]
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
from pathlib import Path
from typing import Any

from baseline import export_server

FIELDS = (
    "scans_per_s",
    "loop_us_per_scan",
    "threads_us_per_scan",
    "writer_us_per_scan",
    "p50_ms",
    "p99_ms",
)


def store_records() -> Any:
    """The store's records module of the code this child runs: `store/records.py`, or
    `store/base.py` in a baseline from before it was renamed."""
    try:
        from podium_server.store import records
    except ImportError:
        from podium_server.store import base as records  # type: ignore[no-redef]
    return records


def build_batches(batches: int, size: int) -> list[list[Any]]:
    from podium_server.attendance.records import DoorScan, PairLedger

    records = store_records()

    out = []
    for b in range(batches):
        batch = []
        for i in range(size):
            n = b * size + i
            pid, key = f"P{n:07d}", f"door-1:{n:012d}"
            scan = DoorScan(key, "s1", pid, "in", 1.7e9 + n, "door-1", 1.7e9 + n, seq=n + 1)
            reply = {"type": "scan.result", "re": key, "status": "accepted", "direction": "in"}
            batch.append(
                records.LedgerWrite(
                    dedupe_key=key,
                    stored=records.StoredReply({**reply, "participant": {"id": pid}}, "s1", pid),
                    audit=records.AuditRecord(
                        1.7e9 + n, "scan", "door-1", "jti-1", {"id": key, "participant": pid}
                    ),
                    pair=PairLedger("s1", pid, (scan,), 1),
                    inside=True,
                    door_seen=True,
                    appended=(scan,),
                    recent={"participant": pid, "direction": "in", "at": 1.7e9 + n},
                    unrevoked_badge=pid,
                    token="jti-1",
                )
            )
        out.append(batch)
    return out


async def measure(path: str, batches: list[list[Any]], in_flight: int) -> dict[str, float]:
    from podium_server.store.sqlite import SqliteStore

    committed = store_records().COMMITTED

    store = SqliteStore(path)
    await store.open()
    latencies: list[float] = []
    gate = asyncio.Semaphore(in_flight)

    async def commit(batch: list[Any]) -> None:
        async with gate:
            start = time.perf_counter()
            results = await store.commit(batch)
            latencies.append(time.perf_counter() - start)
            assert all(r.status == committed for r in results), results[:3]

    try:
        await commit(batches[0])  # starts the writer process; not measured
        # the writer's pid: the store's own business, read here as both codes keep it
        writer_pid = store._writer.pid  # type: ignore[attr-defined]
        latencies.clear()
        writer_cpu = cpu_seconds(writer_pid)
        loop_cpu, cpu, wall = time.thread_time(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(commit(b) for b in batches[1:]))
        loop_cpu, cpu = time.thread_time() - loop_cpu, time.process_time() - cpu
        wall = time.perf_counter() - wall
        writer_cpu = cpu_seconds(writer_pid) - writer_cpu
    finally:
        await store.close()
    scans = sum(len(b) for b in batches[1:])
    ordered = sorted(latencies)
    return {
        "scans_per_s": scans / wall,
        "loop_us_per_scan": loop_cpu / scans * 1e6,
        # the server's other threads: the background WAL checkpoints
        "threads_us_per_scan": (cpu - loop_cpu) / scans * 1e6,
        "writer_us_per_scan": writer_cpu / scans * 1e6,
        "p50_ms": ordered[len(ordered) // 2] * 1e3,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU a running process has used (Linux /proc; 10 ms ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_main(args: argparse.Namespace) -> None:
    batches = build_batches(args.batches + 1, args.batch_size)
    with tempfile.TemporaryDirectory(prefix="podium-bench-commit-") as work:
        figures = asyncio.run(measure(str(Path(work) / "bench.db"), batches, args.in_flight))
    print(json.dumps(figures))


def run_code(env: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", "--batches", str(args.batches)]
    command += ["--batch-size", str(args.batch_size), "--in-flight", str(args.in_flight)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--in-flight", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", default="", help="also measure the server at this commit")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return
    with tempfile.TemporaryDirectory(prefix="podium-bench-baseline-") as work:
        codes = [("ours", dict(os.environ))]
        if args.baseline:
            pythonpath = os.pathsep.join(
                [export_server(args.baseline, Path(work)), os.environ.get("PYTHONPATH", "")]
            )
            codes.append((args.baseline[:12], {**os.environ, "PYTHONPATH": pythonpath}))
        runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in codes}
        for round_ in range(args.rounds):
            for name, env in codes if round_ % 2 == 0 else codes[::-1]:
                runs[name].append(run_code(env, args))
                print(f"round {round_ + 1} {name}: " + fmt(runs[name][-1]), flush=True)
    medians = {
        name: {f: statistics.median(r[f] for r in rs) for f in FIELDS} for name, rs in runs.items()
    }
    print(f"medians of {args.rounds} rounds, {args.batches} batches of {args.batch_size}:")
    for name, figures in medians.items():
        print(f"  {name}: {fmt(figures)}")
    if args.baseline:
        ours, base = medians["ours"], medians[args.baseline[:12]]
        ratios = ", ".join(f"{f} {ours[f] / max(base[f], 1e-9):.2f}x" for f in FIELDS)
        print(f"ours / {args.baseline[:12]}: {ratios}")


def fmt(figures: dict[str, float]) -> str:
    return (
        f"{figures['scans_per_s']:,.0f} scans/s, loop {figures['loop_us_per_scan']:.1f} us/scan,"
        f" checkpoints {figures['threads_us_per_scan']:.1f} us/scan,"
        f" writer {figures['writer_us_per_scan']:.1f} us/scan,"
        f" commit p50 {figures['p50_ms']:.1f} ms p99 {figures['p99_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
