"""The layers DESIGN fixes, checked on the source: arrows point down, never up."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1]
SERVER = ROOT / "server" / "podium_server"
CLIENT = ROOT / "client" / "podium_client"


def imports_of(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved)."""
    # server/podium_server/web/api.py -> package podium_server.web
    package = path.relative_to(ROOT).with_suffix("").parts[1:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from .. import appkeys` imports the module podium_server.appkeys
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_imports_of_resolves_relative_imports() -> None:
    found = imports_of(SERVER / "web" / "api.py")
    assert "podium_server.appkeys" in found and "aiohttp" in found


def test_attendance_core_is_pure() -> None:
    banned = (
        "aiohttp",
        "redis",
        "sqlite3",
        "asyncio",
        "time",
        "podium_server.store",
        "podium_server.web",
        "podium_server.media",
        "podium_server.app",
    )
    for path in sorted((SERVER / "attendance").glob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(banned), (
                f"{path.name} imports {module}: the attendance core does no I/O and reads no clock"
            )


def test_store_does_not_import_the_web_layer() -> None:
    for path in sorted((SERVER / "store").glob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(("podium_server.web", "podium_server.media", "aiohttp")), (
                f"store/{path.name} imports {module}"
            )


def test_client_never_imports_the_server() -> None:
    for path in sorted(CLIENT.rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith("podium_server"), f"{path} imports {module}"
