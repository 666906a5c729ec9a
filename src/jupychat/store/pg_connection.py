"""One PostgreSQL database: a connection pool, per-user transactions, retries, error mapping.

Design note: :class:`PgDatabase` is the PostgreSQL twin of :class:`.connection.Database`:
the store's row SQL (:mod:`.tables`, :mod:`.sync`, :mod:`.checkpoints`, :mod:`.lineage`)
runs unchanged on it, through :class:`PgConn`, a thin adapter that gives a psycopg
connection the ``sqlite3`` calling convention those modules use (``?`` placeholders,
``cursor.lastrowid`` after an ``INSERT``, ``LIMIT -1`` for "no limit"). PostgreSQL
text cannot hold the NUL character; the adapter stores it as U+FFFD rather than
refusing the turn (SQLite keeps it as it is).

The base tables live in the ``jupychat`` schema; the store SQL names them unqualified
and so reaches them through views (see :mod:`.pg_migrations`): ``jupychat_read`` shows
the caller's own sessions plus those shared with them, ``jupychat_write`` only the
caller's own, with ``CHECK OPTION`` so nothing can be written into another user's
session. Every call is one transaction that first sets, transaction-locally,
``jupychat.user`` (the caller) and the ``search_path`` to one of those. The ownership
rule is therefore part of every query, for any database role; row-level security on
the base tables repeats it for roles that are not superusers.

Reads run at ``REPEATABLE READ READ ONLY`` (one consistent snapshot). Writes run at
``READ COMMITTED``, and the first thing every write does, looking its session up by id,
takes that row's lock (the adapter adds ``FOR UPDATE`` to that lookup): two writers of
one session queue on its row instead of failing, and the second then sees everything
the first committed, as with SQLite's ``BEGIN IMMEDIATE``, while writers of different
sessions never wait for each other. A deadlock or a race on a unique key (two kernels
creating one session) rolls the transaction back and runs it again after a short
jittered wait, like a SQLite lock retry, so concurrent turns are never lost.

Connections come from a ``psycopg_pool`` pool, opened on first use (creating a store
costs nothing) and per process (a forked child opens its own). Getting a connection
waits at most ``timeout`` seconds (for ``DOWN_FOR`` seconds after that failed, only
``DOWN_WAIT``: a notebook does not stall on every turn while the database is away, and
finds it again as soon as it is back); an unreachable server, a statement over
``statement_timeout`` and every other database error become a one-line
:class:`~jupychat.errors.StoreError` that never shows the password of the URL. The
callers (``_storelink``) keep unsaved turns in memory and write them on a later call.
"""

from __future__ import annotations

import contextlib
import functools
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from jupychat.errors import StoreError

__all__ = ["PgConn", "PgDatabase", "is_postgres_url", "redact_url"]

T = TypeVar("T")
SCHEMES = ("postgresql://", "postgres://")
READ_PATH, WRITE_PATH = "jupychat_read", "jupychat_write"
DOWN_FOR = 30.0  # seconds after "unreachable" during which calls wait only DOWN_WAIT
DOWN_WAIT = 0.5
RETRY_STATES = {"40001", "40P01", "23505"}  # serialization failure, deadlock, unique race
_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.IGNORECASE)
# A write's lookup of its session by id: it locks the row (see the design note).
_LOOKUP = re.compile(r"^\s*SELECT [\w\s,]+ FROM sessions WHERE id = \?\s*$", re.IGNORECASE)
_RETURNING = {"sessions": "pk", "messages": "id", "checkpoints": "id"}


def is_postgres_url(value: object) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) store URL."""
    return isinstance(value, str) and value.strip().lower().startswith(SCHEMES)


def redact_url(url: str) -> str:
    """``postgresql://user@host:port/db``: the URL without its password or options."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(url)
    except Exception:  # an unparsable URL: show only the scheme
        return "postgresql://…"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


@functools.lru_cache(maxsize=512)
def translate(sql: str, writing: bool = False) -> tuple[str, str | None]:
    """SQLite-style SQL to psycopg's: (SQL, the column an INSERT must return or None)."""
    if writing and _LOOKUP.match(sql):
        sql += " FOR UPDATE"
    out = sql.replace("%", "%%").replace("LIMIT ?", "LIMIT nullif(?::bigint, -1)")
    out = out.replace("?", "%s")
    returning = None
    match = _INSERT.match(out)
    if match and "RETURNING" not in out.upper():
        returning = _RETURNING.get(match.group(1).lower())
        if returning:
            out += f" RETURNING {returning}"
    return out, returning


class _Inserted:
    """The cursor of an ``INSERT ... RETURNING``, with ``lastrowid`` like sqlite3's."""

    def __init__(self, cursor: Any) -> None:
        row = cursor.fetchone()
        self.lastrowid = None if row is None else row[0]

    def fetchone(self) -> None:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def _text(value: str) -> str:
    """PostgreSQL text cannot hold NUL: it is stored as U+FFFD (SQLite keeps it)."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


class PgConn:
    """A psycopg connection inside a transaction, called the way ``sqlite3`` is."""

    def __init__(self, conn: Any, writing: bool = False) -> None:
        self.raw = conn
        self.writing = writing

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        text, returning = translate(sql, self.writing)
        values = tuple(_text(p) if isinstance(p, str) else p for p in params)
        cursor = self.raw.execute(text, values)
        return _Inserted(cursor) if returning else cursor


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def map_error(exc: BaseException, where: str, timeout: float) -> StoreError:
    """A one-line StoreError for a psycopg/pool error on the database at ``where``."""
    import psycopg
    from psycopg import errors as pgerr
    from psycopg_pool import PoolTimeout

    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, (PoolTimeout, psycopg.OperationalError)) and not isinstance(
        exc, (pgerr.QueryCanceled, pgerr.SerializationFailure, pgerr.DeadlockDetected)
    ):
        detail = f"no connection within {timeout:g}s" if isinstance(exc, PoolTimeout) else ""
        detail = detail or _first_line(exc).replace(where, "")[:160]
        return StoreError(
            f"cannot reach the session store database {where} ({detail}); check that "
            "PostgreSQL is running and JUPYCHAT_STORE is right: the chat keeps working "
            "and unsaved turns are written when the database is back"
        )
    if isinstance(exc, pgerr.QueryCanceled):
        return StoreError(
            f"the session store database {where} did not answer in time (statement "
            "timeout); try again, or ask the database admin whether it is overloaded"
        )
    if isinstance(exc, pgerr.InsufficientPrivilege) and "row-level security" not in str(exc):
        return StoreError(
            f"the database role of {where} may not use the session store "
            f"({_first_line(exc)[:120]}); ask the database admin to grant it"
        )
    if isinstance(exc, (pgerr.WithCheckOptionViolation, pgerr.InsufficientPrivilege)):
        return StoreError(
            f"that change is not allowed on the session store {where}: the session "
            "belongs to another user (copy it to continue it as yours)"
        )
    if isinstance(exc, pgerr.UniqueViolation):
        return StoreError(
            f"the session store {where} already holds that id; use another id "
            "(or save() to overwrite your own session)"
        )
    if isinstance(exc, (pgerr.UntranslatableCharacter, pgerr.CharacterNotInRepertoire)) or (
        "0x00" in str(exc)
    ):
        return StoreError(
            "PostgreSQL cannot store the NUL character (\\x00) or that byte sequence in "
            "text; remove it from the message: nothing was saved"
        )
    if isinstance(exc, pgerr.DiskFull):
        return StoreError(
            f"the session store database {where} is out of disk space; nothing was saved"
        )
    return StoreError(f"session store error at {where}: {_first_line(exc)[:200]}")


class PgDatabase:
    """A lazily opened PostgreSQL session store, used as ``user``.

    Parameters
    ----------
    url:
        ``postgresql://user:password@host:port/dbname`` (any libpq URL or options).
    user:
        Whose sessions this store shows and writes (the owner of new sessions).
    timeout:
        Seconds to wait for a connection (and for each statement, times six).
    pool_size:
        The most connections this process opens.
    retries:
        Extra attempts after a write conflict with another writer.
    """

    def __init__(
        self,
        url: str,
        *,
        user: str,
        timeout: float = 5.0,
        pool_size: int = 4,
        retries: int = 8,
    ) -> None:
        self.url = url.strip()
        self.user = user
        self.timeout = timeout
        self.pool_size = max(1, int(pool_size))
        self.retries = retries
        self.epoch = 0  # a server database is never "deleted while open" like a file
        self.path = redact_url(self.url)
        self._pool: Any = None
        self._pid = 0
        self._lock = threading.Lock()
        self._migrated = False
        self._down_until = 0.0  # after "unreachable": fail at once until then

    @property
    def where(self) -> str:
        return self.path

    # -- pool ----------------------------------------------------------------------

    def pool(self) -> Any:
        """The process's connection pool (created, and the schema migrated, on first use)."""
        with self._lock:
            if self._pool is not None and self._pid == os.getpid():
                return self._pool
            import logging

            from psycopg_pool import ConnectionPool

            # The pool logs each failed reconnection; with no handler configured Python
            # would print them into the notebook. Applications that configure logging
            # still get them (a NullHandler only stops the last-resort printing).
            logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
            self._pool = ConnectionPool(
                self.url,
                min_size=1,
                max_size=self.pool_size,
                open=False,
                timeout=self.timeout,
                kwargs={"autocommit": True, "connect_timeout": max(1, round(self.timeout))},
                check=ConnectionPool.check_connection,
                reconnect_timeout=0,  # never give up: the server may come back any time
                name="jupychat-store",
            )
            self._pool.open(wait=False)
            self._pid = os.getpid()
            return self._pool

    def close(self) -> None:
        """Close the pool's connections (the next call opens a new pool)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close(timeout=1)

    def _migrate(self) -> None:
        if self._migrated:
            return
        from . import pg_migrations

        with self.pool().connection() as conn:
            pg_migrations.migrate(conn, self.where)
        self._migrated = True

    # -- transactions ----------------------------------------------------------------

    def deferring(self) -> contextlib.AbstractContextManager[None]:
        """Nothing to defer: PostgreSQL checkpoints on its own (see ``Database.deferring``)."""
        return contextlib.nullcontext()

    def checkpoint_wanted(self) -> bool:
        """Never (see ``Database.checkpoint_wanted``)."""
        return False

    def checkpoint_due(self) -> None:
        """Nothing to do (see ``Database.checkpoint_due``)."""

    def read(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in one read-only snapshot of what ``user`` may see."""
        return self._transaction(fn, writing=False)

    def read_one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first row of one read statement (``Database.read_one``; here in
        :meth:`read`'s snapshot, which row security needs)."""
        return self.read(lambda conn: conn.execute(sql, params).fetchone())

    def write(self, fn: Callable[[Any], T]) -> T:
        """Run ``fn(conn)`` in one transaction on ``user``'s own sessions: all or nothing.

        ``fn`` may run again after a conflict with another writer (everything it did
        was rolled back), so it must not change anything outside the database.
        """
        return self._transaction(fn, writing=True)

    def raw(self, fn: Callable[[Any], T], *, writing: bool = True) -> T:
        """Run ``fn(psycopg_connection)`` in the same kind of transaction (own SQL)."""
        return self._transaction(lambda c: fn(c.raw), writing=writing)

    def _transaction(self, fn: Callable[[PgConn], T], writing: bool) -> T:
        import psycopg

        wait = DOWN_WAIT if time.monotonic() < self._down_until else self.timeout
        attempt = 0
        while True:
            try:
                self._migrate()
                with self.pool().connection(timeout=wait) as conn:
                    return self._run(conn, fn, writing)
            except StoreError:
                raise
            except (psycopg.Error, OSError) as exc:  # psycopg_pool.PoolTimeout included
                state = getattr(getattr(exc, "diag", None), "sqlstate", None)
                if state not in RETRY_STATES or attempt >= self.retries:
                    error = map_error(exc, self.where, self.timeout)
                    if str(error).startswith("cannot reach"):
                        # for a while the next calls wait only briefly for a connection
                        # instead of `timeout` each (the pool reconnects meanwhile)
                        self._down_until = time.monotonic() + DOWN_FOR
                    raise error from None
            attempt += 1
            time.sleep(random.uniform(0.002, 0.01) * 2 ** min(attempt, 6))

    def _run(self, conn: Any, fn: Callable[[PgConn], T], writing: bool) -> T:
        mode = "READ COMMITTED" if writing else "REPEATABLE READ READ ONLY"
        conn.execute(f"BEGIN ISOLATION LEVEL {mode}")
        try:
            conn.execute(
                "SELECT set_config('jupychat.user', %s, true), "
                "set_config('search_path', %s, true), "
                "set_config('statement_timeout', %s, true)",
                (
                    self.user,
                    WRITE_PATH if writing else READ_PATH,
                    f"{int(self.timeout * 6000)}ms",
                ),
            )
            result = fn(PgConn(conn, writing))
            conn.execute("COMMIT")
            return result
        except BaseException:
            if not conn.closed:
                try:
                    conn.execute("ROLLBACK")
                except Exception:
                    pass
            raise
