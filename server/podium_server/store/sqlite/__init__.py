"""The SQLite backend, one concept per module.

`store` (the Store itself) composes: `schema` (migrations, connections), `queries` (the
read side), `updates` (the writes made on the store's thread), `writes` (a check-in write
as rows, and the commit's answers), `commit` (one batch commit in SQL), `reply_index`,
`writer` (the process that commits) and `writer_process` (the parent's handle on it),
`checkpoints` (background WAL checkpoints); `backup` copies a live file.
"""

from .backup import backup_sqlite
from .store import SqliteStore, path_from_url
from .writer_process import WriterError

__all__ = ["SqliteStore", "WriterError", "backup_sqlite", "path_from_url"]
