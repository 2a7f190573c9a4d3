from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance import protocol as p
from podium_server.attendance.checkin import ScanRequest


def test_hello() -> None:
    h = p.parse_hello({"type": "hello", "id": "1", "token": "t", "device": " door "})
    assert h == p.Hello("1", "t", "door")
    with pytest.raises(p.ProtocolError) as e:
        p.parse_hello({"type": "scan", "id": "1"})
    assert e.value.code == "bad_message" and e.value.re == "1"


def test_ids_and_device_names_hold_no_control_characters() -> None:
    """They are joined into the store's dedupe keys with control characters: a request
    named to look like another's (or like an upload's) key is refused, not confused."""
    scan = {"type": "scan", "code": "PB1.x.y", "session": "s1", "direction": "in"}
    for rid in ("a\x1fb", "\x1esync up-1", "x\x00", "del\x7f"):
        with pytest.raises(p.ProtocolError) as e:
            p.parse({**scan, "id": rid}, "staff")
        assert e.value.code == "bad_message"
    assert p.parse({**scan, "id": "门-1 ✓"}, "staff").request_id == "门-1 ✓"
    with pytest.raises(p.ProtocolError) as e:
        p.parse_hello({"type": "hello", "id": "1", "token": "t", "device": "door\x1fA"})
    assert e.value.code == "bad_message"


def test_scan_and_roles() -> None:
    msg = {"type": "scan", "id": "a", "code": "PB1.x.y", "session": "s1", "direction": "out"}
    assert p.parse(msg, "staff") == ScanRequest("a", "PB1.x.y", "s1", "out", None)
    with pytest.raises(p.ProtocolError) as e:
        p.parse(msg, "trainee")
    assert e.value.code == "forbidden"
    with pytest.raises(p.ProtocolError) as e:
        p.parse({"type": "nope", "id": "a"}, "staff")
    assert e.value.code == "unknown_type"
    with pytest.raises(p.ProtocolError) as e:
        p.parse({**msg, "scanned_at": "yesterday"}, "staff")
    assert e.value.code == "bad_message"


def test_sync_keeps_bad_items_in_place() -> None:
    good = {"id": "a", "code": "c", "session": "s1", "direction": "in", "scanned_at": 5}
    sync = p.parse({"type": "sync", "id": "s", "scans": [good, 3, {"id": "b"}]}, "staff")
    assert isinstance(sync, p.Sync)
    assert isinstance(sync.scans[0], ScanRequest) and sync.scans[0].scanned_at == 5.0
    assert isinstance(sync.scans[1], p.ProtocolError)
    assert isinstance(sync.scans[2], p.ProtocolError) and sync.scans[2].re == "b"


def test_decode() -> None:
    with pytest.raises(p.ProtocolError):
        p.decode("{")
    with pytest.raises(p.ProtocolError):
        p.decode("[1]")
    with pytest.raises(p.ProtocolError):
        p.decode("[" * 100_000)


def test_rate_limiter() -> None:
    rl = p.RateLimiter(rate=10, burst=5)
    assert all(rl.allow(0.0) for _ in range(5))
    assert not rl.allow(0.0)
    assert rl.allow(0.1)
    assert not rl.allow(0.1)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
messages = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(
            ["hello", "scan", "sync", "annul", "search", "presence", "subscribe", "ping", "x"]
        )
        | json_values,
        "id": st.text(max_size=5) | json_values,
        "code": json_values,
        "session": st.sampled_from(["s1", ""]) | json_values,
        "direction": st.sampled_from(["in", "out"]) | json_values,
        "scanned_at": st.floats() | json_values,
        "scans": st.lists(json_values, max_size=3),
        "query": json_values,
        "state": json_values,
        "scan_id": json_values,
    },
)


@given(messages, st.sampled_from(["staff", "organizer", "trainee", "speaker"]))
def test_parse_total(msg: dict[str, object], role: str) -> None:
    """Any JSON object either parses or raises ProtocolError with one of the WebSocket error codes."""
    try:
        p.parse(json.loads(json.dumps(msg)), role)
    except p.ProtocolError as err:
        assert err.code in ("bad_message", "unknown_type", "forbidden")
        assert err.reply()["type"] == "error"


def test_a_manual_scan_names_a_participant_instead_of_a_code() -> None:
    msg = {"type": "scan", "id": "m", "participant": "T001", "session": "s1", "direction": "in"}
    assert p.parse(msg, "staff") == ScanRequest("m", "", "s1", "in", None, "T001")
    for bad in ({**msg, "code": "PB1.x.y"}, {**msg, "participant": ""}, {**msg, "participant": 7}):
        with pytest.raises(p.ProtocolError) as e:
            p.parse(bad, "staff")
        assert e.value.code == "bad_message" and e.value.re == "m"
    with pytest.raises(ValueError):
        ScanRequest("m", "PB1.x.y", "s1", "in", None, "T001")  # both
    with pytest.raises(ValueError):
        ScanRequest("m", "", "s1", "in")  # neither
