from __future__ import annotations

from podium_server.store.base import RECENT_KEEP
from podium_server.store.sqlite import _latest


def test_a_batch_writes_only_the_recent_items_a_dashboard_can_show() -> None:
    rows = [("a" if i % 3 else "b", str(i)) for i in range(100)]
    kept = _latest(rows)
    for session in ("a", "b"):
        mine = [row for row in rows if row[0] == session]
        assert [row for row in kept if row[0] == session] == mine[-RECENT_KEEP:]
    assert kept == [row for row in rows if row in kept]  # order kept
    assert _latest(rows[:5]) == rows[:5]
