"""Progress while a load test runs, and its summary table (rich)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run_with_progress(
    console: Console, label: str, seconds: float, status: Callable[[], str]
) -> None:
    """A bar filling over `seconds`, with `status()` beside it, refreshed 4 times a second."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[status]}"),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(label, total=seconds, status=status())
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            progress.update(task, completed=elapsed, status=status())
            await asyncio.sleep(min(0.25, seconds - elapsed))
        progress.update(task, completed=seconds, status=status())


def table(title: str, rows: list[tuple[str, str]]) -> Table:
    out = Table(title=title, show_header=True, header_style="bold")
    out.add_column("measure")
    out.add_column("value", justify="right")
    for name, value in rows:
        out.add_row(name, value)
    return out


def ms(seconds: float) -> str:
    return "-" if seconds != seconds else f"{seconds * 1000:.1f} ms"  # NaN: none measured
