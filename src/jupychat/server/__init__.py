"""Jupyter Server extension: the sessions REST API and the sessions browser page.

Design note: Jupyter Server finds this package through the ``jupychat`` entry in
``jpserver_extensions`` (enabled by the installed
``etc/jupyter/jupyter_server_config.d/jupychat.json``), asks
``jupychat._jupyter_server_extension_points()`` for the module, and calls
:func:`_load_jupyter_server_extension` here. Everything heavy (tornado, jupyter_server,
jinja2, the store) is imported inside that call, so importing :mod:`jupychat.server`
costs nothing and the core layer stays free of server dependencies.

Routes (under the server's ``base_url``)::

    jupychat/                                   the sessions browser (HTML)
    jupychat/sessions/<id>                      one transcript (HTML)
    jupychat/api/sessions                       GET: list / search
    jupychat/api/sessions/<id>                  GET (paged messages), PATCH (rename), DELETE
    jupychat/api/sessions/<id>/export?format=   GET: a download (json, markdown, ipynb)

Every route requires an authenticated user (Jupyter's own identity provider) who is
authorized for the ``jupychat`` resource (Jupyter's own authorizer).
"""

from __future__ import annotations

from typing import Any

__all__ = ["AUTH_RESOURCE", "URL_PREFIX"]

#: The resource name given to Jupyter Server's authorizer (``read`` for GET, ``write``
#: for PATCH/DELETE).
AUTH_RESOURCE = "jupychat"
#: Where the page and the API live, relative to the server's ``base_url``.
URL_PREFIX = "jupychat"


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Tell Jupyter Server which module holds the extension (this one)."""
    return [{"module": "jupychat.server"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Add the jupychat handlers to a running Jupyter Server.

    Parameters
    ----------
    serverapp:
        The ``jupyter_server.serverapp.ServerApp`` loading the extension.
    """
    from .handlers import setup_handlers

    url = setup_handlers(serverapp.web_app)
    serverapp.log.info("jupychat: sessions browser at %s", url)
