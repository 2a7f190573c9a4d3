"""The one home of error codes: one root error, each subclass carrying its code and its
HTTP status (a pure table: the aiohttp response is built in web/middleware.py). No other
module names a code or a status of its own.

WebSocket replies use the same codes (`{"type":"error","code":...}`); `ws_code()` folds
HTTP-only codes into the smaller set a WebSocket client knows (WS_CODES).
"""

from __future__ import annotations

from typing import Any, ClassVar


class PodiumError(Exception):
    """The root of every error a client is told about: its `code` and HTTP `status`
    are class attributes, the message and any `detail` per instance."""

    code: ClassVar[str] = "internal"
    status: ClassVar[int] = 500

    def __init__(self, message: str = "", **detail: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return {"error": body}

    def ws_code(self) -> str:
        return self.code if self.code in WS_CODES else _HTTP_TO_WS.get(self.code, "internal")


class BadRequest(PodiumError):
    code = "bad_request"
    status = 400


class BadMessage(PodiumError):
    code = "bad_message"
    status = 400


class UnknownType(PodiumError):
    code = "unknown_type"
    status = 400


class InvalidFile(PodiumError):
    """A TOML/CSV file refused whole; `detail["errors"]` lists every bad line and why."""

    code = "invalid_file"
    status = 422

    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message, errors=errors)
        self.errors = errors

    def __str__(self) -> str:
        lines = [self.message]
        for e in self.errors:
            where = f"line {e['line']}" if e.get("line") is not None else e.get("field", "file")
            lines.append(f"  {where}: {e['reason']}")
        return "\n".join(lines)


class Unauthorized(PodiumError):
    code = "unauthorized"
    status = 401


class TokenRevoked(Unauthorized):
    """The token was revoked: found on its next use, by the check on a request or by
    the commit of a write made with it."""

    def __init__(self) -> None:
        super().__init__("revoked token")


class Forbidden(PodiumError):
    code = "forbidden"
    status = 403


class NotFound(PodiumError):
    code = "not_found"
    status = 404


class MethodNotAllowed(PodiumError):
    code = "method_not_allowed"
    status = 405


class NotAcceptable(PodiumError):
    """An offer we cannot serve (e.g. no codec in common): WHIP/WHEP clients retry on 406."""

    code = "not_acceptable"
    status = 406


class Conflict(PodiumError):
    code = "conflict"
    status = 409


class PreconditionFailed(PodiumError):
    """A conditional request whose condition does not hold (an `If-Match` naming another
    ETag than the resource's)."""

    code = "precondition_failed"
    status = 412


class PayloadTooLarge(PodiumError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(PodiumError):
    code = "unsupported_media_type"
    status = 415


class RateLimited(PodiumError):
    code = "rate_limited"
    status = 429


class Unavailable(PodiumError):
    """Retryable: nothing was done; send the same request (same id) again later."""

    code = "unavailable"
    status = 503


class StoreUnavailable(Unavailable):
    """The store cannot be reached now (down, not answering, or locked by another
    process). Not a bug: logged once per outage (store/outage.py), never per request."""

    def __init__(self) -> None:
        super().__init__("the store cannot be reached now: send the same request again later")


WS_CODES = frozenset(
    {
        "bad_message",
        "unknown_type",
        "forbidden",
        "not_found",
        "rate_limited",
        "unavailable",
        "internal",
    }
)
_HTTP_TO_WS = {
    "bad_request": "bad_message",
    "invalid_file": "bad_message",
    "payload_too_large": "bad_message",
    "unsupported_media_type": "bad_message",
    "unauthorized": "forbidden",
    "method_not_allowed": "bad_message",
    "not_acceptable": "bad_message",
    "conflict": "bad_message",
    "precondition_failed": "bad_message",
}

# Errors aiohttp raises itself (an unknown route, a method the route lacks, a body past
# its limit) by status; any other client error it raises is a `bad_request`.
_AIOHTTP_STATUS_CODES = {
    NotFound.status: NotFound.code,
    MethodNotAllowed.status: MethodNotAllowed.code,
    PayloadTooLarge.status: PayloadTooLarge.code,
}


def code_for_status(status: int) -> str:
    """The code of a client error aiohttp raised with this HTTP status."""
    return _AIOHTTP_STATUS_CODES.get(status, BadRequest.code)


# WebSocket close codes for a refused hello: 4401 bad or missing token, 4403 a role that
# has no use for /ws.
WS_CLOSE_UNAUTHORIZED = 4401
WS_CLOSE_FORBIDDEN = 4403
