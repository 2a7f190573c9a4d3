from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from podium_server.auth import TokenSigner, load_or_create_secret, parse_ttl
from podium_server.auth.tokens import MAX_TTL_S, b64d, b64e, check_ttl
from podium_server.errors import Unauthorized

NOW = 1_700_000_000.0


def test_secret_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "dir" / "secret.key"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_secret(path) == first and len(first) == 32


def test_processes_starting_together_agree_on_one_secret(tmp_path: Path) -> None:
    """Two nodes sharing the secret's volume start at once: one secret, whole, for both."""
    import subprocess
    import sys

    path = tmp_path / "shared" / "secret.key"
    import time

    code = (
        "import sys, time; from pathlib import Path; "
        "from podium_server.auth import load_or_create_secret; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); "  # all at once
        "print(load_or_create_secret(Path(sys.argv[1])).hex())"
    )
    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(path), start], stdout=subprocess.PIPE, text=True
        )
        for _ in range(8)
    ]
    outs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert outs == {path.read_text().strip()}
    assert [f.name for f in path.parent.iterdir()] == ["secret.key"]  # no leftovers


def test_secret_is_created_where_hard_links_are_not_supported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_links(src: object, dst: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # vfat, SMB without unix ext.

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "secret.key"
    first = load_or_create_secret(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600 and len(first) == 32
    assert load_or_create_secret(path) == first
    assert [f.name for f in tmp_path.iterdir()] == ["secret.key"]


def test_round_trip_keeps_claims() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue("staff", now=NOW, ttl_s=60, session="s1", device="door-A-1")
    claims = signer.verify(token, now=NOW + 59)
    assert (claims.role, claims.session, claims.device) == ("staff", "s1", "door-A-1")
    assert claims.may_scan("s1") and not claims.may_scan("s2")


def test_expired_token_is_refused() -> None:
    signer = TokenSigner(b"k" * 32)
    token = signer.issue("organizer", now=NOW, ttl_s=60)
    with pytest.raises(Unauthorized, match="expired"):
        signer.verify(token, now=NOW + 60)


def test_token_from_another_deployment_is_forged() -> None:
    token = TokenSigner(b"a" * 32).issue("organizer", now=NOW)
    with pytest.raises(Unauthorized, match="forged"):
        TokenSigner(b"b" * 32).verify(token, now=NOW)


def test_edited_claims_break_the_signature() -> None:
    signer = TokenSigner(b"k" * 32)
    prefix, body, sig = signer.issue("trainee", now=NOW, participant="P1").split(".")
    claims = b64d(body).replace(b'"trainee"', b'"organizer"')
    with pytest.raises(Unauthorized, match="forged"):
        signer.verify(f"{prefix}.{b64e(claims)}.{sig}", now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        None,
        42,
        "pd1.x",
        "a.b.c",
        "pd1." + "x" * 5000 + ".y",
        "pd1.é.x",
        "pd1.abc.é",
        "pd1.\x00.\x00",
    ],
)
def test_malformed_tokens_are_unauthorized(token: object) -> None:
    with pytest.raises(Unauthorized):
        TokenSigner(b"k" * 32).verify(token, now=NOW)


def test_roles_scope_what_a_token_may_do() -> None:
    signer = TokenSigner(b"k" * 32)
    roaming = signer.verify(signer.issue("staff", now=NOW), now=NOW)
    assert roaming.may_scan("any") and not roaming.may_publish("any")
    speaker = signer.verify(signer.issue("speaker", now=NOW, session="s1"), now=NOW)
    assert speaker.may_publish("s1") and not speaker.may_publish("s2")
    trainee = signer.verify(signer.issue("trainee", now=NOW, participant="P1"), now=NOW)
    assert trainee.may_watch("s1") and not trainee.may_scan("s1")
    with pytest.raises(ValueError):
        signer.issue("trainee", now=NOW)  # a trainee token names its participant
    with pytest.raises(ValueError):
        signer.issue("janitor", now=NOW)


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90), ("30m", 1800), ("12h", 43200), ("2d", 172800), ("45", 45)]
)
def test_parse_ttl(text: str, seconds: int) -> None:
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0h", "-1h", "12w", "h"])
def test_parse_ttl_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ttl(text)


def test_ttl_is_capped_at_30_days_with_a_clear_error() -> None:
    assert parse_ttl("30d") == 30 * 86400 == MAX_TTL_S
    for text in ("31d", "100000d", f"{30 * 86400 + 1}"):
        with pytest.raises(ValueError, match="at most 30 days"):
            parse_ttl(text)
    # For lifetimes given in seconds (links issued over HTTP): the same cap.
    assert check_ttl(MAX_TTL_S) == MAX_TTL_S
    with pytest.raises(ValueError, match="at most 30 days"):
        check_ttl(MAX_TTL_S + 1)


def test_a_world_readable_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "secret.key"
    load_or_create_secret(path)
    path.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        load_or_create_secret(path)
