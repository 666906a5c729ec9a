"""Which Jupyter front end opened the sessions page, for its "back" link.

Design note: the page is opened from JupyterLab (``/lab``) or from Notebook 7 (``/tree``,
``/notebooks/…``, ``/edit/…``); the link at its top should go back there, named as the
user knows it. The server knows only the ``Referer`` of the first request; the page's
script (``static/jupychat-front.js``) also asks the opening window and keeps the answer
for the tab, so pages reached from the list keep the same link.
"""

from __future__ import annotations

from typing import NamedTuple
from urllib.parse import urlsplit

__all__ = ["FrontEnd", "front_end"]

# first path segment after base_url -> (name, landing path)
_LAB = ("JupyterLab", "lab")
_NOTEBOOK = ("Jupyter Notebook", "tree")
_SEGMENTS = {
    "lab": _LAB,
    "tree": _NOTEBOOK,
    "notebooks": _NOTEBOOK,
    "edit": _NOTEBOOK,
    "consoles": _NOTEBOOK,
    "terminals": _NOTEBOOK,
}


class FrontEnd(NamedTuple):
    """The front end to link back to: its ``name`` and ``url`` (a path on this server)."""

    name: str
    url: str


def front_end(referer: str | None, base_url: str, host: str) -> FrontEnd:
    """The front end a request came from (JupyterLab when it cannot tell).

    Parameters
    ----------
    referer:
        The request's ``Referer`` header, if any.
    base_url:
        The server's ``base_url`` (``/`` or ``/prefix/``).
    host:
        The request's ``Host``: a referer from another site is ignored.
    """
    base = "/" + base_url.strip("/") + "/" if base_url.strip("/") else "/"
    name, path = _LAB
    if referer:
        parts = urlsplit(referer)
        if parts.netloc == host and parts.path.startswith(base):
            first = parts.path[len(base) :].split("/", 1)[0]
            name, path = _SEGMENTS.get(first, _LAB)
    return FrontEnd(name, base + path)
