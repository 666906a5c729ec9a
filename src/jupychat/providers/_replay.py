"""Provider replay data: what a provider needs back, kept with the message, sent back only to it.

Design note: some providers need parts of their own answer sent back verbatim in later
requests, in fields our :class:`~jupychat.types.Message` has no place for: Anthropic's
``thinking`` blocks with their ``signature``, ``redacted_thinking`` blocks, server-tool
blocks (``server_tool_use``, ``web_search_tool_result``…) and any block type added later;
DeepSeek's, z.ai's or Kimi's ``reasoning_content``; OpenRouter's ``reasoning`` and
``reasoning_details``. A parser collects them into one small JSON-able dict, which the
turn stores as ``Message.meta["provider_data"]`` (so it goes through the store and
``to_dict`` / ``from_dict`` unchanged)::

    {"source": "anthropic https://api.anthropic.com", "content": [block, ...]}
    {"source": "openai https://api.deepseek.com", "fields": {"reasoning_content": "…"}}

``source`` is the wire format and the API's origin (scheme, host, port: no path, no
credentials). A payload builder sends the data back only when the request goes to the
same source (:func:`replay_data`); for any other provider the message is rebuilt from
its ordinary parts, so one provider's opaque data never reaches another.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from jupychat.types import Message

__all__ = ["META_KEY", "replay_data", "source_of"]

META_KEY = "provider_data"
"""The key of :attr:`Message.meta <jupychat.types.Message.meta>` that holds replay data."""


def source_of(wire: str, url: str) -> str:
    """``"WIRE scheme://host:port"`` for a request URL (the path and any credentials dropped)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    port = f":{parts.port}" if parts.port else ""
    return f"{wire} {parts.scheme.lower()}://{host}{port}"


def replay_data(message: Message, source: str | None) -> Mapping[str, Any] | None:
    """``message``'s replay data when it came from ``source`` (and is whole), else ``None``."""
    if source is None or message.interrupted:
        return None
    data = (message.meta or {}).get(META_KEY)
    if not isinstance(data, Mapping) or data.get("source") != source:
        return None
    return data
