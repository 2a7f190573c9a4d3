"""What the web tests share besides fixtures: tokens from the app's own signer."""

from __future__ import annotations

import time
from typing import Any

from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys


def issue_token(client: TestClient, role: str = "organizer", **claims: Any) -> str:
    """A token of `role`, valid from now, signed with the app's own key."""
    return str(client.app[keys.TOKENS].issue(role, now=time.time(), **claims))


def bearer(client: TestClient, role: str = "organizer", **claims: Any) -> dict[str, str]:
    """Request headers carrying a fresh token of `role`."""
    return {"Authorization": f"Bearer {issue_token(client, role, **claims)}"}
