"""errors.py is the one home of error codes: every code comes with its HTTP status and
folds into the WebSocket set, and no other module defines an error of its own."""

from __future__ import annotations

import ast
from pathlib import Path

from podium_server import errors
from podium_server.errors import PodiumError

SERVER = Path(__file__).parents[2] / "server" / "podium_server"


def every_error() -> list[type[PodiumError]]:
    found: list[type[PodiumError]] = []
    todo = [PodiumError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_code_has_one_status_and_a_websocket_code() -> None:
    status_of: dict[str, int] = {}
    for cls in every_error():
        assert 400 <= cls.status < 600, cls
        assert status_of.setdefault(cls.code, cls.status) == cls.status, cls.code
        ws_code = PodiumError.__new__(cls).ws_code()  # no __init__: some need arguments
        assert ws_code in errors.WS_CODES, cls.code
    assert status_of["precondition_failed"] == 412


def test_errors_are_defined_in_errors_py_only() -> None:
    """No module subclasses an error (a code and status of its own) outside errors.py."""
    names = {cls.__name__ for cls in every_error()}
    for path in sorted(SERVER.rglob("*.py")):
        if path == SERVER / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases}
                assert not bases & names, f"{path.relative_to(SERVER)} defines {node.name}"


def test_statuses_aiohttp_raises_get_their_codes() -> None:
    assert errors.code_for_status(404) == "not_found"
    assert errors.code_for_status(405) == "method_not_allowed"
    assert errors.code_for_status(413) == "payload_too_large"
    assert errors.code_for_status(400) == "bad_request"
    assert errors.code_for_status(431) == "bad_request"
