"""The contract's server side runs against a real server process (see tests/client)."""

from client.conftest import server, stopped_server  # noqa: F401
