"""Session records: validation and the mapping between record dicts and table rows.

Design note: a session record is the plain dict ``ChatSession.to_dict()`` produces
(``schema``/``version``/``id``/... /``messages``). This module is the only place that
knows how a record is split into a ``sessions`` row plus ``messages`` rows and put back
together, so ``load(save(r)) == r`` holds field for field. Every message goes through
:meth:`jupychat.types.Message.from_dict` / ``to_dict`` once on the way in, which both
validates it and gives it one canonical shape; keys we do not know are kept in an
``extra`` column instead of being dropped. Nothing here touches the database.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, NamedTuple

from jupychat.errors import StoreError
from jupychat.types import Message, Usage, now_iso

__all__ = [
    "SCHEMA",
    "SESSION_KEYS",
    "VERSION",
    "MessageRow",
    "SessionFields",
    "auto_title",
    "check_id",
    "dumps",
    "first_user_title",
    "message_row",
    "message_rows",
    "normalize_session",
    "row_ahead",
    "row_message",
    "stamp_now",
    "utc_timestamp",
]

SCHEMA = "jupychat.session"
VERSION = 1

#: The record keys that have their own column in ``sessions``.
SESSION_KEYS = (
    "title",
    "name",
    "notebook",
    "created_at",
    "updated_at",
    "model",
    "system_prompt",
    "memory",
    "metadata",
    "tools",
    "max_steps",
    "settings",
)
#: Keys that describe the record itself rather than the session.
ENVELOPE_KEYS = ("schema", "version", "id", "messages")
#: Message keys ``Message.to_dict()`` may write; anything else goes to ``extra``.
MESSAGE_KEYS = frozenset(
    {
        "role",
        "content",
        "created_at",
        "model",
        "usage",
        "finish_reason",
        "reasoning",
        "interrupted",
        "meta",
    }
)
TITLE_LENGTH = 60
#: The column encoder (json.dumps with options builds a new one every call: ~2 us).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def dumps(value: Any, what: str) -> str:
    """Compact JSON for a column; a value JSON cannot hold is a one-line StoreError."""
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(
            f"the session {what} holds a value JSON cannot store ({exc}); "
            "keep it to str, numbers, bools, None, lists and dicts"
        ) from None


def utc_timestamp(value: Any, what: str) -> str:
    """Parse an ISO 8601 timestamp and return it as UTC with microseconds.

    Naive timestamps are taken as UTC. The result sorts correctly as text.
    """
    if not isinstance(value, str):
        raise StoreError(f"{what} must be an ISO 8601 string, not {type(value).__name__}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise StoreError(f"{what} {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).isoformat(timespec="microseconds")


def auto_title(text: str) -> str | None:
    """A title from a prompt: its first non-blank line, squeezed, at most 60 characters."""
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            break
    else:
        return None
    if len(line) <= TITLE_LENGTH:
        return line
    cut = line[: TITLE_LENGTH - 1]
    space = cut.rfind(" ")
    if space >= TITLE_LENGTH // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


class MessageRow(NamedTuple):
    """The columns of one ``messages`` row, in insert order (seq and session excluded).

    ``content`` is ``None`` when the message is exactly one text part, held in ``text``.
    """

    role: str
    content: str | None
    text: str
    created_at: str
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cache_write_tokens: int | None
    finish_reason: str | None
    reasoning: str | None
    interrupted: int
    meta: str | None
    extra: str | None


_AHEAD: dict[int, tuple[Message, MessageRow]] = {}  # rows built ahead (see row_ahead)


def row_ahead(message: Message) -> None:
    """Build ``message``'s row now, for its write to take instead of building it again:
    a turn's user message while the model thinks (it holds the context blocks, the
    largest part of a turn's rows). Taken once; a meta changed since is seen (rebuilt)."""
    row = message_row(message)
    if len(_AHEAD) >= 8:
        _AHEAD.clear()
    _AHEAD[id(message)] = (message, row)


def message_row(message: Any, index: int = 0) -> MessageRow:
    """Validate one message (a ``Message`` or its ``to_dict()``) and build its row."""
    if isinstance(message, Message):
        ahead = _AHEAD.pop(id(message), None) if _AHEAD else None
        if ahead is not None and ahead[0] is message:
            row = ahead[1]  # (the message is frozen; its meta is a dict: compared)
            if row.meta == (dumps(message.meta, f"message {index} meta") if message.meta else None):
                return row
        data: Mapping[str, Any] = message.to_dict()
        extra: dict[str, Any] = {}
    elif isinstance(message, Mapping):
        try:
            data = Message.from_dict(message).to_dict()
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
            raise StoreError(f"message {index} is not a valid message: {detail}") from None
        extra = {k: v for k, v in message.items() if k not in MESSAGE_KEYS and k != "id"}
    else:
        raise StoreError(
            f"message {index} must be a Message or a dict, not {type(message).__name__}"
        )
    parts = data["content"]
    text = "\n".join(p["text"] for p in parts if p.get("type") == "text")
    single_text = len(parts) == 1 and parts[0] == {"type": "text", "text": text}
    # the counts as Usage.from_dict makes them (a Message's may be any number)
    counts = Usage.from_dict(data.get("usage"))
    usage = counts.to_dict() if counts is not None else None
    meta = data.get("meta")
    return MessageRow(
        role=data["role"],
        content=None if single_text else dumps(parts, f"message {index} content"),
        text=text,
        created_at=data["created_at"],
        model=data.get("model"),
        input_tokens=None if usage is None else usage["input_tokens"],
        output_tokens=None if usage is None else usage["output_tokens"],
        cached_tokens=None if usage is None else usage["cached_tokens"],
        cache_write_tokens=None if usage is None else usage["cache_write_tokens"],
        finish_reason=data.get("finish_reason"),
        reasoning=data.get("reasoning"),
        interrupted=1 if data.get("interrupted") else 0,
        meta=dumps(meta, f"message {index} meta") if meta else None,
        extra=dumps(extra, f"message {index}") if extra else None,
    )


def row_message(row: Sequence[Any]) -> dict[str, Any]:
    """Rebuild the ``Message.to_dict()`` shape from the row columns (``MessageRow`` order)."""
    # Indexed, not unpacked into a MessageRow: this runs once per loaded message.
    content, text = row[1], row[2]
    data: dict[str, Any] = {
        "role": row[0],
        "content": [{"type": "text", "text": text}] if content is None else json.loads(content),
        "created_at": row[3],
    }
    if row[4] is not None:
        data["model"] = row[4]
    if row[5] is not None:
        data["usage"] = {
            "input_tokens": row[5],
            "output_tokens": row[6],
            "cached_tokens": row[7],
            "cache_write_tokens": row[8],
        }
    if row[9] is not None:
        data["finish_reason"] = row[9]
    if row[10] is not None:
        data["reasoning"] = row[10]
    if row[11]:
        data["interrupted"] = True
    if row[12] is not None:
        data["meta"] = json.loads(row[12])
    if row[13] is not None:
        for key, value in json.loads(row[13]).items():
            data.setdefault(key, value)
    return data


class SessionFields(NamedTuple):
    """A validated record, ready for the ``sessions`` table (JSON columns encoded)."""

    id: str | None
    title: str | None
    name: str | None
    notebook: str | None
    created_at: str | None
    updated_at: str | None
    model: str | None
    system_prompt: str | None
    memory: str
    metadata: str
    tools: str
    max_steps: int | None
    settings: str
    extra: str
    present: frozenset[str]


_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def check_id(value: Any) -> str:
    """A session id: 1-128 letters, digits or ``_.:-`` (uuid4 hex in practice)."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise StoreError(
            f"session id {value!r} is not valid; use letters, digits, '_', '.', ':' or '-'"
        )
    return value


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise StoreError(f"session {key} must be a string or None, not {type(value).__name__}")


def _json_object(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise StoreError(f"session {key} must be a dict, not {type(value).__name__}")
    return dumps(dict(value), key)


def normalize_session(data: Mapping[str, Any], *, strict: bool = False) -> SessionFields:
    """Validate the session part of a record (everything but ``messages``).

    Parameters
    ----------
    data:
        A record or a partial record (missing keys take their defaults).
    strict:
        Require the ``schema``/``version`` envelope (for imported files).
    """
    if not isinstance(data, Mapping):
        raise StoreError(f"a session record must be a dict, not {type(data).__name__}")
    schema = data.get("schema")
    if strict or schema is not None:
        if schema != SCHEMA:
            raise StoreError(f"not a jupychat session record (schema is {schema!r})")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise StoreError(f"session record version {version!r} is not valid")
        if version > VERSION:
            raise StoreError(
                f"session record version {version} was written by a newer jupychat "
                f"(this one reads up to {VERSION}); upgrade jupychat"
            )
    sid = check_id(data["id"]) if data.get("id") is not None else None
    tools = data.get("tools")
    if tools is None:
        tools = []
    if not isinstance(tools, (list, tuple)) or not all(isinstance(t, str) for t in tools):
        raise StoreError("session tools must be a list of tool names")
    max_steps = data.get("max_steps")
    if max_steps is not None and (not isinstance(max_steps, int) or isinstance(max_steps, bool)):
        raise StoreError(f"session max_steps must be an int, not {type(max_steps).__name__}")
    stamps = {
        key: utc_timestamp(data[key], f"session {key}") if data.get(key) is not None else None
        for key in ("created_at", "updated_at")
    }
    extra = {k: v for k, v in data.items() if k not in SESSION_KEYS and k not in ENVELOPE_KEYS}
    return SessionFields(
        id=sid,
        title=_optional_str(data, "title"),
        name=_optional_str(data, "name"),
        notebook=_optional_str(data, "notebook"),
        created_at=stamps["created_at"],
        updated_at=stamps["updated_at"],
        model=_optional_str(data, "model"),
        system_prompt=_optional_str(data, "system_prompt"),
        memory=_json_object(data, "memory"),
        metadata=_json_object(data, "metadata"),
        tools=dumps(list(tools), "tools"),
        max_steps=max_steps,
        settings=_json_object(data, "settings"),
        extra=dumps(extra, "record"),
        present=frozenset(k for k in data if k in SESSION_KEYS),
    )


def message_rows(messages: Any) -> list[MessageRow]:
    """Validate a list of messages into rows."""
    if messages is None:
        return []
    if isinstance(messages, (str, bytes, Mapping)) or not isinstance(messages, Sequence):
        raise StoreError("session messages must be a list of message dicts")
    return [message_row(m, i) for i, m in enumerate(messages)]


def first_user_title(rows: Sequence[MessageRow]) -> str | None:
    """The automatic title: from the first user message that has text."""
    for row in rows:
        if row.role == "user" and row.text.strip():
            title = auto_title(row.text)
            if title:
                return title
    return None


def stamp_now() -> str:
    """Now, in the stored timestamp format."""
    return now_iso()
