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
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import tempfile
import threading
import unicodedata
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, FileSystemLoader
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler, JupyterHandler
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.httputil import responses

from jupychat.errors import ChatError, StoreError
from jupychat.store import SessionStore
from jupychat.store.scrub import scrub

from . import AUTH_RESOURCE, URL_PREFIX
from .access import caller_access, read_only_error, sharing_view
from .front import front_end
from .render import format_time, markdown_html, message_view, snippet_html

__all__ = [
    "EXPORT_FORMATS",
    "SessionAccess",
    "export_filename",
    "setup_handlers",
]

T = TypeVar("T")

HERE = Path(__file__).parent
STATIC_FILES = {
    "jupychat.css": "text/css",
    "jupychat.js": "text/javascript",
    "jupychat-front.js": "text/javascript",
}
#: format name (and alias) -> (store format, file suffix, Content-Type)
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "json": ("json", "json", "application/json; charset=UTF-8"),
    "markdown": ("markdown", "md", "text/markdown; charset=UTF-8"),
    "md": ("markdown", "md", "text/markdown; charset=UTF-8"),
    "ipynb": ("ipynb", "ipynb", "application/x-ipynb+json; charset=UTF-8"),
}
LIST_LIMIT = (50, 500)  # default, maximum
MESSAGE_LIMIT = (200, 1000)
MAX_BODY = 64 * 1024  # a PATCH body holds one title
_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'self'"
)


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


# -- helpers -------------------------------------------------------------------------


def export_filename(title: str | None, session_id: str, suffix: str) -> tuple[str, str]:
    """A safe download name from a session title: ``(ascii_name, unicode_name)``.

    Only letters, digits, ``-``, ``_`` and inner dots survive; separators, ``..``,
    control characters and quotes cannot, so the name can never point anywhere but
    the browser's download folder.
    """

    def clean(text: str) -> str:
        kept = "".join(ch if ch.isalnum() or ch in "-_." else " " for ch in text)
        name = "-".join(kept.split())
        name = re.sub(r"-{2,}", "-", re.sub(r"\.{2,}", ".", name)).strip(".-_")
        return name[:80].rstrip(".-_")

    fallback = "jupychat-" + clean(session_id)[:12] if clean(session_id) else "jupychat-session"
    unicode_name = clean(unicodedata.normalize("NFKC", title or "")) or fallback
    ascii_text = unicodedata.normalize("NFKD", unicode_name).encode("ascii", "ignore").decode()
    ascii_name = clean(ascii_text) or fallback
    return f"{ascii_name}.{suffix}", f"{unicode_name}.{suffix}"


def _summary_view(item: dict[str, Any]) -> dict[str, Any]:
    """A session summary plus the figures the list page shows."""
    return {
        **item,
        "tokens": int(item.get("input_tokens") or 0) + int(item.get("output_tokens") or 0),
        "updated": format_time(item.get("updated_at")),
        "snippet_html": snippet_html(item["snippet"]) if item.get("snippet") else None,
    }


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


def _is_unicode_text(text: str) -> bool:
    """False when ``text`` holds a lone surrogate (JSON can carry one; UTF-8 cannot)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _metadata_filters(arguments: dict[str, list[bytes]]) -> dict[str, Any]:
    """``meta.<key>=<value>`` query arguments: a JSON scalar if the value parses as one,
    else the plain string (``meta.n=3`` is the number 3, ``meta.n="3"`` the string)."""
    filters: dict[str, Any] = {}
    for name, values in arguments.items():
        if not name.startswith("meta."):
            continue
        key = name[len("meta.") :]
        if not key or '"' in key or len(key) > 200:
            raise web.HTTPError(400, "%s", f"metadata filter {name!r} needs a key: meta.KEY=VALUE")
        try:
            text = values[-1].decode("utf-8")
        except UnicodeDecodeError:
            raise web.HTTPError(400, "%s", f"{name} is not UTF-8 text") from None
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        if isinstance(value, (dict, list)):
            value = text
        filters[key] = value
    return filters


# -- JSON API ---------------------------------------------------------------------------


class _APIBase(_StoreHandlerMixin, APIHandler):
    """JSON errors as ``{"message": ..., "status": ...}``, never a traceback."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        message = _error_message(status_code, kwargs.get("exc_info"))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"message": message, "status": status_code}))


class SessionsAPI(_APIBase):
    """``GET jupychat/api/sessions``: list or search session summaries."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.int_arg("limit", LIST_LIMIT[0], 1, LIST_LIMIT[1])
        offset = self.int_arg("offset", 0, 0, 10**9)
        kwargs: dict[str, Any] = {
            "filter_metadata": _metadata_filters(self.request.query_arguments) or None,
            "notebook": self.text_arg("notebook"),
            "name": self.text_arg("name"),
            "search": self.text_arg("q"),
        }
        items: list[dict[str, Any]] = []
        if self.store_exists():
            items = await self.call(
                self.access.store.sessions, limit=limit + 1, offset=offset, **kwargs
            )
        more = len(items) > limit
        self.finish(
            json.dumps(
                {
                    "sessions": scrub(items[:limit]),
                    "limit": limit,
                    "offset": offset,
                    "next_offset": offset + limit if more else None,
                }
            )
        )


class SessionAPI(_APIBase):
    """``GET`` (with paged messages), ``PATCH`` (rename) and ``DELETE`` one session."""

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        offset, limit, record, summary = await self.load_page(session_id, with_ids=True)
        total = int(summary["message_count"])
        end = offset + len(record["messages"])
        record["input_tokens"] = summary["input_tokens"]
        record["output_tokens"] = summary["output_tokens"]
        record["paging"] = {
            "offset": offset,
            "limit": limit,
            "total": total,
            "next_offset": end if end < total else None,
        }
        self.finish(json.dumps(scrub(record)))

    @web.authenticated
    @authorized
    async def patch(self, session_id: str) -> None:
        body = self._json_body()
        unknown = sorted(set(body) - {"title"})
        if "title" not in body or unknown:
            raise web.HTTPError(
                400,
                "%s",
                'send {"title": "new title"} (null restores the automatic title)'
                + (f"; unknown fields: {', '.join(unknown)}" if unknown else ""),
            )
        title = body["title"]
        if title is not None and not isinstance(title, str):
            raise web.HTTPError(400, "%s", "title must be a string or null")
        if isinstance(title, str) and len(title) > 300:
            raise web.HTTPError(400, "%s", "title is longer than 300 characters")
        if isinstance(title, str) and not _is_unicode_text(title):
            raise web.HTTPError(400, "%s", "title holds an invalid character (a lone surrogate)")
        await self.check_session(session_id, write=True)
        store = self.access.store
        await self.call(store.rename, session_id, title, session_id=session_id)
        summary = await self.call(store.summary, session_id, session_id=session_id)
        self.finish(json.dumps(scrub(summary)))

    @web.authenticated
    @authorized
    async def delete(self, session_id: str) -> None:
        await self.check_session(session_id, write=True)
        await self.call(self.access.store.delete, session_id, session_id=session_id)
        self.set_status(204)
        self.finish()

    def _json_body(self) -> dict[str, Any]:
        raw = self.request.body
        if len(raw) > MAX_BODY:
            raise web.HTTPError(400, "%s", f"the request body is over {MAX_BODY:,} bytes")
        try:
            body = json.loads(raw.decode("utf-8") or "null")
        except (UnicodeDecodeError, ValueError, RecursionError):
            # RecursionError: a body nested thousands of levels deep
            raise web.HTTPError(400, "%s", "the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise web.HTTPError(
                400, "%s", 'the request body must be a JSON object like {"title": "new title"}'
            )
        return body


class ExportAPI(_APIBase):
    """``GET jupychat/api/sessions/<id>/export?format=json|markdown|ipynb``: a download."""

    @web.authenticated
    @authorized
    async def get(self, session_id: str) -> None:
        name = (self.get_query_argument("format", "json") or "json").strip().lower()
        if name not in EXPORT_FORMATS:
            raise web.HTTPError(
                400, "%s", f"unknown export format {name[:40]!r}; use json, markdown or ipynb"
            )
        fmt, suffix, content_type = EXPORT_FORMATS[name]
        await self.check_session(session_id)
        store = self.access.store

        def render() -> tuple[str, str | None]:
            with tempfile.TemporaryDirectory(prefix="jupychat-export-") as tmp:
                path = store.export(session_id, Path(tmp) / f"session.{suffix}", format=fmt)
                text = path.read_text(encoding="utf-8")
            return text, store.summary(session_id).get("title")

        text, title = await self.call(render, session_id=session_id)
        ascii_name, unicode_name = export_filename(title, session_id, suffix)
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="{ascii_name}"; '
            f"filename*=UTF-8''{urllib.parse.quote(unicode_name, safe='')}",
        )
        self.set_header("Cache-Control", "no-store")
        self.finish(text, set_content_type=content_type)


# -- pages ------------------------------------------------------------------------------


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


def setup_handlers(web_app: Any, store_path: str | Path | None = None) -> str:
    """Register the routes on a Jupyter Server's tornado application.

    Returns
    -------
    str
        The URL path of the sessions browser page.
    """
    from .sharing import SharesAPI  # it builds on this module's handlers

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
