"""The node's copy of revoked ids, without any store: the caller reads, it keeps."""

from __future__ import annotations

from podium_server.store.revoked import RevokedIds


def test_fresh_for_its_time_then_due_again() -> None:
    ids = RevokedIds(fresh_s=1.0)
    assert ids.due(0.0)  # never read
    ids.read({"a"}, now=10.0, generation=ids.generation())
    assert not ids.due(10.9) and ids.due(11.0)
    assert "a" in ids and "b" not in ids
    assert ids.among(["a", "b"]) == {"a"}


def test_a_revocation_here_makes_the_next_check_read_again() -> None:
    ids = RevokedIds(fresh_s=1.0)
    ids.read(set(), now=10.0, generation=ids.generation())
    ids.revoked()
    assert ids.due(10.1)


def test_a_read_that_overlapped_a_revocation_is_kept_but_not_fresh() -> None:
    """The set read may predate the revocation: use it, but read again next time."""
    ids = RevokedIds(fresh_s=1.0)
    generation = ids.generation()
    ids.revoked()  # while the read was on its way
    ids.read({"old"}, now=10.0, generation=generation)
    assert "old" in ids and ids.due(10.1)
    ids.read({"old", "new"}, now=10.2, generation=ids.generation())
    assert not ids.due(10.3) and "new" in ids


def test_a_failed_read_keeps_the_last_set_and_retries_in_a_fifth() -> None:
    ids = RevokedIds(fresh_s=1.0)
    ids.read({"a"}, now=10.0, generation=ids.generation())
    ids.read_failed(now=11.5)
    assert "a" in ids
    assert not ids.due(11.6) and ids.due(11.75)
