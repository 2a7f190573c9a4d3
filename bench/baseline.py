"""The server as it was at an earlier commit, for the benches' `--baseline GIT-REF`."""

from __future__ import annotations

import subprocess
from pathlib import Path


def export_server(ref: str, into: str | Path) -> str:
    """`server/` of git commit `ref` into `into`; returns the path to put on PYTHONPATH."""
    repo = Path(__file__).resolve().parent.parent
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", ref, "server/podium_server"],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return str(Path(into) / "server")
