"""Which requests have a stored answer in a SQLite file, held in memory."""

from __future__ import annotations

import sqlite3

# An audit row as a commit inserts it: (at, kind, device, actor, detail, the request's
# key, its stored answer).
AuditReplyRow = tuple[float, str, str, str, str, str, str]


class ReplyIndex:
    """Which requests have a stored answer, in memory: dedupe key -> the audit row that
    holds the answer (0: the replies table of files from before migration 4).

    Why not a table keyed by request: request keys arrive in no order, so each commit
    dirtied a page of that B-tree per scan -- half of the pages a commit wrote, measured.
    Answers now ride in the append-only audit rows (sequential pages) and this index
    finds them. It belongs to one connection's commits; `catch_up` (inside the write
    transaction, so nothing can slip in between) reads whatever other writers of the
    file appended since, so the index is exact whoever else writes.
    """

    def __init__(self) -> None:
        self.seqs: dict[str, int] = {}
        self.seen = -1  # the last audit row read; -1: nothing loaded yet

    def catch_up(self, c: sqlite3.Connection) -> None:
        if self.seen < 0:
            self.seqs.update((key, 0) for (key,) in c.execute("SELECT key FROM replies"))
            self.seen = 0
        rows = c.execute(
            "SELECT seq, reply_key FROM audit WHERE seq > ? ORDER BY seq", (self.seen,)
        ).fetchall()
        if rows:
            self.seqs.update((key, seq) for seq, key in rows if key is not None)
            self.seen = rows[-1][0]

    def answer(self, c: sqlite3.Connection, key: str) -> str:
        """The stored answer (JSON text) of an indexed key."""
        seq = self.seqs[key]
        if seq == 0:
            return str(c.execute("SELECT body FROM replies WHERE key = ?", (key,)).fetchone()[0])
        return str(c.execute("SELECT reply FROM audit WHERE seq = ?", (seq,)).fetchone()[0])

    def answers(self, c: sqlite3.Connection, keys: list[str]) -> dict[str, str]:
        self.catch_up(c)
        return {key: self.answer(c, key) for key in keys if key in self.seqs}

    def written(
        self, c: sqlite3.Connection, audit_rows: list[AuditReplyRow]
    ) -> list[tuple[str, int]]:
        """The (key, audit row) of each write just inserted: its audit rows were the last
        rows inserted, one statement, ids consecutive (AUTOINCREMENT, under the write
        lock). Applied with `add` once the transaction committed."""
        if not audit_rows:
            return []
        last = int(c.execute("SELECT last_insert_rowid()").fetchone()[0])
        first = last - len(audit_rows) + 1
        return [
            (key, first + i)
            for i, (_at, _kind, _device, _actor, _detail, key, _reply) in enumerate(audit_rows)
        ]

    def add(self, entries: list[tuple[str, int]]) -> None:
        for key, seq in entries:
            self.seqs[key] = seq
            self.seen = max(self.seen, seq)
