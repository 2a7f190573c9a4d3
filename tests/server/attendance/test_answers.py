"""The services' answers and the frames that carry them: `protocol.answer_frame` and
`sync_frame` out, `answer_from_frame` back from what the store kept for a retry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from podium_server.attendance import protocol as p
from podium_server.attendance.answers import (
    AnnulAnswer,
    Answer,
    Refusal,
    ScanAnswer,
    ScannedPerson,
    SyncAnswer,
)
from podium_server.attendance.records import OUTCOMES

PERSON = ScannedPerson("T001", "张伟", "Hubei Audit Office", "Hubei")

# Replies as the server kept them before its services answered with values: the frame
# itself, key order and all. A retry must still be answered with exactly these.
STORED_BEFORE = [
    {
        "type": "scan.result",
        "re": "r-1",
        "outcome": "accepted",
        "participant": {
            "id": "T001",
            "name": "张伟",
            "organization": "Hubei Audit Office",
            "province": "Hubei",
        },
        "first_seen_at": 1700000000.25,
    },
    {"type": "scan.result", "re": "r-2", "outcome": "unknown_badge"},
    {
        "type": "scan.result",
        "re": "r-3",
        "outcome": "already_inside",
        "participant": {"id": "T002", "name": "Li", "organization": "O", "province": "Hunan"},
        "first_seen_at": 1700000100.0,
        "manual": True,
    },
    {"type": "annul.result", "re": "a-1", "scan_id": "r-1", "outcome": "annulled"},
    {"type": "error", "code": "not_found", "message": "no such scan from this device", "re": "a-2"},
]


@pytest.mark.parametrize("stored", STORED_BEFORE, ids=lambda f: f["re"])
def test_a_reply_stored_in_the_old_shape_answers_a_retry_the_same(stored: dict) -> None:
    answer = p.answer_from_frame(stored)
    frame = p.answer_frame(stored["re"], answer)
    assert frame == stored
    assert p.encode(frame) == p.encode(stored)  # byte for byte, key order included


def test_scan_answer_frame() -> None:
    answer = ScanAnswer("accepted", PERSON, 1700000000.5, manual=True)
    assert p.answer_frame("x", answer) == {
        "type": "scan.result",
        "re": "x",
        "outcome": "accepted",
        "participant": {
            "id": "T001",
            "name": "张伟",
            "organization": "Hubei Audit Office",
            "province": "Hubei",
        },
        "first_seen_at": 1700000000.5,
        "manual": True,
    }
    bare = p.answer_frame("y", ScanAnswer("unknown_badge"))
    assert bare == {"type": "scan.result", "re": "y", "outcome": "unknown_badge"}


def test_refusal_and_annul_frames() -> None:
    assert p.answer_frame(None, Refusal("bad_message", "later")) == p.error_reply(
        None, "bad_message", "later"
    )
    assert p.answer_frame("a", AnnulAnswer("s")) == {
        "type": "annul.result",
        "re": "a",
        "scan_id": "s",
        "outcome": "annulled",
    }


def test_sync_frame_keeps_each_scans_id_and_order() -> None:
    answer = SyncAnswer(
        (("q1", ScanAnswer("accepted")), (None, Refusal("bad_message", "each scan is an object")))
    )
    assert p.sync_frame("up-1", answer) == {
        "type": "sync.result",
        "re": "up-1",
        "results": [
            {"type": "scan.result", "re": "q1", "outcome": "accepted"},
            {"type": "error", "code": "bad_message", "message": "each scan is an object"},
        ],
    }


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "sync.result", "re": "up-1", "count": 2},  # an upload's note, not an answer
        {"type": "pong", "re": "1"},
        {"re": "1", "outcome": "accepted"},
        {"type": "scan.result", "re": "1"},  # no outcome
    ],
)
def test_what_is_no_stored_answer_is_refused(frame: dict) -> None:
    with pytest.raises((ValueError, KeyError)):
        p.answer_from_frame(frame)


_text = st.text(max_size=12)
_person = st.builds(ScannedPerson, _text, _text, _text, _text)
_answers: st.SearchStrategy[Answer] = st.one_of(
    st.builds(
        ScanAnswer,
        st.sampled_from(sorted(OUTCOMES)),
        st.none() | _person,
        st.none() | st.floats(0, 2e9),
        st.booleans(),
    ),
    st.builds(AnnulAnswer, _text),
    st.builds(Refusal, st.sampled_from(["not_found", "forbidden", "bad_message"]), _text),
)


@given(_answers, st.none() | _text)
def test_every_answer_survives_being_kept(answer: Answer, re: str | None) -> None:
    """What is stored for a retry decodes into the very answer it was made from."""
    assert p.answer_from_frame(p.answer_frame(re, answer)) == answer
