"""Podium's Python client: publish, watch, scan and load-test from a terminal."""

__version__ = "0.1.0"
