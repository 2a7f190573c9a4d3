"""SQLite files readable by their owner only: names, e-mail addresses and the audit log
are in them, as the deployment secret is in its file.

SQLite gives the WAL and shared-memory files the database file's permissions, so a
database created 0600 keeps its companions 0600 too. A file left readable by others (by
an older version, or a copy made carelessly) is tightened when the store opens it.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE = 0o600
COMPANIONS = ("-wal", "-shm", "-journal")


def make_private(path: str) -> None:
    """Create the database file 0600 if it does not exist; tighten it and its
    companions if they are open to group or others."""
    db = Path(path)
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        # An empty file is an empty SQLite database: sqlite3 then opens what we made.
        os.close(os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        pass
    for file in (db, *(db.with_name(db.name + suffix) for suffix in COMPANIONS)):
        tighten(file)


def tighten(file: Path) -> None:
    try:
        mode = stat.S_IMODE(file.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        try:
            os.chmod(file, mode & 0o700)
            log.warning("%s was readable by others: now %o", file, mode & 0o700)
        except OSError as err:  # not ours to change: say so, and carry on
            log.warning("%s is readable by others and could not be changed: %s", file, err)
