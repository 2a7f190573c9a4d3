"""The Store interface and its backends, chosen by URL scheme."""

from .base import AuditRecord, Store, open_store

__all__ = ["AuditRecord", "Store", "open_store"]
