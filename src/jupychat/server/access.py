"""Who may do what with a session, as the server's pages and API see it.

Design note: the server acts for the user whose server it is (on JupyterHub each user
runs their own; ``JUPYTERHUB_USER`` names them, and the store uses it as the owner).
The store enforces the rule itself (a PostgreSQL store shows its user only their own
and shared sessions); these helpers turn it into what the handlers answer: a session
you cannot see is a 404 for every request (the store says it does not exist), one
shared with you read-only is a 403 for every change, naming its owner. A SQLite store
has one user: every session in it is the caller's own.

A share link points at the *viewer's* server: on JupyterHub,
``<hub>/hub/user-redirect/jupychat/sessions/<id>`` sends whoever opens it to the same
page on their own authenticated server; elsewhere it is this server's page. Every
function here that takes a store calls it (blocking): run them on a worker thread.
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any

from jupyter_server.utils import url_path_join
from tornado import web

from . import URL_PREFIX

__all__ = ["caller_access", "read_only_error", "session_link", "sharing_view", "supports_sharing"]


def supports_sharing(store: Any) -> bool:
    """True for a store with owners and readers (PostgreSQL)."""
    return callable(getattr(store, "share", None))


def caller_access(store: Any, session_id: str) -> str | None:
    """``"owner"``, ``"reader"`` or ``None`` for the server's user (store call: blocking)."""
    access = getattr(store, "access", None)
    if callable(access):
        result: str | None = access(session_id)
        return result
    return "owner" if store.exists(session_id) else None


def read_only_error(store: Any, session_id: str) -> web.HTTPError:
    """The 403 for a change to a session shared with the caller read-only."""
    try:
        owner = store.owner(session_id)
    except Exception:  # it was unshared meanwhile: still not the caller's
        owner = "another user"
    return web.HTTPError(
        403,
        "%s",
        f"session {session_id!r} belongs to {owner} and is shared with you read-only; "
        "only its owner can change or share it (copy it to continue it as yours)",
    )


def session_link(base_url: str, session_id: str) -> str:
    """The URL path that opens the session on the viewer's own server (see the note)."""
    quoted = urllib.parse.quote(session_id, safe="")
    if os.environ.get("JUPYTERHUB_USER"):
        hub = os.environ.get("JUPYTERHUB_BASE_URL") or "/"
        return url_path_join(hub, "hub", "user-redirect", URL_PREFIX, "sessions", quoted)
    return url_path_join(base_url, URL_PREFIX, "sessions", quoted)


def sharing_view(store: Any, session_id: str, base_url: str) -> dict[str, Any]:
    """What the session page shows about ownership (store calls: blocking)."""
    access = caller_access(store, session_id)
    view: dict[str, Any] = {
        "mine": access == "owner",
        "owner": None,
        "can_share": False,
        "shared_with": [],
        "share_link": session_link(base_url, session_id),
    }
    if supports_sharing(store):
        view["owner"] = store.owner(session_id)
        if access == "owner":
            view["can_share"] = True
            view["shared_with"] = store.shared_with(session_id)
    return view
