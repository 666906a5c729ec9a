"""pytest fixtures for the loopback fake model server (see ``fakeserver.py``).

One server runs for the whole test session (started on first use, stopped at exit);
the function-scoped ``fake_server`` fixture hands it out with an empty queue and no
recorded requests. Import it into a test module (``from fixtures_server import
fake_server`` and name it in ``__all__``), or list ``"fixtures_server"`` in the
``pytest_plugins`` of the root conftest.py. :func:`script` queues a reply on a fake
server running as a subprocess (conftest.py's module-scoped ``model_server`` fixture).
"""

from __future__ import annotations

import atexit
import json
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from fakeserver import FakeServer

__all__ = ["fake_server", "script", "shared_fake_server"]

_server: FakeServer | None = None
_lock = threading.Lock()


def shared_fake_server() -> FakeServer:
    """The process-wide fake server, started on first call."""
    global _server
    with _lock:
        if _server is None:
            _server = FakeServer().start()
            atexit.register(_server.stop)
        return _server


@pytest.fixture
def fake_server() -> Iterator[FakeServer]:
    """The running fake server, reset before and after the test."""
    server = shared_fake_server()
    server.reset()
    yield server
    server.reset()


def script(url: str, **fields: Any) -> None:
    """Queue the next reply of the fake server at ``url`` (``POST /_script``)."""
    request = urllib.request.Request(
        f"{url}/_script",
        data=json.dumps(fields).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request, timeout=5).close()
