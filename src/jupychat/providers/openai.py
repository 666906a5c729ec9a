"""OpenAI Chat Completions over HTTP: OpenAI, Azure, Ollama, vLLM, llama.cpp, LM Studio...

Design note: one provider class talks to every server that speaks Chat Completions.
What differs between them (URL, key header, API version, environment variables) is data
in :data:`jupychat.providers.specs.SPECS`, resolved by
:func:`~jupychat.providers.specs.http_provider`; the wire format (request body, response
parser) is :mod:`.chat_completions`, shared with the embedded model. This module only
ties the two to the HTTP machinery of :class:`~jupychat.providers._http.HTTPProvider`,
and names the registry's factories (``openai:``, ``azure:``, ``ollama:``,
``openai-compatible:``).
"""

from __future__ import annotations

from typing import Any, cast

from ._errors import Endpoint
from ._http import HTTPProvider
from ._replay import source_of
from ._stream import StreamParser
from .base import ChatRequest
from .chat_completions import OpenAIStreamParser, build_payload, context_text, messages_payload
from .specs import http_provider

__all__ = [
    "OpenAIProvider",
    "OpenAIStreamParser",
    "azure_provider",
    "build_payload",
    "compatible_provider",
    "context_text",
    "messages_payload",
    "ollama_provider",
    "openai_provider",
]


# ------------------------------------------------------------------------- provider


class OpenAIProvider(HTTPProvider):
    """Chat Completions over HTTP: any spec whose wire is ``"openai"``.

    Built by :func:`jupychat.providers.specs.http_provider` (see
    :class:`~jupychat.providers._http.HTTPProvider` for the parameters).
    """

    name = "openai"
    structured_output = True

    def build_payload(self, request: ChatRequest) -> dict[str, Any]:
        return build_payload(self.model, request, source=source_of("openai", self.request_url()))

    def new_parser(self, endpoint: Endpoint) -> StreamParser:
        return OpenAIStreamParser(endpoint, self.model_id)


# ------------------------------------------------- registry names (see specs.SPECS)


def openai_provider(model: str, **options: Any) -> OpenAIProvider:
    """``openai:MODEL`` — api.openai.com (or ``OPENAI_BASE_URL``), key ``OPENAI_API_KEY``."""
    return _built(http_provider("openai", model, **options))


def azure_provider(model: str, **options: Any) -> OpenAIProvider:
    """``azure:DEPLOYMENT`` — ``AZURE_OPENAI_ENDPOINT``, key ``AZURE_OPENAI_API_KEY``.

    The API version comes from ``api_version=``, ``OPENAI_API_VERSION``, the
    ``[providers.azure]`` table, or defaults to a GA version.
    """
    return _built(http_provider("azure", model, **options))


def ollama_provider(model: str, **options: Any) -> OpenAIProvider:
    """``ollama:MODEL`` — a local Ollama (``OLLAMA_HOST`` honoured); no key needed."""
    return _built(http_provider("ollama", model, **options))


def compatible_provider(model: str, **options: Any) -> OpenAIProvider:
    """``openai-compatible:MODEL@http://host:port/v1`` or an alias with a config table.

    The base URL comes from the model string, ``base_url=``, or the ``base_url`` of the
    ``[providers.NAME]`` table (``NAME`` is the alias, or ``openai-compatible``). The key
    is optional: ``api_key=``, ``%chat key NAME``, ``OPENAI_COMPATIBLE_API_KEY`` (plain
    name only) or the table's ``api_key_env`` / ``api_key``.
    """
    return _built(http_provider("openai-compatible", model, **options))


def _built(provider: HTTPProvider) -> OpenAIProvider:
    return cast(OpenAIProvider, provider)  # the spec's wire is "openai"
