"""Requests to an app running in this process (an aiohttp TestClient or TestServer):
tokens from the app's own signer and the header that carries them; the type of the
`make_client` fixture that starts such an app (tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web
from aiohttp.test_utils import TestClient

from podium_server import appkeys as keys
from tokens import sign

MakeClient = Callable[..., Awaitable[TestClient]]


class HoldsApp(Protocol):
    @property
    def app(self) -> web.Application: ...


def issue_token(client: HoldsApp, role: str = "organizer", **claims: Any) -> str:
    """A token of `role`, valid from now, signed with the app's own key."""
    return sign(client.app[keys.TOKENS], role, **claims)


def bearer(client: HoldsApp, role: str = "organizer", **claims: Any) -> dict[str, str]:
    """Request headers carrying a fresh token of `role`."""
    return {"Authorization": f"Bearer {issue_token(client, role, **claims)}"}
