"""`make test`'s first step, .ci/system-packages: silent when every Debian package the
tests need is there; for a user who may not install them, one message naming what is
missing and the command that installs it, and a non-zero exit before any test runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "system-packages"


def run(*prefix: str, extra: str = "") -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PODIUM_EXTRA_PACKAGES=extra)
    return subprocess.run(
        [*prefix, "sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60
    )


def test_nothing_to_do_when_every_package_is_installed() -> None:
    # The test suite is running, so `make test` (or CI) got past this step on this machine.
    result = run()
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_user_who_cannot_install_gets_one_message_with_the_command() -> None:
    if shutil.which("dpkg-query") is None:
        pytest.skip("not a Debian system: the script checks commands there")
    # A user namespace mapping us to `nobody`: not root, whoever runs the tests.
    as_nobody = ("unshare", "--user", "--map-user=65534", "--map-group=65534")
    if subprocess.run([*as_nobody, "true"], capture_output=True).returncode != 0:
        pytest.skip("user namespaces are not permitted here")
    result = run(*as_nobody, extra="podium-no-such-package")
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "not installed: podium-no-such-package." in lines[0]
    assert lines[0].endswith(
        "sudo apt-get install -y --no-install-recommends podium-no-such-package"
    )
    # Only the missing package is named, not the whole list.
    assert "redis-server" not in lines[0]
