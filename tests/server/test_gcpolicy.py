"""The server's GC policy is process-wide, so each check runs in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr


def test_survivors_of_middle_and_full_collections_are_frozen_and_thawed_every_so_often() -> None:
    run(
        """
        import gc, math, weakref
        from podium_server import gcpolicy

        gcpolicy.install()
        policy = next(c for c in gc.callbacks if isinstance(c, gcpolicy._Policy))
        base = gc.get_freeze_count()
        kept = [[i] for i in range(2000)]  # long-lived, like the ledger's objects
        gc.collect(1)
        assert gc.get_freeze_count() >= base + 2000, "gen-1 survivors frozen"

        class Node:
            pass

        cycle = Node()
        cycle.me = cycle  # garbage only a cyclic collection can free...
        alive = weakref.ref(cycle)
        gc.collect(1)  # ...frozen while alive
        del cycle
        gc.collect(2)
        assert alive() is not None, "a frozen cycle waits for the thaw"

        policy.last_full_walk = -math.inf  # FULL_GC_EVERY_S has passed
        gc.collect(2)  # this full collection thaws the heap...
        assert gc.get_freeze_count() == 0
        gc.collect(1)  # ...and nothing is frozen again before a full walk
        assert gc.get_freeze_count() == 0
        gc.collect(2)  # the full walk: frees the cycle, then freezes the survivors
        assert alive() is None
        assert gc.get_freeze_count() >= 2000 and len(kept) == 2000
        """
    )
