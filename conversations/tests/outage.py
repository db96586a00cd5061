"""A real database outage for tests: the connection points at a database that is not there."""

import contextlib
import copy
import socket

from django.db import connection


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens here once the socket is closed


@contextlib.contextmanager
def database_unreachable():
    """Point the real connection at a database that is not there, then put it back."""
    original = copy.deepcopy(connection.settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        connection.close_pool()
        connection.settings_dict["PORT"] = str(closed_port())
        connection.settings_dict["OPTIONS"]["pool"] = {**connection.settings_dict["OPTIONS"]["pool"], "timeout": 1.0, "min_size": 0}
    else:
        connection.settings_dict["NAME"] = "/nonexistent-parley-dir/db.sqlite3"
    try:
        yield
    finally:
        connection.close()
        if connection.vendor == "postgresql":
            connection.close_pool()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
