"""One /ws connection's rules without a socket: the state is fed frames and times, and
what it says to do is checked -- hello, limits, refusals, backpressure, annuls waiting
for their scan, answers batched for one write, a dashboard's merged updates."""

from __future__ import annotations

import json

import pytest

from podium_server.attendance import protocol
from podium_server.attendance.checkin import Scanner, ScanRequest
from podium_server.attendance.connection import (
    CLOSE_POLICY_VIOLATION,
    CLOSE_TRY_AGAIN_LATER,
    ConnectionState,
    RefuseAndClose,
    SendReply,
)
from podium_server.attendance.connection_rules import (
    BURST,
    FLOOD_REFUSALS_BURST,
    LOOK_EVERY_S,
    RATE_PER_S,
    SEARCH_BURST,
    AuthCheck,
)
from podium_server.auth.tokens import Claims
from podium_server.errors import (
    WS_CLOSE_FORBIDDEN,
    WS_CLOSE_UNAUTHORIZED,
    Forbidden,
    PodiumError,
    Unauthorized,
    Unavailable,
)

NOW = 1_700_000_000.0  # wall clock: the token's
MONO = 500.0  # monotonic: the limits'
JTI = "abcdef0123456789"


def claims(role: str = "staff", **kw: object) -> Claims:
    fields: dict[str, object] = {"jti": JTI, "role": role, "iat": int(NOW) - 60}
    fields["exp"] = int(NOW) + 3600
    fields.update(kw)
    return Claims(**fields)  # type: ignore[arg-type]


def hello(device: str = "door-A-1") -> protocol.Hello:
    return protocol.Hello(id="h1", token="pd1.x.y", device=device)


def welcomed(role: str = "staff", **kw: object) -> ConnectionState[str]:
    state: ConnectionState[str] = ConnectionState()
    state.welcome(hello(), claims(role, **kw), NOW, None)
    return state


def frame(**msg: object) -> str:
    return json.dumps(msg)


def scan_frame(rid: str = "s1", **kw: object) -> str:
    msg = {"type": "scan", "id": rid, "code": "CODE", "session": "s1", "direction": "in"}
    return json.dumps({**msg, **kw})


# -- hello --------------------------------------------------------------------------------


def test_the_first_frame_must_be_a_text_hello() -> None:
    good = ConnectionState.hello(frame(type="hello", id="h", token="t", device="d"))
    assert good == protocol.Hello(id="h", token="t", device="d")
    not_text = ConnectionState.hello(None)
    assert isinstance(not_text, RefuseAndClose) and not_text.code == WS_CLOSE_UNAUTHORIZED
    assert not_text.reply["message"] == "text frames only"
    scan_first = ConnectionState.hello(scan_frame("1"))
    assert isinstance(scan_first, RefuseAndClose) and scan_first.code == WS_CLOSE_UNAUTHORIZED
    assert scan_first.reply == {
        "type": "error",
        "re": "1",
        "code": "bad_message",
        "message": "the first message must be hello",
    }
    junk = ConnectionState.hello("{not json")
    assert isinstance(junk, RefuseAndClose) and junk.reply["code"] == "bad_message"
    late = ConnectionState.hello_missing()
    assert (late.reply["message"], late.code) == ("hello expected", WS_CLOSE_UNAUTHORIZED)


@pytest.mark.parametrize(
    ("error", "message", "close"),
    [
        (Unauthorized("bad token"), "bad token", WS_CLOSE_UNAUTHORIZED),
        # the role has no use for /ws (a speaker's token)
        (Forbidden("role"), "this token's role has no use for /ws", WS_CLOSE_FORBIDDEN),
        # the store down is no bad token: try again later, with the same token
        (Unavailable("store down"), "store down", CLOSE_TRY_AGAIN_LATER),
    ],
)
def test_a_hello_whose_token_is_refused_is_told_why_and_closed(
    error: PodiumError, message: str, close: int
) -> None:
    refusal = ConnectionState.hello_refused(hello(), error)
    assert refusal.code == close
    assert refusal.reply == {
        "type": "error",
        "re": "h1",
        "code": error.ws_code(),
        "message": message,
    }


def test_welcome_names_the_device_and_the_scanner() -> None:
    state: ConnectionState[str] = ConnectionState()
    reply = state.welcome(hello("door-A-1"), claims(session="s2"), NOW, {"id": "ev"})
    assert reply == {
        "type": "welcome",
        "re": "h1",
        "role": "staff",
        "device": f"door-A-1@{JTI[:8]}",  # a chosen name is scoped by its token
        "session": "s2",
        "participant": None,
        "event": {"id": "ev"},
        "server_time": NOW,
    }
    assert state.scanner == Scanner(
        device=f"door-A-1@{JTI[:8]}", actor=JTI, bound_session="s2", authorized_from=NOW - 60
    )
    assert state.check_token(NOW) is AuthCheck.VALID  # just looked up by the hello
    bound = welcomed(device="gate-7")
    assert bound.device == "gate-7"  # a token bound to a device names it
    unnamed: ConnectionState[str] = ConnectionState()
    unnamed.welcome(hello(""), claims("organizer", session="s2"), NOW, None)
    assert unnamed.device == f"organizer@{JTI[:8]}"
    assert unnamed.scanner is not None and unnamed.scanner.bound_session is None


# -- frames -------------------------------------------------------------------------------


def test_a_request_is_handed_on_and_junk_is_answered_after_a_token_check() -> None:
    state = welcomed()
    request = state.receive_text(scan_frame("s1"), NOW, MONO)
    assert isinstance(request, ScanRequest) and request.request_id == "s1"
    assert isinstance(state.receive_text(frame(type="ping", id="p"), NOW, MONO), protocol.Ping)
    for text, code in (
        ("{not json", "bad_message"),
        (frame(type="warp", id="w"), "unknown_type"),
        (frame(type="presence", id="p", session="s1", state="watching"), "forbidden"),
    ):
        answer = state.receive_text(text, NOW, MONO)
        assert isinstance(answer, SendReply) and answer.authorize
        assert answer.reply["code"] == code


def test_an_expired_token_is_refused_at_its_next_frame() -> None:
    state = welcomed()
    refusal = state.receive_text(frame(type="ping", id="late"), NOW + 3600, MONO)
    assert refusal == RefuseAndClose(
        {"type": "error", "re": "late", "code": "forbidden", "message": "expired token"},
        WS_CLOSE_UNAUTHORIZED,
    )
    assert state.refused
    assert state.receive_text(frame(type="ping", id="more"), NOW, MONO) is None


def test_frames_past_the_rate_are_told_to_slow_down_with_their_id() -> None:
    state = welcomed()
    answers = [state.receive_text(frame(type="ping", id=f"p{n}"), NOW, MONO) for n in range(600)]
    pongs = [a for a in answers if isinstance(a, protocol.Ping)]
    slowed = [a for a in answers if isinstance(a, SendReply)]
    assert len(pongs) == BURST and len(slowed) == 600 - BURST
    assert slowed[0].reply == {
        "type": "error",
        "re": f"p{int(BURST)}",
        "code": "rate_limited",
        "message": "too many messages: slow down",
    }
    # a second later, RATE_PER_S more pass
    later = [state.receive_text(frame(type="ping", id="x"), NOW, MONO + 1) for _ in range(300)]
    assert sum(isinstance(a, protocol.Ping) for a in later) == RATE_PER_S


def test_malformed_and_binary_frames_count_against_the_same_budget() -> None:
    state = welcomed()
    junk = [state.receive_text("x", NOW, MONO) for _ in range(int(BURST) + 10)]
    codes = [a.reply["code"] for a in junk if isinstance(a, SendReply)]
    assert codes == ["bad_message"] * int(BURST) + ["rate_limited"] * 10
    state = welcomed()
    binary = [state.receive_binary(MONO) for _ in range(int(BURST) + 10)]
    codes = [a.reply["code"] for a in binary if isinstance(a, SendReply)]
    assert codes == ["bad_message"] * int(BURST) + ["rate_limited"] * 10
    assert all(isinstance(a, SendReply) and not a.authorize for a in binary)  # checked before


def test_a_flood_is_refused_once_and_nothing_more_is_handled() -> None:
    state = welcomed()
    decisions = [
        state.receive_text(scan_frame(f"f{n}"), NOW, MONO)
        for n in range(int(BURST + FLOOD_REFUSALS_BURST) + 10)
    ]
    refusals = [d for d in decisions if isinstance(d, RefuseAndClose)]
    assert refusals == [
        RefuseAndClose(
            {"type": "error", "code": "rate_limited", "message": "flooding: closed"},
            CLOSE_POLICY_VIOLATION,
        )
    ]
    assert decisions.index(refusals[0]) == BURST + FLOOD_REFUSALS_BURST
    assert decisions[-1] is None and state.refused
    assert state.receive_binary(MONO + 60) is None


def test_searches_have_a_bucket_of_their_own() -> None:
    state = welcomed()
    allowed = [state.admit_search(MONO) for _ in range(int(SEARCH_BURST) + 1)]
    assert allowed == [True] * int(SEARCH_BURST) + [False]


# -- the token ----------------------------------------------------------------------------


def test_the_revoked_set_is_looked_at_every_half_second_and_a_refusal_is_said_once() -> None:
    state = welcomed()
    assert state.check_token(NOW + 0.1) is AuthCheck.VALID
    assert state.check_token(NOW + LOOK_EVERY_S) is AuthCheck.LOOK_UP
    assert state.check_token(NOW + LOOK_EVERY_S + 0.1) is AuthCheck.VALID
    assert state.check_token(NOW + 3600) is AuthCheck.EXPIRED
    refusal = state.refuse_token("revoked token")
    assert refusal == RefuseAndClose(
        {"type": "error", "code": "forbidden", "message": "revoked token"}, WS_CLOSE_UNAUTHORIZED
    )
    assert state.refuse_revoked("s9") is None and state.refuse_token("expired token") is None


def test_a_token_revoked_by_a_requests_own_check_is_audited() -> None:
    state = welcomed()
    refusal = state.refuse_revoked("s9")
    assert refusal is not None and refusal.audited and refusal.code == WS_CLOSE_UNAUTHORIZED
    assert refusal.reply == {
        "type": "error",
        "re": "s9",
        "code": "forbidden",
        "message": "revoked token",
    }


# -- in flight ----------------------------------------------------------------------------


def test_reading_stops_at_the_bound_and_goes_on_when_a_scan_is_answered() -> None:
    state: ConnectionState[str] = ConnectionState(max_in_flight=3)
    assert [state.take_scan(f"s{n}") for n in range(4)] == [True, True, True, False]
    assert state.scans_in_flight == 3
    state.scan_answered("s0")
    assert state.take_scan("s3") and not state.take_scan("s4")
    assert [state.take_task() for _ in range(4)] == [True, True, True, False]
    state.task_done()
    assert state.take_task() and not state.take_task()


def test_an_annul_waits_for_its_scan_and_goes_when_it_is_answered() -> None:
    state: ConnectionState[str] = ConnectionState()
    assert not state.wait_for_answer("never-sent", "annul-0")  # not_found at once
    state.take_scan("oops")
    assert state.wait_for_answer("oops", "annul-1")
    assert state.wait_for_answer("oops", "annul-2")
    assert state.scan_answered("oops") == ["annul-1", "annul-2"]
    assert not state.wait_for_answer("oops", "annul-3")  # answered: nothing to wait for
    assert state.scans_in_flight == 0


def test_an_annul_waiting_for_its_scan_survives_the_scan_sent_again() -> None:
    """A retry of the scan (alone, or in a sync) before its answer: the annul waiting
    goes on waiting, and goes with the first answer."""
    state: ConnectionState[str] = ConnectionState()
    state.take_scan("oops")
    assert state.wait_for_answer("oops", "undo")
    state.take_scan("oops")  # sent again
    state.expect_answer("oops")  # and in a sync
    assert state.scan_answered("oops") == ["undo"]
    assert state.scan_answered("oops") is None and state.answered("oops") is None
    state.expect_answer("q1")  # a sync's scan
    assert state.wait_for_answer("q1", "undo-q1")
    assert state.answered("q1") == ["undo-q1"]


# -- answers ------------------------------------------------------------------------------


def test_answers_ready_together_go_out_in_one_write_in_order() -> None:
    state: ConnectionState[str] = ConnectionState()
    firsts = [state.answer_ready({"type": "scan.result", "re": f"s{n}"}) for n in range(3)]
    assert firsts == [True, False, False]  # one write scheduled for the batch
    batch = state.take_batch(writable=True)
    assert batch is not None and [json.loads(t)["re"] for t in batch] == ["s0", "s1", "s2"]
    assert state.take_batch(writable=True) == [] and state.answer_ready({"re": "next"})


def test_a_client_that_falls_behind_gets_its_answers_from_the_backlog_in_order() -> None:
    state: ConnectionState[str] = ConnectionState()
    state.answer_ready({"re": "a"})
    assert state.take_batch(writable=False) is None  # its socket's buffer is full
    state.answer_ready({"re": "b"})
    # writable again, but older answers wait: the new ones go after them
    assert state.take_batch(writable=True) is None
    texts = [state.next_backlogged(), state.next_backlogged(), state.next_backlogged()]
    assert [json.loads(t)["re"] if t else None for t in texts] == ["a", "b", None]
    state.answer_ready({"re": "c"})
    assert state.take_batch(writable=True) == ['{"re":"c"}']


def test_a_refused_connection_still_owes_the_answers_of_scans_in_flight() -> None:
    state = welcomed()
    assert isinstance(state.receive_text(scan_frame("before"), NOW, MONO), ScanRequest)
    assert state.take_scan("before")
    assert state.refuse_token("expired token") is not None
    assert state.receive_text(scan_frame("after"), NOW, MONO) is None  # not handled
    assert state.scans_in_flight == 1  # the adapter closes once this is answered
    state.scan_answered("before")
    assert state.answer_ready({"type": "scan.result", "re": "before"})
    assert state.take_batch(writable=True) == ['{"type":"scan.result","re":"before"}']
    assert state.scans_in_flight == 0


# -- a dashboard's updates ----------------------------------------------------------------


def test_a_lone_update_goes_out_as_the_text_encoded_for_everyone() -> None:
    state: ConnectionState[str] = ConnectionState()
    assert state.take_update() is None
    update = {"sessions": {"s1": {"inside": 1}}, "server_time": 1.0}
    state.queue_update(update, "SHARED-TEXT")
    assert state.take_update() == "SHARED-TEXT"
    assert state.take_update() is None


def test_updates_a_slow_dashboard_has_not_taken_are_merged_newest_first() -> None:
    state: ConnectionState[str] = ConnectionState()
    first = {"sessions": {"s1": {"inside": 1}, "s2": {"inside": 5}}, "server_time": 1.0}
    state.queue_update(first, "t1")
    state.queue_update({"sessions": {"s1": {"inside": 2}}, "server_time": 2.0}, "t2")
    text = state.take_update()
    assert text is not None and json.loads(text) == {
        "type": "update",
        "sessions": {"s1": {"inside": 2}, "s2": {"inside": 5}},
        "server_time": 2.0,
    }
    assert first["sessions"] == {"s1": {"inside": 1}, "s2": {"inside": 5}}  # not changed
    state.queue_update({"sessions": {"s3": {}}, "server_time": 3.0}, "t3")
    assert state.take_update() == "t3"
