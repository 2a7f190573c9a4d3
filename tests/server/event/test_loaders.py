"""Event TOML and roster CSV: valid files load, bad files are refused whole with reasons."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from podium_server.errors import InvalidFile
from podium_server.event.demo import demo_event, demo_roster
from podium_server.event.loaders import (
    load_event_file,
    parse_event_toml,
    parse_roster_csv,
)

EXAMPLES = Path(__file__).parents[3] / "examples"
HEADER = "id,name,email,organization,org_type,province,mode\n"
GOOD_ROW = "P1,Wang Fang,wang@example.cn,Shenzhen Bureau,government,Guangdong,in_person\n"

EVENT_TOML = """
[event]
id = "e1"
title = "Training"
timezone = "Asia/Shanghai"
[checkin]
opens_before_min = 15
closes_after_start_min = 20
[certificate]
min_fraction = 0.8
required = 2
[[sessions]]
id = "a"
title = "Morning"
start = 2021-04-24T09:00:00
end = 2021-04-24T10:00:00
stream = true
[[sessions]]
id = "b"
title = "Afternoon"
start = 2021-04-24T14:00:00+08:00
end = 2021-04-24T15:00:00+08:00
mode = "online"
"""


def test_event_toml_loads_with_local_times_in_event_timezone() -> None:
    event = parse_event_toml(EVENT_TOML.encode())
    a, b = event.sessions
    assert a.start.utcoffset() == timedelta(hours=8)  # no offset: local to Asia/Shanghai
    assert a.duration_s == 3600 and a.stream and a.required
    assert b.mode == "online" and not b.stream
    assert event.checkin.window(a) == (a.start_ts - 15 * 60, a.start_ts + 20 * 60)
    assert event.certificate.required == 2 and event.certificate.min_fraction == 0.8


def test_example_event_file_is_the_demo_programme_on_its_real_dates() -> None:
    assert load_event_file(EXAMPLES / "ciep2021.toml") == demo_event()


def test_example_roster_is_the_demo_roster() -> None:
    assert parse_roster_csv((EXAMPLES / "ciep2021-roster.csv").read_bytes()) == demo_roster()


def test_bad_event_lists_every_problem() -> None:
    bad = """
[event]
id = "e1"
timezone = "Mars/Olympus"
[[sessions]]
id = "a"
title = "x"
start = 2021-04-24T10:00:00Z
end = 2021-04-24T09:00:00Z
[[sessions]]
id = "a"
title = "y"
start = 2021-04-24
end = 2021-04-24T11:00:00Z
mode = "telepathy"
[certificate]
min_fraction = 1.5
"""
    with pytest.raises(InvalidFile) as info:
        parse_event_toml(bad.encode())
    reasons = " | ".join(f"{e.get('field')}: {e['reason']}" for e in info.value.errors)
    assert "event.timezone" in reasons and "Mars/Olympus" in reasons
    assert "event.title" in reasons
    assert "end must be after start" in reasons
    assert "duplicate session id" in reasons
    assert "needs a date and a time" in reasons
    assert "certificate" in reasons
    assert len(info.value.errors) >= 5


@pytest.mark.parametrize(
    "raw, reason",
    [
        (b"[event\nid=1", "Expected"),
        (b"\xff\xfe[event]", "not UTF-8"),
        (b"x" * 1_000_001, "over 1 MB"),
    ],
)
def test_unreadable_event_files_are_refused(raw: bytes, reason: str) -> None:
    with pytest.raises(InvalidFile) as info:
        parse_event_toml(raw)
    assert reason in str(info.value)


def test_roster_loads_and_normalises() -> None:
    raw = (HEADER + GOOD_ROW + "P2,Li Wei,,Wuhan Univ,University,Hubei,\n").encode()
    p1, p2 = parse_roster_csv(raw)
    assert p1.id == "P1" and p1.province == "Guangdong"
    assert p2.org_type == "university" and p2.mode == "in_person" and p2.email == ""


def test_roster_with_bom_and_crlf_loads() -> None:
    raw = ("\ufeff" + HEADER + GOOD_ROW).replace("\n", "\r\n").encode()
    assert [p.id for p in parse_roster_csv(raw)] == ["P1"]


def test_roster_columns_in_another_order_load() -> None:
    raw = (
        b"province,id,name,email,organization,org_type,mode\nHenan,P9,Zhao Lei,,Org,other,online\n"
    )
    (p,) = parse_roster_csv(raw)
    assert (p.id, p.province, p.mode) == ("P9", "Henan", "online")


def test_bad_roster_lists_every_bad_line_and_imports_nothing() -> None:
    raw = (
        HEADER
        + GOOD_ROW  # line 2: fine
        + "P1,Dup,d@example.cn,Org,government,Beijing,online\n"  # 3: duplicate id
        + "P3,,x@example.cn,Org,government,Beijing,online\n"  # 4: empty name
        + "P4,Ok,not-an-email,Org,ministry,Beijing,online\n"  # 5: email + org_type
        + "P5,Ok,,Org,government\n"  # 6: too few fields
        + "P6 bad,Ok,,Org,government,Beijing,by_pigeon\n"  # 7: id + mode
        + "P7,"
        + "A" * 1_000_000
        + ",,Org,government,Beijing,online\n"  # 8: 1 MB line
    ).encode()
    with pytest.raises(InvalidFile) as info:
        parse_roster_csv(raw)
    by_line = {e["line"]: e["reason"] for e in info.value.errors}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8]
    assert "duplicate id 'P1' (first on line 2)" in by_line[3]
    assert "name is empty" in by_line[4]
    assert "email" in by_line[5] and "org_type 'ministry'" in by_line[5]
    assert "5 fields, expected 7" in by_line[6]
    assert "id 'P6 bad'" in by_line[7] and "mode 'by_pigeon'" in by_line[7]
    assert "over 4000 characters" in by_line[8]
    assert "nothing imported" in info.value.message


@pytest.mark.parametrize(
    "raw, line, reason",
    [
        (b"", 1, "empty file"),
        (b"id,name,email\nP1,a,b\n", 1, "missing column(s): organization, org_type"),
        (HEADER.encode() + b"P1,Caf\xe9,,Org,other,Beijing,online\n", 2, "not UTF-8"),
        ((HEADER + "P1,N\x00,,O,other,Beijing,online\n").encode(), 2, "NUL byte"),
        ((HEADER + 'P1,"unterminated,,O,other,Beijing,online\n').encode(), 2, "unreadable"),
    ],
)
def test_hostile_rosters_are_refused_with_line_numbers(raw: bytes, line: int, reason: str) -> None:
    with pytest.raises(InvalidFile) as info:
        parse_roster_csv(raw)
    assert info.value.errors[0]["line"] == line
    assert reason in info.value.errors[0]["reason"]


def test_formula_like_names_are_kept_verbatim_on_import() -> None:
    # Reports make them inert on the way out (tests/server/web/test_reports.py).
    raw = (HEADER + "P1,=cmd|' /C calc'!A0,,+Org,other,Beijing,online\n").encode()
    (p,) = parse_roster_csv(raw)
    assert (p.name, p.organization) == ("=cmd|' /C calc'!A0", "+Org")


def test_control_characters_are_refused() -> None:
    raw = (HEADER + "P1,Bad\x1bName,,Org\x07,other,Beijing,online\n").encode()
    with pytest.raises(InvalidFile) as info:
        parse_roster_csv(raw)
    reason = info.value.errors[0]["reason"]
    assert "name contains a control character" in reason
    assert "organization contains a control character" in reason
