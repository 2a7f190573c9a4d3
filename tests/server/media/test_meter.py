"""The watch-time meter's state machine (time passed in)."""

from __future__ import annotations

import pytest

from podium_server.media.meter import WatchMeter


def test_interval_opens_on_progress_and_closes_after_silence() -> None:
    m = WatchMeter("s1", "p1", rr_timeout=10, report_every=15)
    assert m.tick(0) == []
    m.on_report(100, progressed=False)  # a report acknowledging nothing new: not watching
    assert not m.is_open
    m.on_report(101, progressed=True)
    assert m.is_open
    announced = m.tick(101.5)  # at once, so "online now" counts this viewer
    assert [(i.start, i.end, i.open) for i in announced] == [(101, 101, True)]
    for t in range(102, 131):
        m.on_report(t, progressed=True)
    assert m.tick(110) == []  # refreshed every report_every, not on every tick
    refresh = m.tick(131)
    assert (
        len(refresh) == 1 and refresh[0].open and refresh[0].start == 101 and refresh[0].end == 130
    )
    assert m.tick(135) == []
    closed = m.tick(141)  # 11 s since the last report
    assert len(closed) == 1 and not closed[0].open
    assert (closed[0].start, closed[0].end) == (101, 130)
    assert closed[0].interval_id == refresh[0].interval_id == announced[0].interval_id


def test_reports_after_a_long_gap_start_a_new_interval() -> None:
    m = WatchMeter("s1", "p1", rr_timeout=10, report_every=1000)
    m.on_report(0, progressed=True)
    m.on_report(5, progressed=True)
    m.on_report(30, progressed=True)  # no tick in between: the gap still splits it
    m.on_report(35, progressed=True)
    out = m.close(36)
    assert [(i.start, i.end, i.open) for i in out] == [(0, 5, False), (30, 35, False)]
    assert out[0].interval_id != out[1].interval_id
    assert m.close(40) == []


def test_validation() -> None:
    with pytest.raises(ValueError):
        WatchMeter("s1", "", rr_timeout=10)
    with pytest.raises(ValueError):
        WatchMeter("s1", "p1", rr_timeout=0)
