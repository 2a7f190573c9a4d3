"""docs/openapi.yaml against the app: the same routes and methods, every example valid
against its schema, and the app's real answers valid against the documented schemas.

When routes are added or removed, the failure names each one to document or remove.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from web_client import bearer

SPEC_PATH = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text())
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
PENDING = "x-podium-pending"
# The app as `podium serve --demo` builds it: the demo event and roster.
pytestmark = pytest.mark.app(demo=True, event=None)
Operation = tuple[str, str]  # (METHOD, /path/{template})

# Every JSON Schema in the spec may $ref the spec's components.
_REGISTRY: Registry[Any] = Registry().with_resource(
    "urn:openapi", DRAFT202012.create_resource(SPEC)
)


def schema_validator(schema: dict[str, Any]) -> Draft202012Validator:
    def absolute(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: ("urn:openapi" + v if k == "$ref" and v.startswith("#") else absolute(v))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [absolute(v) for v in node]
        return node

    return Draft202012Validator(absolute(schema), registry=_REGISTRY)


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    """A `$ref: '#/components/...'` object replaced by what it points to."""
    while "$ref" in node:
        target: Any = SPEC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def spec_operations() -> Iterator[tuple[Operation, dict[str, Any]]]:
    for path, item in SPEC["paths"].items():
        for method in METHODS:
            if method in item:
                yield (method.upper(), path), item[method]


def template_of(resource: web.AbstractResource) -> str:
    """The route's path with `{name}` for each variable part, as OpenAPI writes it."""
    info = resource.get_info()
    if "path" in info:
        return str(info["path"])
    if "formatter" in info:
        return str(info["formatter"])
    return f"{info['prefix']}/{{path}}"  # a static directory


async def app_operations(client: TestClient) -> set[Operation]:
    """Every (method, path) the app answers. HEAD comes with each GET and is left out;
    a route taking any method (`*`) is asked with OPTIONS which methods it allows."""
    found: set[Operation] = set()
    for route in client.app.router.routes():
        path = template_of(route.resource)  # type: ignore[arg-type]
        if route.method == "HEAD":
            continue
        if route.method != "*":
            found.add((route.method, path))
            continue
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        allow = (await client.options(concrete)).headers.get("Allow")
        assert allow, f"{path} takes any method but does not list them in OPTIONS' Allow"
        found |= {(m.strip().upper(), path) for m in allow.split(",") if m.strip()}
    return found


def test_the_spec_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1")
    validate_openapi(SPEC)


def test_every_example_matches_its_schema() -> None:
    checked = 0
    for (method, path), op in spec_operations():
        bodies = [resolve(r) for r in op.get("responses", {}).values()]
        if "requestBody" in op:
            bodies.append(resolve(op["requestBody"]))
        for body in bodies:
            for media, content in body.get("content", {}).items():
                if "example" not in content:
                    continue
                errors = list(schema_validator(content["schema"]).iter_errors(content["example"]))
                assert not errors, f"{method} {path} {media}: {[e.message for e in errors]}"
                checked += 1
    assert checked >= 25  # most responses carry an example; a typo would skip them all


async def test_the_spec_lists_exactly_the_apps_routes(client: TestClient) -> None:
    served = await app_operations(client)
    documented = {operation for operation, op in spec_operations() if PENDING not in op}
    pending = {operation for operation, op in spec_operations() if PENDING in op}

    def listing(operations: set[Operation]) -> str:
        return "".join(
            f"\n  {method} {path}" for path, method in sorted((p, m) for m, p in operations)
        )

    problems = []
    if missing := served - documented - pending:
        problems.append("served by the app, missing from docs/openapi.yaml:" + listing(missing))
    if extra := documented - served:
        problems.append("in docs/openapi.yaml, not served by the app:" + listing(extra))
    if ready := pending & served:
        problems.append(f"served now: remove their `{PENDING}` mark:" + listing(ready))
    assert not problems, "docs/openapi.yaml and the app differ --\n" + "\n".join(problems)


def documented_schema(method: str, path: str, status: int, media: str) -> dict[str, Any]:
    op = SPEC["paths"].get(path, {}).get(method.lower())
    assert op is not None, f"{method} {path} is not in docs/openapi.yaml"
    responses = op["responses"]
    assert str(status) in responses, f"{method} {path} answered {status}, not documented"
    content = resolve(responses[str(status)]).get("content", {})
    assert media in content, f"{method} {path} {status} answered {media}, not documented"
    return dict(content[media]["schema"])


async def test_the_apps_answers_match_the_documented_schemas(client: TestClient) -> None:
    organizer = bearer(client, "organizer")
    staff = bearer(client, "staff", session="policy", device="door-A-1")
    speaker = bearer(client, "speaker", session="opening")
    roster = (SPEC_PATH.parents[1] / "examples" / "ciep2021-roster.csv").read_bytes()
    # (method, documented path, concrete path, headers, body)
    calls: list[tuple[str, str, str, dict[str, str], bytes | None]] = [
        ("GET", "/healthz", "/healthz", {}, None),
        ("GET", "/readyz", "/readyz", {}, None),
        ("GET", "/api/v1/event", "/api/v1/event", {}, None),
        ("GET", "/api/v1/badge-key", "/api/v1/badge-key", {}, None),
        ("GET", "/api/v1/participants", "/api/v1/participants", organizer, None),
        ("GET", "/api/v1/participants", "/api/v1/participants", {}, None),
        ("GET", "/api/v1/participants", "/api/v1/participants", staff, None),
        ("GET", "/api/v1/participants/{id}", "/api/v1/participants/T003", organizer, None),
        ("GET", "/api/v1/participants/{id}", "/api/v1/participants/NOPE", organizer, None),
        ("POST", "/api/v1/roster", "/api/v1/roster", organizer, roster),
        ("POST", "/api/v1/roster", "/api/v1/roster", organizer, b"id,name\nT1,x\n"),
        ("POST", "/api/v1/roster", "/api/v1/roster", organizer, b""),
        ("GET", "/api/v1/reports/statistics", "/api/v1/reports/statistics", organizer, None),
        (
            "GET",
            "/api/v1/sessions/{id}/attendance",
            "/api/v1/sessions/policy/attendance",
            staff,
            None,
        ),
        (
            "GET",
            "/api/v1/sessions/{id}/attendance",
            "/api/v1/sessions/opening/attendance",
            staff,
            None,
        ),
        ("GET", "/verify/{certificate_id}", "/verify/PC1~nope", {}, None),
        (
            "POST",
            "/whip/{session_id}",
            "/whip/opening",
            speaker | {"Content-Type": "text/plain"},
            b"v=0",
        ),
        ("POST", "/whep/{session_id}", "/whep/opening", speaker, b"v=0"),
    ]
    statuses = set()
    for method, path, concrete, headers, body in calls:
        response = await client.request(method, concrete, headers=headers, data=body)
        statuses.add(response.status)
        schema = documented_schema(method, path, response.status, response.content_type)
        answer = await response.json()
        errors = [e.message for e in schema_validator(schema).iter_errors(answer)]
        assert not errors, f"{method} {concrete} -> {response.status}: {errors}"
    assert {200, 400, 401, 403, 404, 415, 422} <= statuses
    # The reports answer their files with the documented types.
    for fmt in ("csv", "xlsx"):
        response = await client.get(f"/api/v1/reports/attendance.{fmt}", headers=organizer)
        documented_schema("GET", "/api/v1/reports/{kind}.{fmt}", 200, response.content_type)
