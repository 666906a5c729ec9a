"""One exception tree for everything jupychat raises on purpose.

::

    ChatError                      base: catch this to catch everything below
    ├── ConfigError                a setting, a model name or an option is wrong or missing
    ├── ProviderError              talking to a model failed
    │   ├── AuthenticationError    missing or rejected API key (401/403)
    │   ├── RateLimitError         429, after the bounded retries (``retry_after`` in seconds)
    │   ├── ModelNotFoundError     the provider does not know the model (404 / model_not_found)
    │   ├── ContextWindowError     the conversation is too long for the model
    │   ├── ProviderUnavailable    network down, timeouts, 5xx/529 after retries
    │   └── ProtocolError          the server answered something we could not parse
    ├── StoreError                 the session store cannot do what was asked
    ├── StructuredOutputError      the model's answer did not fit the schema asked for
    ├── ToolError                  a tool is misdeclared or refused
    └── TurnInterrupted            a streamed turn was stopped (partial text is kept)

Every message is one line and says what to do next. Provider errors are mapped at the
boundary (``raise ... from exc``) so the original httpx exception stays on ``__cause__``.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ChatError",
    "ConfigError",
    "ContextWindowError",
    "ModelNotFoundError",
    "ProtocolError",
    "ProviderError",
    "ProviderUnavailable",
    "RateLimitError",
    "StoreError",
    "StructuredOutputError",
    "ToolError",
    "TurnInterrupted",
]


class ChatError(Exception):
    """Base class of every error jupychat raises on purpose."""


class ConfigError(ChatError):
    """A setting, model name or option is wrong or missing."""


class ProviderError(ChatError):
    """Talking to a model provider failed.

    Parameters
    ----------
    message:
        One line saying what happened and what to do.
    provider:
        The provider's registry name (``"openai"``, ``"anthropic"``, ...).
    status_code:
        The HTTP status, when there was one.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code


class AuthenticationError(ProviderError):
    """The API key is missing or was rejected."""


class RateLimitError(ProviderError):
    """The provider kept answering 429 after the bounded retries."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status_code=status_code)
        self.retry_after = retry_after


class ModelNotFoundError(ProviderError):
    """The provider does not know the requested model."""


class ContextWindowError(ProviderError):
    """The request is longer than the model's context window."""


class ProviderUnavailable(ProviderError):
    """Network failure, timeout, or server errors that outlasted the retries."""


class ProtocolError(ProviderError):
    """The provider answered something that could not be parsed."""


class StoreError(ChatError):
    """The session store could not do what was asked."""


class StructuredOutputError(ChatError):
    """The model's answer did not fit the schema asked for, even after a repair turn."""


class ToolError(ChatError):
    """A tool is misdeclared, unknown or refused."""


class TurnInterrupted(ChatError):
    """A streamed turn was stopped before it finished; the partial answer is kept."""
