"""The sharing API: ``GET/POST/DELETE jupychat/api/sessions/<id>/shares``.

Design note: only a session's owner may list, add or revoke its readers (JupyterHub
user names, or everyone: ``{"everyone": true}``); a reader gets a 403 naming the owner,
anyone else the usual 404 (see :mod:`.access`). Each answer is the readers after the
change plus the link that opens the session on a viewer's own server. A SQLite store
has one user, so sharing there answers 400 saying which store to set up instead.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from jupychat.errors import StoreError
from jupychat.store.postgres import grantees
from jupychat.store.scrub import scrub

from ._base import MAX_BODY
from .access import caller_access, read_only_error, session_link, supports_sharing
from .api import _APIBase

__all__ = ["SharesAPI"]

MAX_USERS = 100


def _users(body: Any) -> list[str]:
    if not isinstance(body, dict):
        raise web.HTTPError(400, "%s", 'send {"users": ["name", ...]} or {"everyone": true}')
    users = body.get("users", [])
    if body.get("everyone") is True:
        users = [*users, "*"] if isinstance(users, list) else users
    if not isinstance(users, list) or not users or len(users) > MAX_USERS:
        raise web.HTTPError(
            400,
            "%s",
            f'send {{"users": ["name", ...]}} (1 to {MAX_USERS} JupyterHub user names) '
            'or {"everyone": true}',
        )
    return users


class SharesAPI(_APIBase):
    """``GET`` (who may read), ``POST`` (share) and ``DELETE`` (revoke) a session's readers."""

    async def _owned(self, session_id: str) -> Any:
        store = self.access.store
        await self.check_session(session_id)
        if not supports_sharing(store):
            raise web.HTTPError(
                400,
                "%s",
                "sharing needs the PostgreSQL session store; set JUPYCHAT_STORE to a "
                "postgresql:// URL shared by the hub's users",
            )
        if await self.call(caller_access, store, session_id, session_id=session_id) != "owner":
            raise read_only_error(store, session_id)
        return store

    def _body(self) -> Any:
        raw = self.request.body
        if len(raw) > MAX_BODY:
            raise web.HTTPError(400, "%s", f"the request body is over {MAX_BODY:,} bytes")
        try:
            return json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise web.HTTPError(400, "%s", "the request body is not valid JSON") from None

    def _answer(self, session_id: str, names: list[str]) -> None:
        link = session_link(self.base_url, session_id)
        self.finish(json.dumps(scrub({"shared_with": names, "link": link})))

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        store = await self._owned(session_id)
        names = await self.call(store.shared_with, session_id, session_id=session_id)
        self._answer(session_id, names)

    @web.authenticated
    @authorized
    async def post(self, session_id: str) -> None:
        store = await self._owned(session_id)
        try:
            users = grantees(_users(self._body()))
        except StoreError as exc:
            raise web.HTTPError(400, "%s", str(exc)) from None
        names = await self.call(store.share, session_id, users, session_id=session_id)
        self._answer(session_id, names)

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        store = await self._owned(session_id)
        users = self.get_query_arguments("user") or None
        names = await self.call(store.unshare, session_id, users, session_id=session_id)
        self._answer(session_id, names)
