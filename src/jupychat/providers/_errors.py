"""Provider errors: what an error body says, which exception it is, and no secret in it.

Design note: everything here is pure (no network, no httpx). :class:`Endpoint` says where
a request goes and how to talk about it; :func:`error_info` reads an error body of any
common shape; :func:`map_error` turns a status code (or an in-stream error) into one of
:mod:`jupychat.errors` with a one-line message that names the provider and says what to
do; :func:`parse_json` is ``json.loads`` that fails as a
:class:`~jupychat.errors.ProtocolError`. Network failures are mapped in :mod:`._retry`,
where they are also retried.

Secrets: API keys travel only in request headers. Every error message passes through
:func:`redact`, which removes the key in use, every key the process knows
(:mod:`jupychat.secrets`) and anything shaped like a bearer token or an ``sk-`` key, so
a provider echoing a key back cannot leak it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from jupychat import secrets as _secrets
from jupychat.errors import (
    AuthenticationError,
    ContextWindowError,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
    ProviderUnavailable,
    RateLimitError,
)

from ._unicode import clean

__all__ = [
    "Endpoint",
    "ErrorInfo",
    "error_info",
    "fast_loads",
    "map_error",
    "one_line",
    "parse_json",
    "redact",
]

_MAX_DETAIL = 200

_CONTEXT_PATTERNS = re.compile(
    r"context[_ ]length|context window|context size|maximum context|prompt is too long|"
    r"too many tokens|exceeds? the (?:available )?context|reduce the length|"
    r"input is too long|exceed_context_size",
    re.IGNORECASE,
)
# a provider that wants its own reasoning back: DeepSeek's thinking mode ("The
# reasoning_content in the thinking mode must be passed back to the API"), Anthropic's
# extended thinking with tools ("Expected `thinking` or `redacted_thinking`, but found
# `tool_use`"), and the like
_REPLAY_PATTERNS = re.compile(
    r"must be passed back|reasoning_content.*(?:missing|required)|"
    r"expected .?thinking.? or .?redacted_thinking|"
    r"(?:thinking|reasoning)[^.]{0,40}(?:block|signature)[^.]{0,40}(?:missing|required)",
    re.IGNORECASE,
)
_SECRET_PATTERNS = re.compile(
    r"(?:sk-[A-Za-z0-9_\-*.]{3,})|(?:(?i:bearer)\s+\S+)|(?:(?i:x-api-key|api-key)\s*[:=]\s*\S+)"
)


# --------------------------------------------------------------------------- endpoint


@dataclass(frozen=True)
class Endpoint:
    """Where one request goes and how to talk about it in errors.

    Attributes
    ----------
    provider:
        Registry name (``"openai"``, an alias...), used in messages and on errors.
    model:
        The model name as the provider knows it.
    url:
        The full request URL.
    headers:
        Request headers, including authentication. Never shown anywhere.
    key_name:
        The name for ``%chat key NAME``.
    key_env:
        The environment variable that holds the key, if there is one.
    secrets:
        Strings that must never appear in an error message (the key in use).
    timeout_advice:
        What a read timeout tells the user to raise (the ``timeout=`` option when one
        was given, else the ``read_timeout`` setting).
    """

    provider: str
    model: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    key_name: str = ""
    key_env: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)
    timeout_advice: str = "raise read_timeout (JUPYCHAT_READ_TIMEOUT)"

    def key_hint(self) -> str:
        """``"check OPENAI_API_KEY or run %chat key openai"``-style advice."""
        name = self.key_name or self.provider
        if self.key_env:
            return f"set {self.key_env} or run %chat key {name}"
        return f"run %chat key {name} or pass api_key="


# ------------------------------------------------------------------------ redaction


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove ``secrets``, every key this process knows, and key-shaped text from ``text``.

    Known keys are those of :mod:`jupychat.secrets` (environment, config file,
    ``%chat key``, ``api_key=`` arguments); ``secrets`` adds the key in use.
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return clean(_SECRET_PATTERNS.sub("[redacted]", _secrets.scrub_text(text)))


def one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------- error bodies


@dataclass(frozen=True)
class ErrorInfo:
    """What an error body said: ``message``, ``type`` and ``code`` (empty when absent)."""

    message: str = ""
    type: str = ""
    code: str = ""


def error_info(body: Any) -> ErrorInfo:
    """Pull the message, type and code out of an error body of any common shape.

    Handles OpenAI (``{"error": {"message", "type", "code"}}``), Anthropic
    (``{"type": "error", "error": {"type", "message"}}``), servers that send
    ``{"error": "text"}`` (Ollama, llama.cpp) or ``{"detail": ...}``, and plain text.
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        stripped = body.strip()
        if not stripped:
            return ErrorInfo()
        try:
            body = json.loads(stripped)
        except ValueError:
            return ErrorInfo(message=stripped)
    if not isinstance(body, Mapping):
        return ErrorInfo(message=str(body))
    err = body.get("error")
    if isinstance(err, Mapping):
        return ErrorInfo(
            message=_with_upstream(str(err.get("message") or err.get("detail") or ""), err),
            type=str(err.get("type") or ""),
            code=str(err.get("code") or ""),
        )
    if isinstance(err, str):
        return ErrorInfo(message=err, type=str(body.get("type") or ""))
    detail = body.get("message") or body.get("detail") or ""
    if not isinstance(detail, str):
        detail = json.dumps(detail)
    return ErrorInfo(message=detail, type=str(body.get("type") or ""))


def _with_upstream(message: str, err: Mapping[str, Any]) -> str:
    """``message`` plus what the upstream provider said, when a router passes it on.

    OpenRouter answers ``{"error": {"message": "Provider returned error", "metadata":
    {"provider_name": "Google", "raw": "<the upstream's own message>"}}}``: the raw
    message is the one that says what went wrong.
    """
    metadata = err.get("metadata")
    if not isinstance(metadata, Mapping):
        return message
    raw = metadata.get("raw")
    if raw is None or raw == "":
        return message
    if not isinstance(raw, str):
        raw = json.dumps(raw, ensure_ascii=False)
    else:  # often the upstream's JSON error body: its message, when there is one
        inner = error_info(raw) if raw.lstrip().startswith("{") else None
        raw = inner.message if inner is not None and inner.message else raw
    who = metadata.get("provider_name")
    upstream = f"{who}: {raw}" if isinstance(who, str) and who else raw
    return f"{message} — {upstream}" if message else upstream


def _status_text(status: int | None, info: ErrorInfo, secrets: Iterable[str]) -> str:
    detail = one_line(redact(info.message, secrets)) if info.message else ""
    if status is None:
        label = info.type or "error"
        return f"({label}: {detail})" if detail else f"({label})"
    return f"(HTTP {status}: {detail})" if detail else f"(HTTP {status})"


def map_error(
    status: int | None,
    info: ErrorInfo,
    endpoint: Endpoint,
    *,
    retry_after: float | None = None,
    retries: int = 0,
) -> ProviderError:
    """Turn an HTTP status (or an in-stream error, ``status=None``) into our exception.

    The message is one line, names the provider and says what to do; it never contains
    the API key (see :func:`redact`).
    """
    name = endpoint.provider
    why = _status_text(status, info, endpoint.secrets)
    kind = info.type.lower()
    code = info.code.lower()
    tried = f" after {retries} retries" if retries else ""
    if (
        status in (401, 403)
        or kind in ("authentication_error", "permission_error")
        or (code == "invalid_api_key")
    ):
        verb = "refused access with this API key" if status == 403 else "rejected the API key"
        return AuthenticationError(
            f"{name} {verb} {why}; {endpoint.key_hint()}",
            provider=name,
            status_code=status,
        )
    if (
        code == "context_length_exceeded"
        or kind == "request_too_large"
        or status == 413
        or (status in (None, 400, 422) and _CONTEXT_PATTERNS.search(info.message))
    ):
        return ContextWindowError(
            f"the conversation is too long for {name}:{endpoint.model} {why}; clear or trim "
            "the history (%chat clear) or use a model with a larger context window",
            provider=name,
            status_code=status,
        )
    if status in (None, 400, 422) and _REPLAY_PATTERNS.search(info.message):
        return ProviderError(
            f"{name} needs the model's earlier reasoning sent back with the conversation "
            f"{why}, and this history lacks it (it came from another provider or model, an "
            "older jupychat, or an interrupted answer): clear the history (%chat clear) or "
            "start a new session, or turn the provider's thinking mode off",
            provider=name,
            status_code=status,
        )
    if status == 404 or code == "model_not_found" or kind == "not_found_error":
        return ModelNotFoundError(
            f"{name} does not know model {endpoint.model!r} {why}; check the model name "
            f"and that {endpoint.url} is the right endpoint",
            provider=name,
            status_code=status,
        )
    if status == 429 or kind == "rate_limit_error" or code == "rate_limit_exceeded":
        if code == "insufficient_quota":
            advice = "check your plan and billing with the provider"
        elif retry_after is not None:
            advice = f"wait {retry_after:g} s and try again"
        else:
            advice = "wait a little and try again"
        return RateLimitError(
            f"{name} rate limit hit{tried} {why}; {advice}",
            provider=name,
            status_code=status or 429,
            retry_after=retry_after,
        )
    if (status is not None and status >= 500) or kind in (
        "overloaded_error",
        "api_error",
        "server_error",
    ):
        return ProviderUnavailable(
            f"{name} is unavailable{tried} {why}; try again later or pick another model",
            provider=name,
            status_code=status,
        )
    return ProviderError(
        f"{name} rejected the request {why}; check the model name and the options passed "
        "(temperature, max_tokens, tools, extra)",
        provider=name,
        status_code=status,
    )


_scan: Any = json.JSONDecoder().scan_once  # type: ignore[attr-defined]  # C scanner


def fast_loads(text: str) -> Any:
    """``json.loads(text)`` the short way, for a stream chunk's text (one value, no
    surrounding whitespace): one call of the C scanner. Any other text goes to
    ``json.loads``, which returns or raises exactly as it always does."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError, RecursionError):
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def parse_json(data: str | bytes, endpoint: Endpoint, what: str = "stream chunk") -> Any:
    """``json.loads`` that raises :class:`ProtocolError` with a one-line excerpt.

    Bytes are decoded as UTF-8 with invalid sequences replaced (U+FFFD), as a streamed
    body is; nesting too deep for the parser is a protocol error too.
    """
    if isinstance(data, (bytes, bytearray)):
        data = bytes(data).decode("utf-8", "replace")
    try:
        return fast_loads(data)
    except (ValueError, RecursionError) as exc:
        excerpt = one_line(redact(data, endpoint.secrets), 80)
        raise ProtocolError(
            f"{endpoint.provider} sent a {what} that is not JSON ({excerpt!r}); check that "
            f"{endpoint.url} is the right kind of API",
            provider=endpoint.provider,
        ) from exc
