"""The attendance services: the pure core (attendance/) wired to the store, the clocks
and the badge key. See service.py for the map of its parts."""

from .dashboard_feed import UPDATE_INTERVAL_S, DashboardSubscriber
from .pair_turns import ScanDone
from .scan_writes import dedupe_key
from .service import AttendanceService

__all__ = [
    "UPDATE_INTERVAL_S",
    "AttendanceService",
    "DashboardSubscriber",
    "ScanDone",
    "dedupe_key",
]
