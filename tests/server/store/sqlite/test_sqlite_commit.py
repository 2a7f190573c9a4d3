"""The SQLite batch commit on a real file: its checks, its answers, what it writes."""

from __future__ import annotations

import sqlite3

import pytest
from sqlite_rows import plain, rows

from podium_server.store.records import RECENT_KEEP
from podium_server.store.sqlite.commit import commit_rows, latest
from podium_server.store.sqlite.reply_index import ReplyIndex
from podium_server.store.sqlite.writes import COMMITTED_RAW, CONFLICT_RAW


def test_commit_rows_fast_path_and_fallbacks(db: str) -> None:
    c = sqlite3.connect(db, isolation_level=None)
    index = ReplyIndex()
    assert (
        commit_rows(c, [plain("k1", "p1"), plain("k2", "p2"), plain("k3", None)], index)
        == [COMMITTED_RAW] * 3
    )
    # a retried request, a stale decision, the same request twice, and a fresh write
    out = commit_rows(
        c,
        [
            plain("k1", "p1"),  # answered before
            plain("k4", "p1", version=1),  # p1 is at version 1 already: conflict
            plain("k5", "p2", version=2),  # fresh: p2 moves 1 -> 2
            plain("k5", "p2", version=3),  # the same request again in this batch
        ],
        index,
    )
    assert out[0] == ("d", '{"reply":{"re":"k1"}}')
    assert out[1:] == [CONFLICT_RAW, COMMITTED_RAW, ("i", 2)]
    assert sorted(r[0] for r in rows(db, "SELECT scan_id FROM door_scans")) == ["k1", "k2", "k5"]
    assert len(rows(db, "SELECT * FROM audit WHERE kind = 'scan'")) == 4  # k1 k2 k3 k5
    assert rows(db, "SELECT version FROM pairs WHERE participant_id = 'p2'") == [(2,)]


def test_answers_ride_in_the_audit_log_and_every_writer_sees_them(db: str) -> None:
    """No table keyed by request: each answer is in its audit row, found through an
    in-memory index that catches up with what other connections wrote (inside the write
    transaction) and with the replies table of files written before migration 4."""
    one, other = sqlite3.connect(db, isolation_level=None), sqlite3.connect(db)
    with other:
        other.execute("INSERT INTO replies (key, body) VALUES ('old', '{\"reply\":1}')")
    mine, theirs = ReplyIndex(), ReplyIndex()
    assert commit_rows(one, [plain("k1", "p1")], mine) == [COMMITTED_RAW]
    assert rows(db, "SELECT reply_key, reply FROM audit") == [("k1", '{"reply":{"re":"k1"}}')]
    assert rows(db, "SELECT count(*) FROM replies") == [(1,)]  # the old answer only
    two = sqlite3.connect(db, isolation_level=None)
    # another writer (its index built from the file) refuses both, answering as stored
    out = commit_rows(two, [plain("k1", "p2"), plain("old", None), plain("k2", "p2")], theirs)
    assert out == [("d", '{"reply":{"re":"k1"}}'), ("d", '{"reply":1}'), COMMITTED_RAW]
    # and the first writer, told nothing, sees k2 answered when it commits next
    assert commit_rows(one, [plain("k2", "p3")], mine) == [("d", '{"reply":{"re":"k2"}}')]
    assert ReplyIndex().answers(one, ["k1", "k2", "old", "nope"]) == {
        "k1": '{"reply":{"re":"k1"}}',
        "k2": '{"reply":{"re":"k2"}}',
        "old": '{"reply":1}',
    }
    # a transaction that failed indexes nothing
    broken = plain("k9", "p9")._replace(
        audit_row=(1.0, "scan", "door", "jti", None),  # NOT NULL
        unrevoked_badge=None,
        token=None,
    )
    with pytest.raises(sqlite3.IntegrityError):
        commit_rows(one, [broken], mine)
    assert "k9" not in mine.seqs and not one.in_transaction


def test_a_batch_writes_only_the_recent_items_a_dashboard_can_show() -> None:
    rows = [("a" if i % 3 else "b", str(i)) for i in range(100)]
    kept = latest(rows)
    for session in ("a", "b"):
        mine = [row for row in rows if row[0] == session]
        assert [row for row in kept if row[0] == session] == mine[-RECENT_KEEP:]
    assert kept == [row for row in rows if row in kept]  # order kept
    assert latest(rows[:5]) == rows[:5]
