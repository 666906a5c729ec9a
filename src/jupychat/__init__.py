"""jupychat: a persistent, notebook-scoped LLM chat session for Jupyter.

Load it in a notebook with ``%load_ext jupychat`` and ask in a ``%%chat`` cell, or use the
session from Python::

    from jupychat import ChatSession
    chat = ChatSession("fake")
    print(chat.send("Hello").text)

Names are imported lazily so that ``import jupychat`` (and ``%load_ext jupychat``) stays
fast; nothing here imports IPython, ipywidgets or pandas.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # without importing typing: `import jupychat` stays cheap

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ChatError",
    "ChatSession",
    "ChatStream",
    "ConfigError",
    "ContextBlock",
    "ContextWindowError",
    "Hooks",
    "Message",
    "ModelNotFoundError",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimitError",
    "Response",
    "StoreError",
    "StructuredOutputError",
    "Text",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolResult",
    "TurnInterrupted",
    "Usage",
    "__version__",
    "load_ipython_extension",
    "open_panel",
    "resolve_model",
    "unload_ipython_extension",
]

_LAZY = {
    "ChatSession": "jupychat.session",
    "ChatStream": "jupychat.session",
    "Response": "jupychat._turnstate",
    "Hooks": "jupychat.hooks",
    "Tool": "jupychat.tools",
    "resolve_model": "jupychat.providers.registry",
    "Message": "jupychat.types",
    "Text": "jupychat.types",
    "ContextBlock": "jupychat.types",
    "ToolCall": "jupychat.types",
    "ToolResult": "jupychat.types",
    "Usage": "jupychat.types",
    **dict.fromkeys(
        (
            "AuthenticationError",
            "ChatError",
            "ConfigError",
            "ContextWindowError",
            "ModelNotFoundError",
            "ProviderError",
            "ProviderUnavailable",
            "RateLimitError",
            "StoreError",
            "StructuredOutputError",
            "ToolError",
            "TurnInterrupted",
        ),
        "jupychat.errors",
    ),
}

if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

    from ._turnstate import Response
    from .errors import (
        AuthenticationError,
        ChatError,
        ConfigError,
        ContextWindowError,
        ModelNotFoundError,
        ProviderError,
        ProviderUnavailable,
        RateLimitError,
        StoreError,
        StructuredOutputError,
        ToolError,
        TurnInterrupted,
    )
    from .hooks import Hooks
    from .providers.registry import resolve_model
    from .session import ChatSession, ChatStream
    from .tools import Tool
    from .types import ContextBlock, Message, Text, ToolCall, ToolResult, Usage


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'jupychat' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext jupychat``: register the magics and bind this notebook's session."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def open_panel(chat: Any = None, where: str = "auto") -> Any:
    """Open the chat panel (JupyterLab's right side area, else inline) for this notebook."""
    from .notebook.panel import open_panel as _open

    return _open(chat, where=where)


def unload_ipython_extension(ipython: Any) -> None:
    from .notebook import unload_ipython_extension as unload

    unload(ipython)


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """Jupyter Server: the sessions API and browser page live in ``jupychat.server``."""
    return [{"module": "jupychat.server"}]
