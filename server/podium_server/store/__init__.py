"""The Store interface and its backends, chosen by URL scheme."""

from .base import AuditRecord, Store
from .factory import open_store

__all__ = ["AuditRecord", "Store", "open_store"]
