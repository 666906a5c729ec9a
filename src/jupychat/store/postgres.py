"""``SessionStore`` on PostgreSQL: the same API, per-user ownership and read-only sharing.

Design note: ``SessionStore("postgresql://…")`` (or ``JUPYCHAT_STORE`` / the config
file's ``store`` set to such a URL) returns a :class:`PostgresStore`. It inherits every
method of the SQLite store: the row SQL runs unchanged on a :class:`.pg_connection.PgDatabase`
(see there for the transaction model and :mod:`.pg_migrations` for the schema), and only
listing/search (:mod:`.pg_search`), the pieces that are PostgreSQL's own, are replaced.

Every session has an ``owner``: the store's ``user``, by default the JupyterHub user
(``JUPYTERHUB_USER``, which JupyterHub sets for each single-user server and its
kernels), else the OS user. A store shows its user their own sessions plus those shared
with them (by name, or with everyone: ``"*"``), and writes only their own: the rule is in
the views every query goes through, and in row-level security on the tables. A session
someone else owns is simply absent from writes ("no session …"), and :meth:`access`
tells callers (the server's API: 403 or 404) which case they are in.

Who the caller is: by default the name the store sends (``jupychat.user``), which suits
one database role shared by the hub's servers and guards against mistakes, not against a
user who connects with that role by hand. Against that, give each user their own
database role (named as on the hub) and set ``UPDATE jupychat.config SET identity =
'role'`` (as the schema's owner): then the database role *is* the caller, whatever a
connection sets, and row-level security holds for each user.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from jupychat import config
from jupychat.errors import StoreError

from . import pg_search
from .pg_connection import PgDatabase, redact_url
from .sqlite import SessionStore, Summary

__all__ = ["EVERYONE", "PostgresStore", "current_user", "grantees"]

EVERYONE = "*"
_NAME = re.compile(r"^[^\s\x00-\x1f\x7f]{1,200}$")


def current_user() -> str:
    """Who owns new sessions: ``JUPYTERHUB_USER``, else the OS user."""
    hub = os.environ.get("JUPYTERHUB_USER", "").strip()
    if hub:
        return hub
    try:
        return getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        return f"uid-{os.getuid()}" if hasattr(os, "getuid") else "user"


def grantees(users: str | Iterable[str]) -> list[str]:
    """Validated, sorted, distinct user names (``"*"``: everyone); else a StoreError."""
    names = [users] if isinstance(users, str) else list(users)
    if not names:
        raise StoreError("name at least one user to share with (or '*' for everyone)")
    for name in names:
        if not isinstance(name, str) or not _NAME.match(name.strip()):
            raise StoreError(
                f"{name!r} is not a user name; give JupyterHub user names, or '*' for everyone"
            )
    return sorted({n.strip() for n in names})


class PostgresStore(SessionStore):
    """Chat sessions in a PostgreSQL database, shared by the users of a hub.

    Parameters
    ----------
    path:
        ``postgresql://user:password@host:port/dbname``; default ``JUPYCHAT_STORE`` or the
        config file's ``store``.
    timeout:
        Seconds to wait for a connection (statements may take six times as long).
    user:
        Whose sessions this store reads and writes; default :func:`current_user`.
    pool_size:
        The most database connections this process opens.

    Examples
    --------
    >>> store = SessionStore("postgresql://hub@db.example/jupychat")  # doctest: +SKIP
    >>> store.share(sid, ["bob"])  # bob may now read it           # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 5.0,
        user: str | None = None,
        pool_size: int = 4,
    ) -> None:
        url = config.resolve("store", path)
        if not isinstance(url, str):
            raise StoreError("PostgresStore needs a postgresql:// URL (set JUPYCHAT_STORE)")
        self._pg = PgDatabase(
            url, user=user or current_user(), timeout=timeout, pool_size=pool_size
        )
        self._db = self._pg  # type: ignore[assignment]  # the same read/write/close API
        self._effective: str | None = None

    @property
    def user(self) -> str:
        """Who this store acts for: the owner of the sessions it creates.

        As the database sees it: the ``user`` given (or :func:`current_user`), unless the
        database identifies users by their own database roles (see ``pg_migrations``).
        """
        if self._effective is None:
            try:
                found = self._pg.raw(
                    lambda conn: conn.execute("SELECT jupychat.caller()").fetchone()[0],
                    writing=False,
                )
            except StoreError:  # unreachable for now: the name this store was given
                return str(self._pg.user)
            self._effective = str(found or self._pg.user)
        return self._effective

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self._pg.url)!r}, user={self._pg.user!r})"

    # -- listing and search -----------------------------------------------------------

    def sessions(
        self,
        limit: int = 50,
        offset: int = 0,
        filter_metadata: Mapping[str, Any] | None = None,
        notebook: str | None = None,
        search: str | None = None,
        name: str | None = None,
    ) -> list[Summary]:
        """Session summaries the user may read (see ``SessionStore.sessions``).

        Each summary also names the session's ``owner``.
        """
        clauses, params = pg_search.metadata_filter(filter_metadata or {})
        for column, value in (("notebook", notebook), ("name", name)):
            if value is not None:
                clauses.append(f"s.{column} = ?")
                params.append(value)
        limit, offset = max(0, int(limit)), max(0, int(offset))
        if search is None or not search.strip():
            return self._db.read(
                lambda conn: pg_search.listing(conn, clauses, params, limit, offset)
            )
        query = pg_search.tsquery(search)
        if not query[0]:
            return []
        return self._db.read(
            lambda conn: pg_search.search(conn, query, clauses, params, limit, offset)
        )

    def summary(self, session_id: str) -> Summary:
        """The list entry for one session (see ``SessionStore.summary``), with its ``owner``."""

        def run(conn: Any) -> Summary:
            row = conn.execute(
                f"SELECT {pg_search.SUMMARY_COLS} FROM sessions s WHERE s.id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"no session {session_id}; list them with %chat sessions")
            return pg_search.summary(row)

        return self._db.read(run)

    # -- ownership and sharing ---------------------------------------------------------

    def access(self, session_id: str) -> str | None:
        """``"owner"``, ``"reader"`` (shared with this user) or ``None`` (not visible)."""
        if not isinstance(session_id, str):
            return None

        def run(conn: Any) -> str | None:
            row = conn.execute(
                "SELECT owner = jupychat.caller() FROM sessions WHERE id = %s", (session_id,)
            ).fetchone()
            if row is None:
                return None
            return "owner" if row[0] else "reader"

        return self._pg.raw(run, writing=False)

    def owner(self, session_id: str) -> str:
        """The user who owns a session this user may read."""

        def run(conn: Any) -> str:
            row = conn.execute("SELECT owner FROM sessions WHERE id = %s", (session_id,)).fetchone()
            if row is None:
                raise StoreError(f"no session {session_id}; list them with %chat sessions")
            return str(row[0])

        return self._pg.raw(run, writing=False)

    def share(self, session_id: str, users: str | Iterable[str]) -> list[str]:
        """Let ``users`` (names, or ``"*"`` for everyone) read a session you own.

        Returns everyone the session is shared with afterwards.
        """
        names = grantees(users)
        return self._set_readers(session_id, "readers || %s::text[]", names)

    def unshare(self, session_id: str, users: str | Iterable[str] | None = None) -> list[str]:
        """Revoke read access (``None``: from everyone); returns who still has it."""
        if users is None:
            return self._set_readers(session_id, "%s::text[]", [])
        names = grantees(users)
        return self._set_readers(
            session_id, "array(SELECT unnest(readers) EXCEPT SELECT unnest(%s::text[]))", names
        )

    def shared_with(self, session_id: str) -> list[str]:
        """Who may read a session you own (``"*"``: everyone)."""

        def run(conn: Any) -> list[str]:
            row = conn.execute("SELECT readers FROM sessions WHERE id = %s", (session_id,))
            return sorted(self._owned_row(row.fetchone(), session_id)[0])

        return self._pg.raw(run)

    def _set_readers(self, session_id: str, value: str, names: list[str]) -> list[str]:
        names = [n for n in names if n != self.user]  # the owner reads it anyway

        def run(conn: Any) -> list[str]:
            row = conn.execute(
                "UPDATE sessions SET readers = array(SELECT DISTINCT r FROM "
                f"unnest({value}) r ORDER BY r) WHERE id = %s RETURNING readers",
                (names, session_id),
            ).fetchone()
            return list(self._owned_row(row, session_id)[0])

        return self._pg.raw(run)

    @staticmethod
    def _owned_row(row: Any, session_id: str) -> Any:
        if row is None:
            raise StoreError(
                f"no session {session_id} of yours; only its owner can share it or revoke it"
            )
        return row
