"""Tokens for tests and their harnesses, signed the way the server under test signs
them: with a signer the caller holds (an app's own, in this process) or with the
deployment secret a server in another process reads from its secret file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from podium_server.auth import TokenSigner, load_or_create_secret


def sign(signer: TokenSigner, role: str, **claims: Any) -> str:
    """A token of `role`, valid from now. `claims`: `session=`, `participant=`,
    `device=`, and `ttl_s=` for another lifetime than the signer's default."""
    return signer.issue(role, now=time.time(), **claims)


def file_signer(secret_file: Path) -> TokenSigner:
    """The signer of the server that uses `secret_file` (created 0600 if still missing,
    as the server itself would)."""
    return TokenSigner(load_or_create_secret(secret_file))
