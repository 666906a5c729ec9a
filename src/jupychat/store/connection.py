"""One SQLite database file: lazy connection, transactions, retries, error mapping.

Design note: a :class:`Database` opens its connection on first use, not in the
constructor, so creating a store costs nothing. The connection runs in autocommit mode
and every operation is an explicit transaction: reads in ``BEGIN`` (one consistent WAL
snapshot), writes in ``BEGIN IMMEDIATE`` (the write lock is taken up front, so a write
never fails half-way on a lock upgrade). Lock waits are absorbed by ``busy_timeout``
and, past it, by a few retries with jittered backoff; only then does a "busy" reach the
caller, as a :class:`StoreError` that says what to do.

One connection per ``Database``, shared by threads under an ``RLock`` (the notebook
panel and the magics run on different threads); a child process after ``fork`` opens
its own. The schema check and migrations run once per process for each database file
(keyed by device and inode, so a deleted and re-created file is checked again).

Durability: WAL with ``synchronous=NORMAL``. A committed turn survives the process
being killed; a power cut can lose the last commits but never corrupts the file.

Checkpoints (copying the WAL back into the file, with an ``fsync`` each side) are this
module's, not SQLite's automatic ones, which run inside whichever ``COMMIT`` finds the
WAL over 1,000 pages: a notebook cell waiting for its turn's write would wait for them
(~3-15 ms every ~50 turns). A passive checkpoint runs after every
:data:`CHECKPOINT_EVERY` writes, at the end of the write that reaches the count, or,
for writes made inside :meth:`Database.deferring` (a cell's writes aside), when the
writer calls :meth:`Database.checkpoint_due` after the cell stopped waiting for it
(``StoreLink.settle`` tells it when).
SQLite's own stays on at :data:`WAL_BACKSTOP` pages, for very large writes. A checkpoint
changes no content and no durability: a commit is durable once it is in the WAL.
The full-text index's catch-up (:mod:`.fts`, :meth:`Database.index_pending`) goes
with it: at each periodic checkpoint of plain writes, and on the writer after every
cell's writes aside; a search runs it first.

A database file deleted (or replaced) while open: an open SQLite connection keeps
working on the unlinked file, so every later write would vanish. Each transaction
first compares the file at the path with the one opened (device and inode: one
``stat``). When it is gone or another file, the old connection is dropped, stale
``-wal``/``-shm`` files of a deleted database are removed (a new database must never
share them with connections still open on the old one), ``epoch`` is incremented, and
the transaction runs on a freshly opened (for a write: newly created) file. Callers
that keep state in memory compare ``epoch`` to learn that the file was lost and write
what they hold again. A read never creates a missing file: it keeps reading the old one.
A file *replaced* (renamed over) while open is handled as well as SQLite allows: the
old ``-wal`` (shared by name) is emptied into the old file before the new one is
opened, which is safe unless another program still has the old file open.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from jupychat.errors import StoreError

from . import fts, migrations

__all__ = ["MEMORY", "Database", "map_error"]

T = TypeVar("T")
MEMORY = ":memory:"
#: Write transactions between two checkpoints (a turn writes ~10 WAL pages a
#: transaction: ~1,000 pages, SQLite's default).
CHECKPOINT_EVERY = 100
#: SQLite's automatic checkpoint, kept for writes of thousands of pages at once.
WAL_BACKSTOP = 10_000

_checked: set[tuple[str, int, int]] = set()
_checked_lock = threading.Lock()
_inherited: list[sqlite3.Connection] = []
_pid = os.getpid()  # this process's id (see current_pid)


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    """This process's id, kept up to date by a fork hook (without ``fork``, as on
    Windows, it never changes): every transaction asks whether it runs in the process
    that opened the connection, and ``os.getpid()`` is a system call (~3 µs in a VM)."""
    return _pid


def _errname(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", None)
    if isinstance(name, str) and name:
        return name
    text = str(exc).lower()
    for needle, code in (
        ("locked", "SQLITE_BUSY"),
        ("busy", "SQLITE_BUSY"),
        ("disk is full", "SQLITE_FULL"),
        ("readonly", "SQLITE_READONLY"),
        ("read-only", "SQLITE_READONLY"),
        ("unable to open", "SQLITE_CANTOPEN"),
        ("not a database", "SQLITE_NOTADB"),
        ("malformed", "SQLITE_CORRUPT"),
        ("disk i/o", "SQLITE_IOERR"),
    ):
        if needle in text:
            return code
    return "SQLITE_ERROR"


def is_busy(exc: BaseException) -> bool:
    """True for the lock errors that are worth retrying."""
    return _errname(exc).startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def map_error(exc: BaseException, where: str) -> StoreError:
    """A one-line StoreError for a sqlite3/OS error on the store at ``where``."""
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, PermissionError):
        return StoreError(
            f"cannot write the session store {where} (permission denied); "
            "set JUPYCHAT_STORE to a writable file"
        )
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        return StoreError(
            f"cannot use the session store {where} ({exc.strerror or exc}); "
            "set JUPYCHAT_STORE to a writable file"
        )
    name = _errname(exc)
    detail = str(exc).splitlines()[0] if str(exc) else name
    if name.startswith("SQLITE_FULL"):
        return StoreError(
            f"the session store {where} is full (disk or size limit); free some space "
            "and try again: nothing was saved by this call"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return StoreError(
            f"the session store {where} is read-only or not permitted ({detail}); "
            "set JUPYCHAT_STORE to a writable file"
        )
    if name.startswith("SQLITE_NOTADB"):
        return StoreError(
            f"{where} is not a SQLite database; move it away or set JUPYCHAT_STORE to another file"
        )
    if name.startswith("SQLITE_CORRUPT"):
        return StoreError(
            f"the session store {where} is damaged ({detail}); move it away to start "
            "a new one (export what you can first)"
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return StoreError(f"the session store {where} stayed locked by another process; try again")
    if name.startswith("SQLITE_IOERR"):
        return StoreError(
            f"could not read or write the session store {where} ({detail}); check "
            "the disk (full or failing?) and try again"
        )
    return StoreError(f"session store error at {where}: {detail}")


def _close_in(conn: sqlite3.Connection, pid: int) -> None:
    if current_pid() == pid:
        try:
            conn.close()
        except sqlite3.Error:
            pass


class Database:
    """A lazily opened SQLite database holding the session store schema.

    Parameters
    ----------
    path:
        The database file, or ``":memory:"``.
    timeout:
        Seconds SQLite waits for a lock (``busy_timeout``) before each retry.
    retries:
        Extra attempts, with jittered backoff, after a lock wait times out.
    """

    def __init__(self, path: str | Path, *, timeout: float = 5.0, retries: int = 5) -> None:
        self.path = path if path == MEMORY else Path(path)
        self._fspath = os.fspath(self.path)  # (stat()ed by every transaction)
        self.timeout = timeout
        self.retries = retries
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._file: tuple[int, int] | None = None  # (device, inode) of the open file
        self.epoch = 0  # how many times the file was found deleted or replaced
        self._writes = 0  # write transactions since the last checkpoint
        self._unindexed = False  # this object wrote since its last full-text catch-up
        self._deferring = threading.local()  # .on: this thread's checkpoints wait

    @property
    def where(self) -> str:
        return str(self.path)

    # -- connection --------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """The open connection (opened, checked and migrated on first use)."""
        with self._lock:
            if self._conn is not None and self._pid == current_pid():
                return self._conn
            if self._conn is not None:
                # Forked child: the parent's connection must be neither used nor closed
                # here (closing it could checkpoint and delete the parent's WAL), so it
                # is parked where garbage collection cannot reach it.
                _inherited.append(self._conn)
                self._conn = None
            conn = self._with_retries(self._open)
            self._conn, self._pid = conn, current_pid()
            opened = self._identity()
            if self._file is not None and opened != self._file:
                self.epoch += 1  # closed, then the file was replaced before this reopen
            self._file = opened
            # Closed when the Database is garbage-collected, in the process that opened it.
            weakref.finalize(self, _close_in, conn, self._pid)
            return conn

    def _open(self) -> sqlite3.Connection:
        if isinstance(self.path, Path):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the session store {self.path} "
                    f"({exc.strerror or exc}); set JUPYCHAT_STORE to a writable file"
                ) from None
            if self.path.is_dir():
                raise StoreError(
                    f"the session store path {self.path} is a folder; give a file path"
                )
            if not self.path.exists():
                self._remove_stale_wal()
        try:
            conn = sqlite3.connect(
                str(self.path),
                timeout=self.timeout,
                isolation_level=None,
                check_same_thread=False,
            )
        except (sqlite3.Error, OSError) as exc:
            raise map_error(exc, self.where) from None
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        # Every open reads user_version (cheap) so a newer schema is always refused;
        # the full check and the migrations run once per process for each file.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(migrations.MIGRATIONS):
            raise migrations.newer_error(self.where, version)
        key = self._key()
        with _checked_lock:
            known = key is not None and key in _checked and version == len(migrations.MIGRATIONS)
        pending: list[str] = []
        if not known:
            # Read-only check first: a newer or foreign database is left untouched.
            pending = migrations.check(conn, self.where)
        if self.path != MEMORY:
            mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if self.path != MEMORY:
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_BACKSTOP}")  # see the module note
        if not known:
            if pending:
                migrations.migrate(conn, self.where)
            key = self._key()
            if key is not None:
                with _checked_lock:
                    _checked.add(key)

    def _identity(self) -> tuple[int, int] | None:
        if not isinstance(self.path, Path):
            return None
        try:
            st = os.stat(self._fspath)
        except OSError:
            return None
        return (st.st_dev, st.st_ino)

    def _remove_stale_wal(self) -> None:
        """Remove the ``-wal``/``-shm`` of a database file that no longer exists.

        Connections still open on the deleted file keep theirs (open files); a new
        database at the path must not share them, or both are corrupted.
        """
        for suffix in ("-wal", "-shm"):
            try:
                os.unlink(f"{self.path}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as exc:
                raise map_error(exc, self.where) from None

    def _check_file(self, writing: bool) -> None:
        """Reopen when the open file was deleted or replaced (see the design note)."""
        if self._conn is None or self._pid != current_pid():
            return
        now = self._identity()
        if now == self._file or (now is None and not writing):
            return
        conn, self._conn, self._file = self._conn, None, None
        try:
            if now is not None:
                # Replaced: the -wal at the path is still the old file's, and the new
                # one would read it. Empty it into the old file first (this fails,
                # harmlessly, while another program still reads the old file).
                conn.execute("PRAGMA busy_timeout = 100")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        except sqlite3.Error:
            pass
        try:
            # SQLite neither checkpoints nor deletes the WAL of a moved file on close.
            conn.close()
        except sqlite3.Error:
            pass
        self.epoch += 1

    def _key(self) -> tuple[str, int, int] | None:
        if not isinstance(self.path, Path):
            return None
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (str(self.path.resolve()), st.st_dev, st.st_ino)

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            if self._pid == current_pid():
                conn.close()
            else:
                _inherited.append(conn)  # a forked child: see connection()

    # -- transactions ------------------------------------------------------------

    def _with_retries(self, fn: Callable[[], T]) -> T:
        attempt = 0
        while True:
            try:
                return fn()
            except StoreError:
                raise
            except (sqlite3.Error, OSError) as exc:
                if not is_busy(exc) or attempt >= self.retries:
                    raise map_error(exc, self.where) from None
            attempt += 1
            time.sleep(random.uniform(0.01, 0.05) * 2 ** min(attempt, 5))

    def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one read transaction (a consistent snapshot)."""
        return self._transaction(fn, "BEGIN")

    def read_one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        """The first row of one read statement, run on its own: SQLite reads it in one
        implicit transaction (a consistent snapshot) without the ``BEGIN``/``COMMIT`` of
        :meth:`read` (a turn's check that nothing changed is this one statement)."""
        with self._lock:
            self._check_file(writing=False)
            conn = self.connection()
            row: tuple[Any, ...] | None = self._with_retries(
                lambda: conn.execute(sql, params).fetchone()
            )
            return row

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` inside one ``BEGIN IMMEDIATE`` transaction: all or nothing.

        ``fn`` may be called again after a lock timeout (everything it did was rolled
        back), so it must not change anything outside the database.
        """
        return self._transaction(fn, "BEGIN IMMEDIATE")

    def _transaction(self, fn: Callable[[sqlite3.Connection], T], begin: str) -> T:
        with self._lock:
            self._check_file(writing=begin != "BEGIN")
            conn = self.connection()

            def attempt() -> T:
                conn.execute(begin)
                try:
                    result = fn(conn)
                    conn.execute("COMMIT")
                    return result
                except BaseException:
                    if conn.in_transaction:
                        try:
                            conn.execute("ROLLBACK")
                        except sqlite3.Error:
                            pass
                    raise

            result = self._with_retries(attempt)
            if begin != "BEGIN":
                self._writes += 1
                self._unindexed = True
                if self._writes >= CHECKPOINT_EVERY and not getattr(self._deferring, "on", False):
                    self.index_pending()
                    self._checkpoint()
            return result

    # -- the full-text index's catch-up (see .fts) ---------------------------------------

    def index_pending(self, wait: float = 0.0) -> bool:
        """Index the messages written but not indexed yet, in one short write.

        Waits at most ``wait`` seconds for the write lock, and never raises: False when
        the index could not be written (read-only store, lock held, ...), which a search
        makes up for (``fts.pending_hits``)."""
        with self._lock:
            if self._conn is None and isinstance(self.path, Path) and not self.path.exists():
                return False  # (never creates the store: nothing is in it to index)
            try:
                self._check_file(writing=False)
                conn = self.connection()
                self._unindexed = False
                if conn.in_transaction or not fts.has_pending(conn):
                    return not conn.in_transaction
                conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        fts.catch_up(conn)
                        conn.execute("COMMIT")
                    finally:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                finally:
                    conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            except (sqlite3.Error, OSError, StoreError):
                return False
            self._writes += 1
            return True

    # -- checkpoints (see the module note) ------------------------------------------

    @contextlib.contextmanager
    def deferring(self) -> Iterator[None]:
        """Within the block, this thread's writes leave a due checkpoint to
        :meth:`checkpoint_due` (called when nobody waits for the writer any more)."""
        before = getattr(self._deferring, "on", False)
        self._deferring.on = True
        try:
            yield
        finally:
            self._deferring.on = before

    def checkpoint_wanted(self) -> bool:
        """True when the writes so far made a checkpoint or a full-text catch-up due
        (any write may have left messages to index)."""
        return self._unindexed or self._writes >= CHECKPOINT_EVERY

    def checkpoint_due(self) -> None:
        """Index the messages left to index, then run the checkpoint the writes so far
        have made due, if any."""
        with self._lock:
            if self._unindexed:
                self.index_pending()
            if self._writes >= CHECKPOINT_EVERY:
                self._checkpoint()

    def _checkpoint(self) -> None:
        self._writes = 0
        conn = self._conn
        if conn is None or self._pid != current_pid() or self.path == MEMORY:
            return
        try:
            # passive: never waits for readers or writers of other processes; what it
            # cannot copy now, the next one copies
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass  # as SQLite's automatic checkpoint: a failure loses nothing
