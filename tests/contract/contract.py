"""The contract examples and the rules both sides match them by (see README.md)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# Reply keys whose values the protocol fixes: equal, not just of the same type.
FIXED = frozenset(
    {"type", "re", "outcome", "code", "role", "state", "direction", "counted", "scan_id"}
)
_NOW = re.compile(r"<now-(\d+)>")
_BADGE = re.compile(r"<badge:([^>]+)>")


def load(name: str) -> dict[str, Any]:
    return json.loads((HERE / name).read_text())  # type: ignore[no-any-return]


def ws_examples(*, side: str) -> list[str]:
    """Names of the /ws example files a side replays."""
    names = sorted(p.name for p in HERE.glob("ws_*.json"))
    if side == "server":
        names = [n for n in names if not load(n).get("client_only")]
    return names


def fill(value: Any, badge: Callable[[str], str], token: str = "") -> Any:
    """An example request made concrete: badges, times and the token filled in."""
    if isinstance(value, dict):
        return {k: fill(v, badge, token) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, badge, token) for v in value]
    if isinstance(value, str):
        if value == "<token>":
            return token
        if m := _NOW.fullmatch(value):
            return round(time.time() - int(m.group(1)), 3)
        if m := _BADGE.fullmatch(value):
            return badge(m.group(1))
    return value


def kind(value: Any) -> str:
    """The JSON type of a value; an example's placeholder stands for its type."""
    if isinstance(value, str) and (_NOW.fullmatch(value)):
        return "number"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return {str: "string", list: "list", dict: "object"}[type(value)]


def reply_mismatches(example: Any, actual: Any, where: str = "") -> list[str]:
    """How `actual` (a reply) departs from `example`; empty: it matches."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'reply'}: {kind(actual)}, expected an object"]
        out: list[str] = []
        for key, value in example.items():
            if key not in actual:
                out.append(f"{where}.{key}: missing")
            elif key in FIXED and not isinstance(value, dict | list):
                if actual[key] != value:
                    out.append(f"{where}.{key}: {actual[key]!r}, expected {value!r}")
            else:
                out += reply_mismatches(value, actual[key], f"{where}.{key}")
        return out
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{where}: {kind(actual)}, expected a list"]
        if len(example) == 1:
            return [
                m
                for i, a in enumerate(actual)
                for m in reply_mismatches(example[0], a, f"{where}[{i}]")
            ]
        if len(example) != len(actual):
            return [f"{where}: {len(actual)} items, expected {len(example)}"]
        return [
            m
            for i, (e, a) in enumerate(zip(example, actual, strict=True))
            for m in reply_mismatches(e, a, f"{where}[{i}]")
        ]
    if kind(example) != kind(actual):
        return [f"{where}: {kind(actual)} {actual!r}, expected a {kind(example)}"]
    return []


def request_mismatches(example: Any, actual: Any, where: str = "") -> list[str]:
    """How a request a client built departs from `example`: the same keys, each of the
    same JSON type (ids, codes and times are the client's own)."""
    if isinstance(example, dict):
        if not isinstance(actual, dict):
            return [f"{where or 'request'}: {kind(actual)}, expected an object"]
        out = [f"{where}.{k}: missing" for k in example if k not in actual]
        out += [f"{where}.{k}: not in the contract" for k in actual if k not in example]
        for key in example.keys() & actual.keys():
            if key == "type" and example[key] != actual[key]:
                out.append(f"{where}.type: {actual[key]!r}, expected {example[key]!r}")
            else:
                out += request_mismatches(example[key], actual[key], f"{where}.{key}")
        return out
    if isinstance(example, list):
        if not isinstance(actual, list):
            return [f"{where}: {kind(actual)}, expected a list"]
        return [
            m
            for i, a in enumerate(actual)
            for m in request_mismatches(example[0], a, f"{where}[{i}]")
        ]
    if kind(example) != kind(actual):
        return [f"{where}: {kind(actual)} {actual!r}, expected a {kind(example)}"]
    return []
