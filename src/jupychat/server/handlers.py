"""Tornado handlers for the sessions API and the sessions browser page.

Design note: every handler is a Jupyter Server handler (``APIHandler`` for JSON,
``JupyterHandler`` for pages) whose methods are wrapped in ``@tornado.web.authenticated``
and ``@jupyter_server.auth.authorized`` with the ``jupychat`` resource, so Jupyter's own
identity provider and authorizer decide who may read (GET) and change (PATCH, DELETE)
sessions; Jupyter's XSRF check guards cookie-authenticated changes from the browser.

The store is one lazily opened :class:`~jupychat.store.SessionStore` per server (SQLite,
or PostgreSQL on a hub: then the caller sees only their own and shared sessions, see
:mod:`.access` and :mod:`.sharing`). Each call is a short transaction (readers never
block the kernels writing turns) run on a worker thread so the server's event loop
never waits on the disk. Until a kernel has created the store file, the API answers
with an empty list instead of creating it. Bad input is a 4xx with a one-line JSON
``{"message": ...}``; nothing here lets a traceback reach the client.

This module registers the routes; the handlers live by job in :mod:`._base` (the store
handle and what every handler shares), :mod:`.api` (JSON), :mod:`.pages` (HTML) and
:mod:`.sharing`. ``SessionAccess``, ``EXPORT_FORMATS`` and ``export_filename`` stay
importable from here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader
from jupyter_server.utils import url_path_join

from . import URL_PREFIX
from ._base import SessionAccess
from .api import EXPORT_FORMATS, ExportAPI, SessionAPI, SessionsAPI, export_filename
from .pages import HERE, AssetHandler, HomeRedirect, ListPage, SessionPage
from .sharing import SharesAPI

__all__ = [
    "EXPORT_FORMATS",
    "SessionAccess",
    "export_filename",
    "setup_handlers",
]


def setup_handlers(web_app: Any, store_path: str | Path | None = None) -> str:
    """Register the routes on a Jupyter Server's tornado application.

    Returns
    -------
    str
        The URL path of the sessions browser page.
    """
    base = url_path_join(web_app.settings.get("base_url", "/"), URL_PREFIX)
    session = r"/sessions/(?P<session_id>[^/]+)"
    web_app.settings["jupychat_access"] = SessionAccess(store_path)
    web_app.settings["jupychat_templates"] = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    web_app.add_handlers(
        ".*$",
        [
            (base, HomeRedirect),
            (base + "/", ListPage),
            (base + session, SessionPage),
            (base + r"/static/(?P<name>[A-Za-z0-9_.-]+)", AssetHandler),
            (base + "/api/sessions", SessionsAPI),
            (base + "/api" + session, SessionAPI),
            (base + "/api" + session + "/export", ExportAPI),
            (base + "/api" + session + "/shares", SharesAPI),
        ],
    )
    return base + "/"
