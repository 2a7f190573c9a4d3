"""A consistent copy of a live SQLite store, readable by its owner only.

SQLite's online backup copies the database as one transaction sees it, WAL included,
while the server keeps writing; copying the file with `cp` mid-write can give a torn
copy, and gives it the umask's mode (0644: every name and e-mail readable by all).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..file_modes import PRIVATE


def backup_sqlite(db_path: str, out: Path) -> int:
    """Copy `db_path` to `out` (replaced whole, 0600); the number of pages copied."""
    if not Path(db_path).is_file():
        raise FileNotFoundError(f"no database at {db_path}")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{os.getpid()}.part")
    part.unlink(missing_ok=True)
    os.close(os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    try:
        source = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
        try:
            target = sqlite3.connect(part)
            try:
                source.backup(target)
                pages = int(target.execute("PRAGMA page_count").fetchone()[0])
                # A copy in rollback mode: one self-contained file, no WAL beside it.
                target.execute("PRAGMA journal_mode=DELETE")
            finally:
                target.close()
        finally:
            source.close()
        os.replace(part, out)  # never a half-written backup under the final name
    finally:
        part.unlink(missing_ok=True)
    return pages
