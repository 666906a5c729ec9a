"""A throwaway PostgreSQL server for the tests and benchmarks: initdb + pg_ctl in a temp dir.

The server listens on 127.0.0.1 (a free port) and on a unix socket in its own folder,
trusts local connections (the folder is private to the test run) and runs with
``fsync=off`` (a test cluster needs no durability). ``initdb`` refuses to run as root,
so under root the cluster belongs to ``nobody`` and is started with ``runuser``.
:func:`fresh_database` makes an empty database per test (``CREATE DATABASE``, ~50 ms)
so every store starts from nothing, exactly as a user's first ``JUPYCHAT_STORE`` does.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BINDIRS = (
    *sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[::-1],
    "/usr/local/bin",
    "/usr/bin",
)
_counter = itertools.count(1)


def pg_bin(name: str) -> str | None:
    """The path of a PostgreSQL program (``initdb``, ``pg_ctl``), or ``None``."""
    for folder in BINDIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "nobody", "--", *argv]


@contextmanager
def postgres_server(extra: tuple[str, ...] = ()) -> Iterator[PgServer]:
    """Run a private PostgreSQL server until the context exits."""
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if initdb is None or pg_ctl is None:
        raise RuntimeError(
            "PostgreSQL is not installed (initdb/pg_ctl missing): run `make system-deps`"
        )
    folder = Path(tempfile.mkdtemp(prefix="jupychat-pg-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    data, port = folder / "data", _free_port()
    try:
        subprocess.run(
            _as_owner(
                [
                    initdb,
                    "-D",
                    str(data),
                    "-U",
                    "jupychat",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "-N",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = " ".join(
            [
                f"-k {folder}",
                "-h 127.0.0.1",
                f"-p {port}",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
                *list(extra),
            ]
        )
        subprocess.run(
            [
                *_as_owner(
                    [pg_ctl, "-D", str(data), "-l", str(folder / "log"), "-o", options, "-w"]
                ),
                "start",
            ],
            check=True,
            capture_output=True,
        )
        yield PgServer("127.0.0.1", port, "jupychat", folder)
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner([pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server: PgServer, prefix: str = "t") -> str:
    """Create an empty database on ``server``; returns its URL."""
    import psycopg

    name = f"{prefix}_{os.getpid()}_{next(_counter)}"
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    return server.url(name)
