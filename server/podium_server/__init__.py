"""Podium server: hybrid training events (WebRTC relay, check-ins, attendance)."""

__version__ = "0.1.0"
