"""The sessions browser pages: the searchable list, one transcript, their static files.

Design note: every page is a Jupyter Server ``JupyterHandler`` wrapped in
``@tornado.web.authenticated`` and ``@jupyter_server.auth.authorized`` with the
``jupychat`` resource, rendered from the autoescaping Jinja templates in ``templates/``
with a strict Content-Security-Policy (no inline script, no remote URL) unless the admin
set one. Model text reaches a page only through :mod:`.render`; an error is an error
page with one line, never a traceback.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

from jinja2 import Environment
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httputil import responses

from jupychat.store.scrub import scrub

from . import URL_PREFIX
from ._base import LIST_LIMIT, _error_message, _StoreHandlerMixin
from .access import sharing_view
from .front import front_end
from .render import format_time, markdown_html, message_view, snippet_html

__all__ = ["AssetHandler", "HomeRedirect", "ListPage", "SessionPage"]

HERE = Path(__file__).parent
STATIC_FILES = {
    "jupychat.css": "text/css",
    "jupychat.js": "text/javascript",
    "jupychat-front.js": "text/javascript",
}
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)


def _summary_view(item: dict[str, Any]) -> dict[str, Any]:
    """A session summary plus the figures the list page shows."""
    return {
        **item,
        "tokens": int(item.get("input_tokens") or 0) + int(item.get("output_tokens") or 0),
        "updated": format_time(item.get("updated_at")),
        "snippet_html": snippet_html(item["snippet"]) if item.get("snippet") else None,
    }


class _PageBase(_StoreHandlerMixin, JupyterHandler):
    """HTML pages with a strict Content-Security-Policy (no inline script, no remote URL)."""

    @property
    def content_security_policy(self) -> str:
        if "Content-Security-Policy" in self.settings.get("headers", {}):
            return str(super().content_security_policy)  # the admin's choice wins
        return _PAGE_CSP

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = _error_message(status_code, kwargs.get("exc_info"))
        try:
            self.set_status(status_code)
            self.render_page(
                "error.html",
                status=status_code,
                reason=responses.get(status_code, "Error"),
                message=message,
            )
        except Exception:  # the error page itself failed: plain text, still no traceback
            self.set_header("Content-Type", "text/plain; charset=UTF-8")
            self.finish(f"{status_code}: {message}\n")

    def render_page(self, template: str, **values: Any) -> None:
        env: Environment = self.settings["jupychat_templates"]
        home = url_path_join(self.base_url, URL_PREFIX) + "/"
        page = env.get_template(template).render(
            home=home,
            api=url_path_join(home, "api") + "/",
            static=url_path_join(home, "static") + "/",
            front=front_end(self.request.headers.get("Referer"), self.base_url, self.request.host),
            base=self.base_url,
            xsrf=self.xsrf_token.decode("utf-8"),
            **values,
        )
        self.set_header("Cache-Control", "no-store")
        self.finish(page)


class HomeRedirect(_PageBase):
    """``jupychat`` without the slash."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.redirect(url_path_join(self.base_url, URL_PREFIX) + "/")


class ListPage(_PageBase):
    """``jupychat/``: the searchable sessions list."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = LIST_LIMIT[0]
        offset = self.int_arg("offset", 0, 0, 10**9)
        query = self.text_arg("q")
        notebook = self.text_arg("notebook")
        items: list[dict[str, Any]] = []
        if self.store_exists():
            items = await self.call(
                self.access.store.sessions,
                limit=limit + 1,
                offset=offset,
                search=query,
                notebook=notebook,
            )
        self.render_page(
            "list.html",
            sessions=[_summary_view(item) for item in scrub(items[:limit])],
            query=query or "",
            notebook=notebook,
            offset=offset,
            limit=limit,
            more=len(items) > limit,
            store_path=str(self.access.store.path),
            store_exists=self.store_exists(),
            user=getattr(self.access.store, "user", None),
        )


class SessionPage(_PageBase):
    """``jupychat/sessions/<id>``: one transcript, messages paged."""

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        offset, limit, record, summary = await self.load_page(session_id)
        access = self.access.store, session_id, self.base_url
        sharing = await self.call(sharing_view, *access, session_id=session_id)
        record = scrub(record)
        total = int(summary["message_count"])
        shown = len(record["messages"])
        self.render_page(
            "session.html",
            session=record,
            summary=_summary_view(summary),
            messages=[message_view(m, offset + i) for i, m in enumerate(record["messages"])],
            system_prompt=markdown_html(record["system_prompt"])
            if record.get("system_prompt")
            else None,
            metadata=json.dumps(record.get("metadata") or {}, indent=2, ensure_ascii=False),
            memory=json.dumps(record.get("memory") or {}, indent=2, ensure_ascii=False),
            created=format_time(record.get("created_at")),
            offset=offset,
            limit=limit,
            total=total,
            first=offset + 1 if shown else 0,
            last=offset + shown,
            prev_offset=max(0, offset - limit) if offset > 0 else None,
            next_offset=offset + shown if offset + shown < total else None,
            last_offset=max(0, total - limit),
            exports=[("json", "JSON"), ("markdown", "Markdown"), ("ipynb", "Notebook")],
            session_url=url_path_join(
                self.base_url, URL_PREFIX, "sessions", urllib.parse.quote(session_id, safe="")
            ),
            quoted_id=urllib.parse.quote(session_id, safe=""),
            **sharing,
        )


class AssetHandler(_PageBase):
    """The page's own CSS and JavaScript (a fixed list of files, nothing else)."""

    @web.authenticated
    @authorized
    def get(self, name: str) -> None:
        if name not in STATIC_FILES:
            raise web.HTTPError(404)
        self.set_header("Content-Type", STATIC_FILES[name])
        self.set_header("Cache-Control", "no-cache")
        self.finish((HERE / "static" / name).read_bytes())
