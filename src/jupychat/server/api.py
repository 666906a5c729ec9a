"""The JSON API: list/search sessions, read (paged), rename, delete and export one.

Design note: every handler is a Jupyter Server ``APIHandler`` whose methods are wrapped
in ``@tornado.web.authenticated`` and ``@jupyter_server.auth.authorized`` with the
``jupychat`` resource; Jupyter's XSRF check guards cookie-authenticated changes. Until a
kernel has created the store file, the list answers empty instead of creating it. Bad
input is a 400 with a one-line JSON ``{"message": ...}``; every answer is scrubbed of
secrets; an export's download name is built by :func:`export_filename` so it can never
point outside the browser's download folder.
"""

from __future__ import annotations

import json
import re
import tempfile
import unicodedata
import urllib.parse
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from jupychat.store.scrub import scrub

from ._base import LIST_LIMIT, MAX_BODY, _error_message, _StoreHandlerMixin

__all__ = ["EXPORT_FORMATS", "ExportAPI", "SessionAPI", "SessionsAPI", "export_filename"]

#: format name (and alias) -> (store format, file suffix, Content-Type)
EXPORT_FORMATS: dict[str, tuple[str, str, str]] = {
    "json": ("json", "json", "application/json; charset=UTF-8"),
    "markdown": ("markdown", "md", "text/markdown; charset=UTF-8"),
    "md": ("markdown", "md", "text/markdown; charset=UTF-8"),
    "ipynb": ("ipynb", "ipynb", "application/x-ipynb+json; charset=UTF-8"),
}


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
