"""The store's roles, its backends (chosen by URL scheme) and the message bus."""

from .factory import open_bus, open_store
from .records import AuditRecord
from .roles import Store

__all__ = ["AuditRecord", "Store", "open_bus", "open_store"]
