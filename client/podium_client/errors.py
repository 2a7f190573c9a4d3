"""What went wrong, as one line a person can act on, and the exit code that goes with it."""

from __future__ import annotations

import os

# Exit codes, also listed in `podium-client --help`.
EXIT_OK = 0
EXIT_FAILED = 1  # anything else: the message says what
EXIT_USAGE = 2  # argparse's own code for a bad command line
EXIT_AUTH = 3  # bad, expired or revoked token, or a token without the needed role
EXIT_NOT_FOUND = 4  # unknown session
EXIT_UNREACHABLE = 5  # nothing answers at --server
EXIT_BAD_INPUT = 6  # a file with no usable video track, a bad device
EXIT_PENDING = 7  # scan --exit left scans queued (sent at the next start)


class ClientError(Exception):
    """Printed as `podium-client: <message>` and exited with `exit_code`."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class AuthError(ClientError):
    exit_code = EXIT_AUTH


class NotFoundError(ClientError):
    exit_code = EXIT_NOT_FOUND


class UnreachableError(ClientError):
    exit_code = EXIT_UNREACHABLE


class BusyError(ClientError):
    """409: e.g. the session already has a live publisher."""


class BadInputError(ClientError):
    exit_code = EXIT_BAD_INPUT


def from_http(status: int, code: str, message: str, what: str) -> ClientError:
    """An error reply of the server's HTTP API (`{"error": {code, message}}`) for `what`."""
    text = f"{what}: {message or code} (HTTP {status})"
    if status == 401:
        return AuthError(f"{what}: the token was refused ({message or code})")
    if status == 403:
        return AuthError(f"{what}: this token may not do that ({message or code})")
    if status == 404:
        return NotFoundError(f"{what}: {message or code}")
    if status == 409:
        return BusyError(text)
    return ClientError(text)


def reason(exc: BaseException) -> str:
    """A network failure in a few words: "Connection refused", "no answer in time"."""
    inner = getattr(exc, "os_error", None) or exc  # aiohttp wraps the OSError
    if isinstance(inner, TimeoutError):
        return "no answer in time"
    errno = getattr(inner, "errno", None)
    if isinstance(inner, OSError) and errno:
        return os.strerror(errno)
    return str(inner) or type(inner).__name__
