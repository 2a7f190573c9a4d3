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


def test_many_closed_connections_bring_the_thaw_forward() -> None:
    run(
        """
        import gc, weakref
        from podium_server import gcpolicy

        gcpolicy.install()
        policy = next(c for c in gc.callbacks if isinstance(c, gcpolicy._Policy))

        class Node:
            pass

        cycle = Node()
        cycle.me = cycle  # a closed connection's objects: a cycle...
        alive = weakref.ref(cycle)
        gc.collect(1)  # ...frozen while it was open
        del cycle
        for _ in range(gcpolicy.CHURN_WALK_AFTER_CLOSES - 1):
            gcpolicy.connection_closed()
        policy.last_full_walk -= gcpolicy.CHURN_WALK_MIN_S
        gc.collect(2)
        assert alive() is not None, "one close short: still frozen"
        gcpolicy.connection_closed()  # thaws, walks the heap, freezes what survived
        assert alive() is None
        assert policy.closed_since_walk == 0 and not policy.unfrozen
        assert gc.get_freeze_count() > 0
        """
    )


def test_the_early_thaw_is_spaced_out() -> None:
    run(
        """
        import gc, time
        from podium_server import gcpolicy

        gcpolicy.install()
        policy = next(c for c in gc.callbacks if isinstance(c, gcpolicy._Policy))
        policy.last_full_walk = time.monotonic()  # a walk just happened
        for _ in range(gcpolicy.CHURN_WALK_AFTER_CLOSES * 3):
            gcpolicy.connection_closed()
        gc.collect(1)
        assert gc.get_freeze_count() > 0, "not within CHURN_WALK_MIN_S of the last walk"
        assert not policy.churn_walk_due(time.monotonic())
        assert policy.churn_walk_due(time.monotonic() + gcpolicy.CHURN_WALK_MIN_S)
        """
    )
