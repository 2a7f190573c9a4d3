"""Debian's headless Chromium as every browser test and page bench launches it: where it
is and the flags that keep it offline and its WebRTC on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # WebRTC over 127.0.0.1 (the tests' only network): Chromium leaves loopback out of
    # its candidates unless told, and would hide host addresses behind mDNS names
    # nothing here resolves.
    "--allow-loopback-in-peer-connection",
    "--disable-features=WebRtcHideLocalIpsWithMdns",
]


def require_chromium() -> None:
    """Chromium is required, never skipped: without it a browser test fails saying so."""
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is required for the browser tests (Debian: apt-get install chromium)"
        )
