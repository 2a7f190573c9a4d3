"""Watch-time meter: server-measured online presence of one viewer, as a pure state machine.

An interval is open while the server delivers the session's media to the viewer *and*
receives its RTCP receiver reports showing progress (the highest sequence number it got
keeps moving). No such report for `rr_timeout` seconds closes the interval at the last
report. While open, the interval is re-reported every `report_every` seconds (the same
`interval_id`, so a store upserts it), first at the tick after it opens; time is always
passed in.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field

from ..attendance.records import WatchInterval

log = logging.getLogger(__name__)


@dataclass
class WatchMeter:
    """Owns one viewer's open watch interval (if any) and the closed ones not yet
    collected; fed receiver reports and ticks, it never reads a clock."""

    session_id: str
    participant_id: str
    rr_timeout: float = 10.0
    report_every: float = 15.0
    _interval_id: str | None = None
    _start: float = 0.0
    _last_rr: float = 0.0
    _last_emit: float = 0.0
    _closed: list[WatchInterval] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.rr_timeout <= 0 or self.report_every <= 0:
            raise ValueError("rr_timeout and report_every must be positive")
        if not self.session_id or not self.participant_id:
            raise ValueError("a meter needs a session and a participant")

    @property
    def is_open(self) -> bool:
        return self._interval_id is not None

    def on_report(self, now: float, *, progressed: bool) -> None:
        """A receiver report arrived; `progressed`: it acknowledges media we delivered."""
        if not progressed:
            return
        if self._interval_id is not None and now - self._last_rr > self.rr_timeout:
            # The report came after a silence longer than the timeout: a new interval.
            self._close()
        if self._interval_id is None:
            self._interval_id = secrets.token_hex(8)
            self._start = now
            # Announce at the next tick: the dashboard shows "online" at once, not a
            # report period later.
            self._last_emit = now - self.report_every
        self._last_rr = max(self._last_rr, now)

    def tick(self, now: float) -> list[WatchInterval]:
        """Intervals to report now: closed ones, and a refresh of the open one when due."""
        if self._interval_id is not None and now - self._last_rr > self.rr_timeout:
            self._close()
        out, self._closed = self._closed, []
        if self._interval_id is not None and now - self._last_emit >= self.report_every:
            self._last_emit = now
            out.append(self._snapshot(open_=True))
        return out

    def close(self, now: float) -> list[WatchInterval]:
        """The viewer left: close any open interval at its last report."""
        if self._interval_id is not None:
            self._close()
        out, self._closed = self._closed, []
        return out

    def _snapshot(self, *, open_: bool) -> WatchInterval:
        assert self._interval_id is not None
        return WatchInterval(
            session_id=self.session_id,
            participant_id=self.participant_id,
            interval_id=self._interval_id,
            start=self._start,
            end=self._last_rr,
            open=open_,
        )

    def _close(self) -> None:
        self._closed.append(self._snapshot(open_=False))
        self._interval_id = None
