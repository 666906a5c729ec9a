"""What the sessions API and pages share: the store handle, store calls, arguments, errors.

Design note: :class:`SessionAccess` is one lazily opened
:class:`~jupychat.store.SessionStore` per server (SQLite, or PostgreSQL on a hub). The
``_StoreHandlerMixin`` runs each store call as a short transaction on a worker thread
(the server's event loop never waits on the disk), turns store failures into 404/503,
checks the caller may see (or change) a session, and parses paging and text query
arguments into a 400 with a one-line message when they are bad. ``_error_message``
is the one line every error shows; nothing here lets a traceback reach the client.
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tornado import web
from tornado.httputil import responses

from jupychat.errors import ChatError, StoreError
from jupychat.store import SessionStore

from . import AUTH_RESOURCE
from .access import caller_access, read_only_error

__all__ = ["LIST_LIMIT", "MAX_BODY", "MESSAGE_LIMIT", "SessionAccess"]

T = TypeVar("T")

LIST_LIMIT = (50, 500)  # default, maximum
MESSAGE_LIMIT = (200, 1000)
MAX_BODY = 64 * 1024  # a PATCH body holds one title
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


class SessionAccess:
    """One lazily opened session store, shared by the handlers of a server.

    Parameters
    ----------
    path:
        The store file; default ``JUPYCHAT_STORE`` / the config file / the user data dir.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = path
        self._store: SessionStore | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> SessionStore:
        """The store (created on first use; opening the file waits for the first call)."""
        with self._lock:
            if self._store is None:
                self._store = SessionStore(self._path)
            return self._store

    def exists(self) -> bool:
        """True once the store file exists (a kernel has saved a session)."""
        path = self.store.path
        return not isinstance(path, Path) or path.exists()


class _StoreHandlerMixin:
    """Shared by the API and the pages: auth resource, store calls, argument parsing."""

    auth_resource = AUTH_RESOURCE
    # provided by tornado.web.RequestHandler (annotations only: nothing is overridden)
    settings: dict[str, Any]
    get_query_argument: Callable[..., Any]

    @property
    def access(self) -> SessionAccess:
        access: SessionAccess = self.settings["jupychat_access"]
        return access

    async def call(
        self, fn: Callable[..., T], *args: Any, session_id: str | None = None, **kwargs: Any
    ) -> T:
        """Run a store call on a worker thread; StoreError becomes 404 or 503."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))
        except StoreError as exc:
            if session_id is not None and not await self._exists(session_id):
                raise _not_found(session_id) from None
            raise web.HTTPError(503, "%s", str(exc)) from None
        except ChatError as exc:  # a broken config file, for one
            raise web.HTTPError(503, "%s", str(exc)) from None

    async def _exists(self, session_id: str) -> bool:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.access.store.exists, session_id)
        except ChatError as exc:
            raise web.HTTPError(503, "%s", str(exc)) from None

    def store_exists(self) -> bool:
        """True once the store file exists; a broken config file is a 503."""
        try:
            return self.access.exists()
        except ChatError as exc:
            raise web.HTTPError(503, "%s", str(exc)) from None

    async def check_session(self, session_id: str, *, write: bool = False) -> None:
        """404 unless the caller may see the session; with ``write``, 403 unless theirs."""
        if not _ID.match(session_id) or not self.store_exists():
            raise _not_found(session_id)
        if not await self._exists(session_id):
            raise _not_found(session_id)
        store = self.access.store
        if write and await self.call(caller_access, store, session_id) != "owner":
            raise await self.call(read_only_error, store, session_id)

    async def load_page(
        self, session_id: str, *, with_ids: bool = False
    ) -> tuple[int, int, dict[str, Any], Any]:
        """The ``offset``/``limit`` page of a session's messages, with its summary.

        Returns ``(offset, limit, record, summary)``; 400 on bad paging, 404 if unknown.
        """
        offset = self.int_arg("offset", 0, 0, 10**9)
        limit = self.int_arg("limit", MESSAGE_LIMIT[0], 1, MESSAGE_LIMIT[1])
        await self.check_session(session_id)
        store = self.access.store
        record = await self.call(
            store.load,
            session_id,
            messages_offset=offset,
            messages_limit=limit,
            with_ids=with_ids,
            session_id=session_id,
        )
        summary = await self.call(store.summary, session_id, session_id=session_id)
        return offset, limit, record, summary

    def int_arg(self, name: str, default: int, minimum: int, maximum: int) -> int:
        """A whole-number query argument in ``[minimum, maximum]``, else a 400."""
        raw = self.get_query_argument(name, None)
        if raw is None or raw.strip() == "":
            return default
        text = raw.strip()
        if not re.fullmatch(r"[+-]?\d{1,12}", text) or not minimum <= int(text) <= maximum:
            raise web.HTTPError(
                400,
                "%s",
                f"{name} must be a whole number from {minimum} to {maximum}, not {raw[:40]!r}",
            )
        return int(text)

    def text_arg(self, name: str, max_length: int = 1000) -> str | None:
        """An optional text query argument (blank means absent)."""
        raw = self.get_query_argument(name, None)
        if raw is None or not raw.strip():
            return None
        if len(raw) > max_length:
            raise web.HTTPError(400, "%s", f"{name} is longer than {max_length} characters")
        return str(raw).strip()


def _not_found(session_id: str) -> web.HTTPError:
    shown = session_id if len(session_id) <= 80 else session_id[:80] + "…"
    return web.HTTPError(
        404, "%s", f"no session {shown!r}; list the sessions with GET jupychat/api/sessions"
    )


def _error_message(status_code: int, exc_info: Any) -> str:
    """The one line shown for an error: the HTTPError's message, else a generic one."""
    exc = exc_info[1] if exc_info else None
    if isinstance(exc, web.HTTPError) and exc.log_message:
        try:
            return str(exc.log_message % exc.args if exc.args else exc.log_message)
        except (TypeError, ValueError):
            return str(exc.log_message)
    if status_code == 403:
        return (
            "forbidden: authenticate with the server's token "
            "(Authorization: token <token>) or log in to Jupyter first"
        )
    if status_code >= 500:
        return "the jupychat extension failed; the Jupyter server log has the details"
    return responses.get(status_code, "error")
