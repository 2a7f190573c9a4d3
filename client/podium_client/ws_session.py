"""One `/ws` session: hello, then requests matched to their replies by `re`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from .errors import AuthError, ClientError, reason

# Close codes the server uses for a refused hello (bad token / wrong role).
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403


class Offline(Exception):
    """The server cannot be reached or the connection dropped: try again later."""


def ws_url(server: str) -> str:
    """`http://host:port` (or ws://) -> `ws://host:port/ws`."""
    base = server.rstrip("/")
    for plain, ws in (("https://", "wss://"), ("http://", "ws://")):
        if base.startswith(plain):
            base = ws + base[len(plain) :]
    if not base.startswith(("ws://", "wss://")):
        raise ClientError(f"--server must be an http:// or https:// URL, not {server!r}", 2)
    return base if base.endswith("/ws") else base + "/ws"


class WsSession:
    """A connected, welcomed session. `request` sends one message and returns its reply;
    any failure of the connection raises `Offline` (the caller may send the same ids
    again: the server answers a repeated id the same and records it once)."""

    def __init__(self, conn: ClientConnection, welcome: dict[str, Any]) -> None:
        self.conn = conn
        self.welcome = welcome
        self._ids = itertools.count(1)
        self._prefix = os.urandom(4).hex()
        self._waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, server: str, token: str, device: str, *, wait_s: float = 5.0) -> WsSession:
        url = ws_url(server)
        try:
            conn = await connect(url, open_timeout=wait_s, proxy=None, compression=None)
        except InvalidURI as exc:
            raise ClientError(f"--server {server!r} is not a usable URL") from exc
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            raise Offline(f"{reason(exc)} at {url}") from exc
        hello = {"type": "hello", "id": "hello", "token": token, "device": device}
        try:
            await conn.send(json.dumps(hello))
            async with asyncio.timeout(wait_s):
                first = json.loads(await conn.recv())
        except ConnectionClosed as exc:
            raise _refusal(exc) from exc
        except (OSError, TimeoutError) as exc:
            await conn.close()
            raise Offline(f"no welcome from {url}: {exc}") from exc
        if first.get("type") != "welcome":
            await conn.close()
            raise AuthError(f"the server refused the token: {first.get('message', first)}")
        return cls(conn, first)

    def next_id(self, kind: str) -> str:
        return f"{kind}-{self._prefix}-{next(self._ids)}"

    async def request(self, msg: dict[str, Any], *, wait_s: float = 15.0) -> dict[str, Any]:
        msg.setdefault("id", self.next_id(str(msg.get("type", "req"))))
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[str(msg["id"])] = future
        try:
            await self.conn.send(json.dumps(msg))
            async with asyncio.timeout(wait_s):
                return await future
        except (ConnectionClosed, OSError) as exc:
            raise Offline(f"connection lost: {exc}") from exc
        except TimeoutError as exc:
            # No answer in time: a stalled link. Drop it; the caller resends on a new one.
            await self.close()
            raise Offline(f"no answer within {wait_s:g} s") from exc
        finally:
            self._waiting.pop(str(msg["id"]), None)

    async def _read(self) -> None:
        error: BaseException = Offline("connection closed")
        try:
            async for text in self.conn:
                data = json.loads(text)
                future = self._waiting.get(str(data.get("re")))
                if future is not None and not future.done():
                    future.set_result(data)
                elif data.get("type") == "error" and data.get("re") is None:
                    error = _error_from(data)
        except ConnectionClosed as exc:
            error = _refusal(exc)
        except (OSError, ValueError) as exc:
            error = Offline(str(exc))
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(error)

    @property
    def closed(self) -> bool:
        return self._reader.done()

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.conn.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._reader


def _error_from(data: dict[str, Any]) -> Exception:
    if data.get("code") == "forbidden":
        return AuthError(f"the server refused the token: {data.get('message')}")
    return Offline(f"{data.get('code')}: {data.get('message')}")


def _refusal(exc: ConnectionClosed) -> Exception:
    """A close that refuses us (4401/4403) is final; any other close is a lost link."""
    code = exc.rcvd.code if exc.rcvd is not None else None
    reason = exc.rcvd.reason if exc.rcvd is not None else ""
    if code in (CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN):
        why = reason or ("bad or expired token" if code == CLOSE_UNAUTHORIZED else "wrong role")
        return AuthError(f"the server refused the token ({why})")
    return Offline(f"connection closed ({code})")
