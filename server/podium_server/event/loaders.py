"""Event TOML and roster CSV loaders: a bad file is refused whole, every problem listed.

Nothing here touches the store: callers persist only what parsed completely, so a bad
file can never be half-imported.
"""

from __future__ import annotations

import csv
import io
import re
import tomllib
from pathlib import Path
from typing import Any

from ..errors import InvalidFile
from .model import (
    ORG_TYPES,
    PARTICIPANT_MODES,
    Event,
    Participant,
)
from .validation import event_from_dict

ROSTER_COLUMNS = ("id", "name", "email", "organization", "org_type", "province", "mode")
MAX_ROSTER_ROWS = 100_000
MAX_RECORD_CHARS = 4_000  # a roster line is ~150 chars; a 1 MB "line" is an attack or a mistake
MAX_EVENT_BYTES = 1_000_000


# -- event ----------------------------------------------------------------------------


def load_event_file(path: Path) -> Event:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InvalidFile(f"cannot read {path}", [{"field": "file", "reason": str(exc)}]) from exc
    return parse_event_toml(raw, source=str(path))


def parse_event_toml(raw: bytes, source: str = "event.toml") -> Event:
    if len(raw) > MAX_EVENT_BYTES:
        raise InvalidFile(f"{source} refused", [{"field": "file", "reason": "over 1 MB"}])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidFile(
            f"{source} refused", [{"line": line, "reason": "not UTF-8 text"}]
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        at = _TOML_AT.search(reason)
        if at is None:
            raise InvalidFile(f"{source} refused", [{"field": "file", "reason": reason}]) from exc
        where: dict[str, Any] = {"line": int(at.group(1)), "reason": reason[: at.start()]}
        raise InvalidFile(f"{source} refused", [where]) from exc
    try:
        return event_from_dict(data, source=source)
    except InvalidFile as exc:
        # Point each problem at its table's header line, so a person fixing the file
        # by hand finds it (`sessions[2]` is the third [[sessions]]).
        tables = _table_lines(text)
        for error in exc.errors:
            header = _line_of(str(error.get("field", "")), tables)
            if header is not None:
                error["line"] = header
        raise


_TOML_AT = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_TABLE_RE = re.compile(r"^\s*\[(\[?)\s*([A-Za-z0-9_.-]+)\s*\]")
_FIELD_RE = re.compile(r"^([A-Za-z0-9_-]+)(?:\[(\d+)\])?")


def _table_lines(text: str) -> dict[str, list[int]]:
    """Each table's header line numbers (1-based), in order: `[[sessions]]` repeats."""
    found: dict[str, list[int]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        m = _TABLE_RE.match(line)
        if m:
            found.setdefault(m.group(2), []).append(number)
    return found


def _line_of(field: str, tables: dict[str, list[int]]) -> int | None:
    m = _FIELD_RE.match(field)
    if m is None or m.group(1) not in tables:
        return None
    lines = tables[m.group(1)]
    index = int(m.group(2) or 0)
    return lines[index] if index < len(lines) else None


# -- roster -----------------------------------------------------------------------------


def parse_roster_csv(raw: bytes, source: str = "roster.csv") -> list[Participant]:
    """All rows or nothing. Line numbers count the header as line 1."""
    errors: list[dict[str, Any]] = []
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InvalidFile(
            f"{source} refused: not UTF-8",
            [{"line": line, "reason": "not UTF-8 text (save the file as CSV UTF-8)"}],
        ) from exc
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise InvalidFile(f"{source} refused", [{"line": line, "reason": "NUL byte in text"}])

    # The limit is module-global in csv; records are length-checked below anyway.
    csv.field_size_limit(max(csv.field_size_limit(), 2 * len(text) + 1))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidFile(f"{source} refused", [{"line": 1, "reason": "empty file"}]) from None
    except csv.Error as exc:
        raise InvalidFile(f"{source} refused", [{"line": 1, "reason": str(exc)}]) from exc
    names = [h.strip().lower() for h in header]
    missing = [c for c in ROSTER_COLUMNS if c not in names]
    unknown = [h for h in names if h not in ROSTER_COLUMNS]
    if missing or unknown or len(set(names)) != len(names):
        reasons = []
        if missing:
            reasons.append(f"missing column(s): {', '.join(missing)}")
        if unknown:
            reasons.append(f"unknown column(s): {', '.join(unknown)}")
        if len(set(names)) != len(names):
            reasons.append("a column appears twice")
        reasons.append(f"expected header: {','.join(ROSTER_COLUMNS)}")
        raise InvalidFile(f"{source} refused", [{"line": 1, "reason": "; ".join(reasons)}])
    index = {name: names.index(name) for name in ROSTER_COLUMNS}

    participants: list[Participant] = []
    first_line_of: dict[str, int] = {}
    line = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append({"line": line, "reason": f"unreadable CSV: {exc}"})
            break  # the reader cannot resynchronise after a quoting error
        this_line, line = line, reader.line_num + 1
        if not row or all(not cell.strip() for cell in row):
            continue  # blank lines are harmless
        if len(participants) + len(errors) >= MAX_ROSTER_ROWS:
            errors.append({"line": this_line, "reason": f"more than {MAX_ROSTER_ROWS} rows"})
            break
        if sum(len(cell) for cell in row) > MAX_RECORD_CHARS:
            errors.append({"line": this_line, "reason": f"line over {MAX_RECORD_CHARS} characters"})
            continue
        if len(row) != len(names):
            errors.append(
                {"line": this_line, "reason": f"{len(row)} fields, expected {len(names)}"}
            )
            continue
        values = {name: row[i].strip() for name, i in index.items()}
        values["org_type"] = values["org_type"].lower()
        values["mode"] = values["mode"].lower() or "in_person"
        values["email"] = values["email"].lower()
        probe = Participant.__new__(Participant)
        for key, value in values.items():
            object.__setattr__(probe, key, value)
        problems = probe.problems()
        if values["id"] in first_line_of:
            problems.append(
                f"duplicate id {values['id']!r} (first on line {first_line_of[values['id']]})"
            )
        else:
            first_line_of[values["id"]] = this_line
        if problems:
            errors.append({"line": this_line, "reason": "; ".join(problems)})
            continue
        participants.append(Participant(**values))
    if errors:
        raise InvalidFile(f"{source} refused: {len(errors)} bad line(s), nothing imported", errors)
    return participants


__all__ = [
    "ORG_TYPES",
    "PARTICIPANT_MODES",
    "ROSTER_COLUMNS",
    "load_event_file",
    "parse_event_toml",
    "parse_roster_csv",
]
