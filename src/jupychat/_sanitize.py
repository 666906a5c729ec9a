"""What a session accepts as options, and what it lets into history, the store and errors.

Design note: the rules :class:`~jupychat.session.ChatSession` applies at its edges, in one
place so the sync and async drivers share them.

*Options.* ``ChatSession(model, **options)`` takes two kinds: request options
(:data:`REQUEST_OPTIONS`: sampling settings and ``turn_timeout``), kept on the session and
saved with it; and anything else, which is for the provider (``api_key``, ``base_url``,
``headers``, ``n_ctx``...) and is handed to the provider factory, which uses it or refuses
it with a one-line :class:`~jupychat.errors.ConfigError`. Provider options are never kept
in ``session.options``, so they never reach ``to_dict()``, the store or an export.

*Text.* Everything that enters history (the prompt and its context blocks, the model's
answer and tool calls, tool results) goes through :func:`clean_text`: surrogate halves
made whole or replaced (so the store can always encode it) and known secret values
removed (:mod:`jupychat.secrets`). The same is done to the message of an exception that
fails a turn (:func:`scrub_exception`).

*Time.* :func:`turn_timeout` resolves the ``turn_timeout`` setting (seconds one turn may
spend waiting for the model) through :func:`jupychat.config.resolve`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from . import config, secrets
from .errors import ConfigError
from .providers._unicode import clean, clean_data
from .types import ContextBlock, Message, Part, Text, ToolCall, ToolResult

__all__ = [
    "REQUEST_OPTIONS",
    "TURN_OPTIONS",
    "clean_data_value",
    "clean_message",
    "clean_parts",
    "clean_text",
    "scrub_exception",
    "split_options",
    "turn_timeout",
]

REQUEST_OPTIONS = frozenset(
    {"temperature", "top_p", "max_tokens", "seed", "stop", "extra", "turn_timeout"}
    | {"context_window", "compact_at", "compact_model", "compact"}
)
"""Options a session keeps (and saves) and sends with every request; the last four are
for long sessions (see :mod:`jupychat._compaction`): the window size in tokens (an
override), the share of it that triggers compaction, the model that summarises, and
``compact=False`` to turn compaction off."""

TURN_OPTIONS = REQUEST_OPTIONS | {
    "context",
    "meta",
    "replace",
    "place",
    "model",
    "output",
    "continue_answer",
    "while_waiting",
}
"""Options one ``send``/``stream`` call accepts (``model``: a model for this turn only;
``output``: an :class:`~jupychat.providers.base.OutputSchema`, see :mod:`jupychat.structured`;
``place``: where the turn goes, see :mod:`jupychat._turnplace`; ``while_waiting``: a
function run once the first request has gone out, see ``ChatRequest.on_sent``)."""


def split_options(options: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(request options, provider options)``; ``None`` values are dropped."""
    request: dict[str, Any] = {}
    provider: dict[str, Any] = {}
    for key, value in options.items():
        if value is None:
            continue
        (request if key in REQUEST_OPTIONS else provider)[key] = value
    return request, provider


def check_turn_options(options: Mapping[str, Any]) -> None:
    """Refuse options a turn does not know, in one line."""
    unknown = sorted(set(options) - TURN_OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for a turn; use "
            f"{', '.join(sorted(TURN_OPTIONS))} (provider options such as api_key go to "
            "ChatSession(model, ...) or switch_model)"
        )


def _number(value: Any) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# Request fields an ``extra`` from a session file may never set: they change what is asked,
# of which model, how many times, or with which tools.
_EXTRA_DENIED = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "functions",
        "function_call",
        "n",
        "stream",
        "stream_options",
        "prompt",
        "input",
        "best_of",
        "user",
        "metadata",
    }
)


def _extra(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) <= 32
        and all(
            isinstance(k, str)
            and k not in _EXTRA_DENIED
            and not secrets.secret_name(k)
            and (v is None or isinstance(v, (str, int, float, bool)))
            for k, v in value.items()
        )
    )


# How each saved request option is checked before a stored or imported record may carry it
# back into ChatSession(...): a session file must not reconfigure the program.
_STORED_CHECKS: dict[str, Any] = {
    "temperature": _number,
    "top_p": _number,
    "max_tokens": lambda v: _int(v) and v > 0,
    "seed": _int,
    "stop": lambda v: (
        isinstance(v, str)
        or (isinstance(v, (list, tuple)) and len(v) <= 16 and all(isinstance(x, str) for x in v))
    ),
    "extra": _extra,
    "turn_timeout": lambda v: _number(v) and v > 0,
    "context_window": lambda v: _int(v) and v > 0,
    "compact_at": lambda v: _number(v) and 0.1 <= v <= 1,
    "compact_model": lambda v: isinstance(v, str) and 0 < len(v) < 300,
    "compact": lambda v: isinstance(v, bool),
}
assert set(_STORED_CHECKS) == REQUEST_OPTIONS


def stored_options(settings: Any, session_id: Any = None) -> dict[str, Any]:
    """The valid request options of a saved record's ``settings``.

    Anything else (tools, a store path, an approval callback, a stale key, raw request
    fields, a wrong type) is dropped, with one warning naming what was ignored.
    """
    import warnings

    from .errors import StoreError

    if settings is None:
        return {}
    if not isinstance(settings, Mapping):
        raise StoreError("the session's 'settings' must be an object; fix or remove it")
    kept: dict[str, Any] = {}
    dropped = []
    for key, value in settings.items():
        if value is None:
            continue
        check = _STORED_CHECKS.get(key) if isinstance(key, str) else None
        if check is not None and check(value):
            kept[key] = value
        else:
            dropped.append(str(key)[:40])
    if dropped:
        warnings.warn(
            f"session {str(session_id)[:12]}: ignored unknown or invalid settings: "
            f"{', '.join(sorted(dropped))}",
            stacklevel=3,
        )
    return kept


def turn_timeout(explicit: Any = None) -> float | None:
    """Seconds a turn may wait for the model (``None``: no limit, for ``inf``).

    Resolved as every setting is: the argument, ``%config ChatMagics.turn_timeout``,
    ``JUPYCHAT_TURN_TIMEOUT``, the config file, then 600 s.
    """
    value = config.resolve("turn_timeout", explicit)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if math.isnan(seconds) or seconds <= 0 or isinstance(value, bool):
        raise ConfigError(
            f"turn_timeout must be a positive number of seconds; got {value!r} "
            "(set it with ChatSession(turn_timeout=...), JUPYCHAT_TURN_TIMEOUT or "
            "%config ChatMagics.turn_timeout)"
        )
    return None if math.isinf(seconds) else seconds


def clean_text(text: str) -> str:
    """``text`` that can be stored: surrogates fixed, known secret values removed."""
    return secrets.scrub_text(clean(text))


def _clean_value(value: Any) -> Any:
    return secrets.scrub_data(clean_data(value))


def clean_data_value(value: Any) -> Any:
    """JSON-like ``value`` (memory, metadata) with :func:`clean_text` applied to every string."""
    return _clean_value(value)


def clean_parts(parts: Iterable[Part]) -> tuple[Part, ...]:
    """Content parts with :func:`clean_text` applied to every text they hold."""
    out: list[Part] = []
    for part in parts:
        if isinstance(part, Text):
            text = clean_text(part.text)
            out.append(part if text == part.text else Text(text))
        elif isinstance(part, ContextBlock):
            text = clean_text(part.text)
            key = clean_text(part.key)
            out.append(part if (text, key) == (part.text, part.key) else ContextBlock(key, text))
        elif isinstance(part, ToolCall):
            arguments = _clean_value(dict(part.arguments))
            out.append(ToolCall(clean_text(part.id), clean_text(part.name), arguments))
        elif isinstance(part, ToolResult):
            content = clean_text(part.content)
            call_id = clean_text(part.tool_call_id)  # cleaned as the call's own id is
            out.append(
                part
                if (content, call_id) == (part.content, part.tool_call_id)
                else ToolResult(call_id, part.name, content, part.is_error)
            )
        else:
            out.append(part)
    return tuple(out)


def clean_message(message: Message) -> Message:
    """``message`` with :func:`clean_parts` and a cleaned ``reasoning``."""
    parts = clean_parts(message.content)
    reasoning = clean_text(message.reasoning) if message.reasoning else message.reasoning
    if parts == message.content and reasoning == message.reasoning:
        return message
    return message.replace(content=parts, reasoning=reasoning)


def scrub_exception(exc: BaseException) -> BaseException:
    """Remove known secret values (and lone surrogates) from an exception's message."""
    if isinstance(exc, Exception) and exc.args:
        try:
            exc.args = tuple(clean_text(a) if isinstance(a, str) else a for a in exc.args)
        except Exception:  # an exception type with read-only args: leave it
            pass
    return exc
