"""The layers, checked on the source: arrows point down, never up."""

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


def test_the_connection_state_is_sans_io() -> None:
    """A /ws connection's rules are decided without a socket, a task or a clock of their
    own (time is passed in): the aiohttp adapter in web/ws.py does the I/O."""
    banned = ("asyncio", "aiohttp", "time", "socket", "selectors", "threading")
    for name in ("connection.py", "connection_rules.py"):
        found = imports_of(SERVER / "attendance" / name)
        assert "podium_server.attendance.protocol" in found  # the check reads real imports
        for module in found:
            assert module.split(".")[0] not in banned, f"attendance/{name} imports {module}"


# What the store may not import: the web layer, the media engine, and the event's file
# loaders (TOML and CSV are for files, above the store: it reads its stored programme
# back through `event/validation.py`).
ABOVE_THE_STORE = (
    "podium_server.web",
    "podium_server.media",
    "aiohttp",
    "podium_server.event.loaders",
)


def test_store_imports_nothing_above_it() -> None:
    for path in sorted((SERVER / "store").rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(ABOVE_THE_STORE), (
                f"{path.relative_to(SERVER)} imports {module}"
            )


# The SQLite backend's SQL is plain functions over a connection, run alike on the
# store's thread, inline on the loop and in the writer process: only the modules that
# own threads, processes or the loop may import asyncio or concurrency.
SQLITE_ASYNC = ("store.py", "writer_process.py", "checkpoints.py", "__init__.py")


def test_sqlite_sql_modules_are_plain_functions_over_a_connection() -> None:
    modules = sorted((SERVER / "store" / "sqlite").glob("*.py"))
    assert len(modules) > len(SQLITE_ASYNC)
    for path in modules:
        if path.name in SQLITE_ASYNC:
            continue
        for module in imports_of(path):
            assert not module.startswith(("asyncio", "concurrent", "threading")), (
                f"store/sqlite/{path.name} imports {module}"
            )
            assert module not in (
                "podium_server.store.sqlite.store",
                "podium_server.store.sqlite.writer_process",
            ), f"store/sqlite/{path.name} imports {module}: the SQL sits below the store"


def test_client_never_imports_the_server() -> None:
    for path in sorted(CLIENT.rglob("*.py")):
        for module in imports_of(path):
            assert not module.startswith("podium_server"), f"{path} imports {module}"


def server_modules() -> dict[str, Path]:
    """Every server module by its dotted name (a package by its own name)."""
    modules: dict[str, Path] = {}
    for path in sorted(SERVER.rglob("*.py")):
        name = ".".join(path.relative_to(ROOT / "server").with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    return modules


# aiohttp is the web layer's: below it (the services, the cores, the store, the media
# engine, the errors) nothing may need it. Above web/: the app factory, its typed keys,
# the process runner.
AIOHTTP_ALLOWED = ("podium_server.app", "podium_server.appkeys", "podium_server.serving")


def test_aiohttp_stays_in_the_web_layer() -> None:
    for name, path in server_modules().items():
        if name.startswith("podium_server.web") or name in AIOHTTP_ALLOWED:
            continue
        for module in imports_of(path):
            assert not module.startswith("aiohttp"), f"{name} imports {module}"


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan), each sorted."""
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        order[node] = low[node] = len(order)
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep not in order:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], order[dep])
        if low[node] == order[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    return circles


def test_import_circles_are_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def test_no_import_circles_in_the_server() -> None:
    """Function-local imports count too: a lazy import hides a circle, it does not
    remove it."""
    modules = server_modules()
    graph = {
        name: {m for m in imports_of(path) if m in modules and m != name}
        for name, path in modules.items()
    }
    assert import_circles(graph) == []


def test_services_do_not_reach_up_into_the_web_layer() -> None:
    above_web = (*AIOHTTP_ALLOWED, "podium_server.cli", "podium_server.commands")  # entry points
    for name, path in server_modules().items():
        if name.startswith("podium_server.web") or name in above_web:
            continue
        for module in imports_of(path):
            assert not module.startswith(("podium_server.web", "podium_server.appkeys")), (
                f"{name} imports {module}"
            )


# Callers of the store hold its roles (store/roles.py) and the bus (store/bus.py): which
# backend runs is chosen in one place. Besides the factory, only the outage log (it
# tells the backends' errors apart) and `podium backup` (a copy of the SQLite file)
# name a backend.
BACKENDS = ("podium_server.store.sqlite", "podium_server.store.redis")
MAY_NAME_A_BACKEND = (
    "podium_server.store.factory",
    "podium_server.store.outage",
    "podium_server.commands",
)


def test_one_place_chooses_the_store_backend() -> None:
    for name, path in server_modules().items():
        if name.startswith(BACKENDS) or name in MAY_NAME_A_BACKEND:
            continue
        for module in imports_of(path):
            assert not module.startswith(BACKENDS), f"{name} imports {module}"


def test_the_store_roles_and_the_bus_know_no_backend() -> None:
    for name in ("roles", "bus", "records", "revoked"):
        for module in imports_of(SERVER / "store" / f"{name}.py"):
            assert not module.startswith((*BACKENDS, "redis", "sqlite3")), (
                f"store/{name}.py imports {module}"
            )


# The store's one backend per package speaks to its database; `store/outage.py` tells
# Redis's connection errors from bugs. Nothing else imports the Redis client.
REDIS_CLIENT_ALLOWED = ("podium_server.store.redis", "podium_server.store.outage")


def test_the_redis_client_stays_in_the_redis_backend() -> None:
    for name, path in server_modules().items():
        if name.startswith(REDIS_CLIENT_ALLOWED):
            continue
        for module in imports_of(path):
            assert module != "redis" and not module.startswith("redis."), f"{name} imports {module}"


def test_the_redis_backend_imports_no_other_backend() -> None:
    for name, path in server_modules().items():
        if not name.startswith("podium_server.store.redis"):
            continue
        for module in imports_of(path):
            assert not module.startswith(
                ("podium_server.store.sqlite", "podium_server.store.factory")
            ), f"{name} imports {module}"


TESTS = ROOT / "tests"


def test_shared_test_helpers_stay_below_the_test_folders() -> None:
    """tests/*.py (conftest, loopback, tokens, web_client, podium_http, redis_process,
    chromium) is what every test folder and bench/ share: it may import the server,
    libraries and itself, never a folder's own harness or tests."""
    shared = {p.stem for p in TESTS.glob("*.py")}
    in_folders = {p.stem for p in TESTS.rglob("*.py") if p.parent != TESTS}
    in_folders |= {p.name for p in TESTS.iterdir() if p.is_dir()}
    checked = [p for p in sorted(TESTS.glob("*.py")) if not p.name.startswith("test_")]
    assert len(checked) >= 7
    for path in checked:
        for module in imports_of(path):
            top = module.split(".")[0]
            assert top in shared or top not in in_folders, f"tests/{path.name} imports {module}"


def string_constants(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_answers_become_frames_in_the_protocol_only() -> None:
    """The attendance services answer with values (attendance/answers.py); the frames
    carrying them are spelt in attendance/protocol.py alone and made at the edge."""
    frames = {"scan.result", "annul.result", "error"}
    below_web = [
        *(SERVER / "attendance_service").glob("*.py"),
        *(SERVER / "attendance").glob("*.py"),
    ]
    for path in sorted(below_web):
        if path == SERVER / "attendance" / "protocol.py":
            continue
        spelt = string_constants(path) & frames
        assert not spelt, f"{path.relative_to(SERVER)} builds {sorted(spelt)} frames itself"


def test_the_attendance_services_hold_no_wire_format() -> None:
    """Their parts never import the web layer, and reach the wire format only through
    the protocol's encoder (for the form an answer is kept in for a retry)."""
    for path in sorted((SERVER / "attendance_service").glob("*.py")):
        for module in imports_of(path):
            assert not module.startswith(("aiohttp", "orjson", "json")), (
                f"attendance_service/{path.name} imports {module}"
            )
