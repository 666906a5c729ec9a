"""Hooks: code the session calls at fixed points of a turn.

=============  =====================================  ==========================================
event          called with                            may
=============  =====================================  ==========================================
``request``    the :class:`ChatRequest` about to go   return a replacement request
``response``   the finished :class:`Response`         observe
``tool_call``  the :class:`ToolCall`                  veto: return ``False`` or a reason string
``tool_result`` the call and its :class:`ToolResult`  observe
``error``      the exception that failed the turn     observe (the exception is re-raised)
=============  =====================================  ==========================================

A hook that raises does not break the turn for ``response``, ``tool_result`` and
``error`` (it is logged); for ``request`` and ``tool_call`` the exception propagates,
because a hook there decides what happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["HOOK_EVENTS", "Hooks"]

HOOK_EVENTS = ("request", "response", "tool_call", "tool_result", "error")
log = logging.getLogger("jupychat")


class Hooks:
    """A set of callbacks per event.

    Parameters
    ----------
    on_request, on_response, on_tool_call, on_tool_result, on_error:
        One callable each (or ``None``); more can be added with :meth:`add`.
    """

    def __init__(
        self,
        on_request: Callable[..., Any] | None = None,
        on_response: Callable[..., Any] | None = None,
        on_tool_call: Callable[..., Any] | None = None,
        on_tool_result: Callable[..., Any] | None = None,
        on_error: Callable[..., Any] | None = None,
    ) -> None:
        self._hooks: dict[str, list[Callable[..., Any]]] = {e: [] for e in HOOK_EVENTS}
        given = zip(
            HOOK_EVENTS,
            (on_request, on_response, on_tool_call, on_tool_result, on_error),
            strict=True,
        )
        for event, fn in given:
            if fn is not None:
                self.add(event, fn)

    @classmethod
    def coerce(cls, hooks: Hooks | Mapping[str, Any] | None) -> Hooks:
        """Accept a ``Hooks``, a ``{"event": fn or [fns]}`` mapping, or ``None``."""
        if isinstance(hooks, Hooks):
            return hooks
        result = cls()
        for event, fns in (hooks or {}).items():
            for fn in fns if isinstance(fns, Iterable) else [fns]:
                result.add(event, fn)
        return result

    def add(self, event: str, fn: Callable[..., Any]) -> Hooks:
        """Add a callback for ``event``; returns ``self``."""
        key = event.removeprefix("on_")
        if key not in self._hooks:
            raise ValueError(f"unknown hook event {event!r}; use one of {', '.join(HOOK_EVENTS)}")
        self._hooks[key].append(fn)
        return self

    def __bool__(self) -> bool:
        return any(self._hooks.values())

    def names(self) -> dict[str, list[str]]:
        return {
            e: [getattr(f, "__qualname__", repr(f)) for f in fns]
            for e, fns in self._hooks.items()
            if fns
        }

    def request(self, request: Any) -> Any:
        for fn in self._hooks["request"]:
            replaced = fn(request)
            if replaced is not None:
                request = replaced
        return request

    def tool_call(self, call: Any) -> str | None:
        """``None`` to allow the call, or the reason it was vetoed."""
        for fn in self._hooks["tool_call"]:
            verdict = fn(call)
            if verdict is False:
                return "vetoed by a tool_call hook"
            if isinstance(verdict, str):
                return verdict
        return None

    def _observe(self, event: str, *args: Any) -> None:
        for fn in self._hooks[event]:
            try:
                fn(*args)
            except Exception:
                log.exception("jupychat %s hook %r failed", event, fn)

    def response(self, response: Any) -> None:
        self._observe("response", response)

    def tool_result(self, call: Any, result: Any) -> None:
        self._observe("tool_result", call, result)

    def error(self, exc: BaseException) -> None:
        self._observe("error", exc)
