"""The session record: a ``ChatSession`` as JSON-able data, checked, copied and filed.

Design note: a record is a plain dict (``schema``, ``version``, ``id``, timestamps, the
fields of :meth:`ChatSession.record_fields` and ``messages``); the same shape goes to a
JSON file, to the store and to exports. It never holds a key or code: provider options
are dropped by :func:`jupychat._sanitize.stored_options` and tools are listed by name, to
be re-attached when the record is read back. Anything read is checked first
(:func:`check_record`) and bad input is one :class:`~jupychat.errors.StoreError` line.
A file is written to a temporary name and renamed, so a crash mid-write never leaves a
half-written session behind.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from . import _sanitize
from ._sanitize import clean_text
from .errors import StoreError
from .types import Message, now_iso

if TYPE_CHECKING:
    from .hooks import Hooks
    from .providers.base import Provider
    from .session import ChatSession
    from .tools import Tool

    S = TypeVar("S", bound=ChatSession)

__all__ = [
    "SCHEMA",
    "SCHEMA_VERSION",
    "check_record",
    "clone_record",
    "fork_record",
    "from_record",
    "new_id",
    "read_record",
    "record_fields",
    "stored_record",
    "title_from",
    "to_record",
    "write_record",
]

SCHEMA = "jupychat.session"
SCHEMA_VERSION = 1


def new_id() -> str:
    """A fresh session id."""
    import uuid

    return uuid.uuid4().hex


def title_from(text: str, limit: int = 60) -> str:
    """A session title from a prompt: its first non-blank line, cut to ``limit``."""
    line = next((ln.strip() for ln in text.strip().splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def record_fields(session: ChatSession) -> dict[str, Any]:
    """``session``'s fields other than messages, as they may be stored: text cleaned and
    known secret values removed, memory and metadata copied (never shared with it)."""
    return {
        "title": clean_text(session.title) if session.title else session.title,
        "name": session.name,
        "notebook": session.notebook,
        "model": session.model_id,
        "system_prompt": clean_text(session.system_prompt) if session.system_prompt else None,
        "memory": _stored_data(session._memory),
        "metadata": _stored_data(session._metadata),
        "tools": [tool.name for tool in session.tools],
        "max_steps": session.max_steps,
        # (no options, the usual case: nothing to check; every store write asks)
        "settings": _sanitize.stored_options(session.options) if session.options else {},
    }


def _stored_data(value: Mapping[str, Any]) -> dict[str, Any]:
    """Memory or metadata as stored: a cleaned deep copy (of an empty one, the usual
    case, a new empty dict without copying or walking anything)."""
    if not value:
        return {}
    cleaned: dict[str, Any] = _sanitize.clean_data_value(copy.deepcopy(value))
    return cleaned


def to_record(session: ChatSession) -> dict[str, Any]:
    """``session`` as a whole record (see :meth:`ChatSession.to_dict`)."""
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "id": session.id,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        **session.record_fields(),
        "messages": [m.to_dict() for m in session.history],
    }


def check_record(data: Any) -> None:
    """Raise a one-line :class:`StoreError` unless ``data`` looks like a session record."""
    if not isinstance(data, Mapping) or "messages" not in data:
        raise StoreError("not a jupychat session (no 'messages'); export it from jupychat")
    if data.get("schema", SCHEMA) != SCHEMA:
        raise StoreError(f"not a jupychat session (schema {data.get('schema')!r})")
    version = data.get("version", SCHEMA_VERSION)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise StoreError(
            f"session file version {version} is newer than this jupychat understands "
            f"({SCHEMA_VERSION}); upgrade jupychat"
        )


def from_record(
    cls: type[S],
    data: Mapping[str, Any],
    *,
    model: str | Provider | None = None,
    tools: Sequence[Tool | Callable[..., Any]] | None = None,
    hooks: Hooks | Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> S:
    """Build a ``cls`` session from a record (see :meth:`ChatSession.from_dict`)."""
    check_record(data)
    session = cls(
        model=model or data.get("model"),
        system_prompt=data.get("system_prompt"),
        tools=tools,
        hooks=hooks,
        history=[Message.from_dict(m) for m in data.get("messages", ())],
        max_steps=int(data.get("max_steps") or 10),
        memory=data.get("memory"),
        metadata=data.get("metadata"),
        id=data.get("id"),
        title=data.get("title"),
        name=data.get("name"),
        notebook=data.get("notebook"),
        **{**_sanitize.stored_options(data.get("settings"), data.get("id")), **kwargs},
    )
    session.created_at = data.get("created_at") or session.created_at
    session.updated_at = data.get("updated_at") or session.updated_at
    attached = {tool.name for tool in session.tools}
    missing = sorted(set(data.get("tools") or ()) - attached)
    if missing:
        warnings.warn(
            f"session {session.id} used tools that were not re-attached: "
            f"{', '.join(missing)}; pass them with tools=[...]",
            stacklevel=3,
        )
    return session


def clone_record(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` as a new session (new id, now) that remembers where it was cloned from."""
    return {
        **data,
        "id": new_id(),
        "created_at": now_iso(),
        "metadata": {**data["metadata"], "cloned_from": data["id"]},
    }


def fork_record(
    data: Mapping[str, Any], history: Sequence[Message], at: int | None
) -> dict[str, Any]:
    """``data`` as a new session holding the first ``at`` messages of ``history``
    (negative: counted from the end).

    A cut inside a tool exchange (after an assistant's tool calls, or among their results)
    is moved back to before it, so the fork is a valid conversation.
    """
    messages = list(history[:at] if at is not None else history)
    while messages and (
        messages[-1].role == "tool"
        or (messages[-1].role == "assistant" and messages[-1].tool_calls)
    ):
        messages.pop()
    return {
        **data,
        "id": new_id(),
        "created_at": now_iso(),
        "messages": [m.to_dict() for m in messages],
        "metadata": {**data["metadata"], "forked_from": data["id"], "fork_at": len(messages)},
    }


def stored_record(snap: Any) -> dict[str, Any]:
    """The record in a store snapshot (``SessionStore.changes``): its active messages in order."""
    return {**snap.record, "messages": [snap.messages[i] for i in snap.order]}


def write_record(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as JSON to ``path`` atomically (a temporary file, then a rename)."""
    target = Path(path)
    payload = json.dumps(data, ensure_ascii=False, indent=1)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".jupychat-", suffix=".json", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def read_record(path: str | os.PathLike[str]) -> Any:
    """The JSON data in ``path``; a one-line :class:`StoreError` when it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StoreError(f"no session file at {path}; check the path") from None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path} is not a readable jupychat session file: {exc}") from exc
