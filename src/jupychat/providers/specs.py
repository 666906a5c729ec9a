"""The HTTP providers as one table of specs, and the one factory that builds them.

Design note: ``openai``, ``azure``, ``ollama``, ``openai-compatible`` and ``anthropic``
differ only in data: the wire format they speak, where their API lives, which
environment variables and ``[providers.NAME]`` config-table keys say so, where the key
goes, and whether an API version travels in a header or the query. :data:`SPECS` holds
one frozen :class:`ProviderSpec` per provider, and :func:`http_provider` resolves
everything for a spec + model name + options in one place, then builds the provider
class of the spec's wire format (:class:`~jupychat.providers.openai.OpenAIProvider` or
:class:`~jupychat.providers.anthropic.AnthropicProvider`, imported only then).

Resolution (the same for every spec):

* **base URL**: ``MODEL@URL`` in the model string (specs with ``url_in_model``) >
  ``base_url=`` > the spec's ``base_url_env`` > ``base_url`` in ``[providers.NAME]`` >
  the spec's default. A ``base_url_env`` that names a *host* shared with the server
  (``OLLAMA_HOST``, ``env_is_host``) ranks below the config table, and becomes
  ``http://HOST`` + the default URL's path.
* **API key**: ``api_key=`` > ``%chat key NAME`` > the spec's ``key_env`` > the table's
  ``api_key_env`` / ``api_key`` (:func:`jupychat.config.api_key`, at request time).
* **API version** (specs that have one): ``api_version=`` > ``api_version_env`` > the
  table's ``api_version`` > the spec's default.
* **headers**: the table's ``headers`` overlaid with ``headers=``.

An alias (``[providers.NAME]`` with ``type = "openai-compatible"``, or any spec name) is
the spec under its own name: its table, its ``%chat key NAME``, its ``api_key_env``; the
spec's environment variables belong to the spec's own name and are not read for it.

Nothing here imports httpx: the registry and :mod:`jupychat.secrets` read this table.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jupychat import config
from jupychat.errors import ConfigError

if TYPE_CHECKING:
    from ._http import HTTPProvider

__all__ = [
    "FACTORY_OPTIONS",
    "SPECS",
    "WIRES",
    "ProviderSpec",
    "check_options",
    "http_provider",
    "key_env_vars",
    "merge_headers",
]

WIRES: Mapping[str, str] = {
    "openai": "jupychat.providers.openai:OpenAIProvider",
    "anthropic": "jupychat.providers.anthropic:AnthropicProvider",
}
"""Wire format → the provider class that speaks it (``"module:Class"``, loaded when used)."""


@dataclass(frozen=True)
class ProviderSpec:
    """Everything that makes one HTTP provider different from another.

    Attributes
    ----------
    name:
        Registry name (``openai:MODEL``), ``%chat key`` name and ``[providers.NAME]`` table.
    wire:
        The wire format, a key of :data:`WIRES` (``"openai"`` Chat Completions,
        ``"anthropic"`` Messages).
    base_url:
        The default API root; ``None``: the user must name one.
    base_url_env:
        An environment variable that names the API root (or the host, see ``env_is_host``).
    env_is_host:
        ``base_url_env`` holds ``HOST[:PORT]`` or a server URL shared with the server
        itself (``OLLAMA_HOST``): it ranks below the config table, gets ``http://`` when
        it has no scheme, and the default URL's path (``/v1``) is appended.
    key_env:
        The environment variable holding the API key.
    key_required:
        Whether a request without a key is refused (with advice) before it is sent.
    key_header, key_prefix:
        The header that carries the key and what comes before the key in it.
    path:
        Appended to the API root for a chat request (``{model}`` is the model name,
        URL-quoted). An API root that already ends in ``/v1`` gets no second ``/v1``.
    api_version, api_version_env:
        The default API version and the environment variable that overrides it;
        ``None``: the provider has no version and refuses ``api_version=``.
    version_header, version_query:
        Where the version travels: a header or a query parameter of that name.
    url_in_model:
        The model string may carry the base URL (``NAME@http://host:port/v1``), and the
        model id then shows it, so a saved session finds the same server.
    base_url_example:
        Shown in the error that asks for a base URL.
    """

    name: str
    wire: str
    base_url: str | None = None
    base_url_env: str | None = None
    env_is_host: bool = False
    key_env: str | None = None
    key_required: bool = True
    key_header: str = "authorization"
    key_prefix: str = "Bearer "
    path: str = "/chat/completions"
    api_version: str | None = None
    api_version_env: str | None = None
    version_header: str | None = None
    version_query: str | None = None
    url_in_model: bool = False
    base_url_example: str = "http://HOST:PORT/v1"

    def __post_init__(self) -> None:
        if self.wire not in WIRES:
            raise ConfigError(
                f"provider spec {self.name!r}: unknown wire format {self.wire!r}; use one of "
                f"{', '.join(WIRES)}"
            )


SPECS: Mapping[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "openai",
            "openai",
            base_url="https://api.openai.com/v1",
            base_url_env="OPENAI_BASE_URL",
            key_env="OPENAI_API_KEY",
        ),
        ProviderSpec(
            "azure",
            "openai",
            base_url_env="AZURE_OPENAI_ENDPOINT",
            key_env="AZURE_OPENAI_API_KEY",
            key_header="api-key",
            key_prefix="",
            path="/openai/deployments/{model}/chat/completions",
            api_version="2024-10-21",
            api_version_env="OPENAI_API_VERSION",
            version_query="api-version",
            base_url_example="https://NAME.openai.azure.com",
        ),
        ProviderSpec(
            "ollama",
            "openai",
            base_url="http://localhost:11434/v1",
            base_url_env="OLLAMA_HOST",
            env_is_host=True,
            key_env="OLLAMA_API_KEY",
            key_required=False,
        ),
        ProviderSpec(
            "openai-compatible",
            "openai",
            key_env="OPENAI_COMPATIBLE_API_KEY",
            key_required=False,
            url_in_model=True,
        ),
        ProviderSpec(
            "anthropic",
            "anthropic",
            base_url="https://api.anthropic.com",
            base_url_env="ANTHROPIC_BASE_URL",
            key_env="ANTHROPIC_API_KEY",
            key_header="x-api-key",
            key_prefix="",
            path="/v1/messages",
            api_version="2023-06-01",
            version_header="anthropic-version",
        ),
    )
}
"""The built-in HTTP providers, by registry name (the order is the order of preference
when only keys are set, see :data:`jupychat.providers.registry.KEYED_DEFAULTS`)."""


def key_env_vars() -> dict[str, str]:
    """``{provider: environment variable holding its key}`` for every built-in spec."""
    return {spec.name: spec.key_env for spec in SPECS.values() if spec.key_env}


# ---------------------------------------------------------------------------- options

FACTORY_OPTIONS = frozenset(
    {
        "base_url",
        "api_key",
        "headers",
        "api_version",
        "client",
        "async_client",
        "transport",
        "async_transport",
        "timeout",
        "max_retries",
        "backoff",
        "max_backoff",
        "name",
    }
)
"""Options every HTTP provider takes (``api_version`` only those with a version)."""


def check_options(
    provider: str, options: Mapping[str, Any], unused: frozenset[str] = frozenset()
) -> None:
    """Refuse, in one line, option names an HTTP provider factory would not use.

    ``unused`` are names of :data:`FACTORY_OPTIONS` this provider has no use for (OpenAI
    has no ``api_version``): they are refused too rather than silently dropped. The
    message suggests the closest known name and says where request options belong.
    """
    known = FACTORY_OPTIONS - unused
    unknown = sorted(set(options) - known)
    if not unknown:
        return
    import difflib

    from jupychat._sanitize import REQUEST_OPTIONS

    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, [*known, *REQUEST_OPTIONS], n=1, cutoff=0.75)
        if close:
            hints.append(f"{name} → {close[0]}?")
    hint = f" (did you mean {', '.join(hints)})" if hints else ""
    raise ConfigError(
        f"unknown option(s) {', '.join(unknown)} for {provider}{hint}; provider options are "
        f"{', '.join(sorted(known - {'name'}))}; request options "
        f"({', '.join(sorted(REQUEST_OPTIONS))}) go to ChatSession or send()"
    )


def merge_headers(settings: Mapping[str, Any], options: dict[str, Any]) -> dict[str, str]:
    """The config table's ``headers`` overlaid with (and popped from) ``options``."""
    merged: dict[str, str] = {}
    for source in (settings.get("headers"), options.pop("headers", None)):
        if isinstance(source, Mapping):
            merged.update({str(k): str(v) for k, v in source.items()})
    return merged


# ---------------------------------------------------------------------------- factory


def _split_url(model: str) -> tuple[str, str | None]:
    """``"NAME@http://host/v1"`` → ``("NAME", "http://host/v1")`` (a name may hold ``@``)."""
    at = model.find("@http")
    if at < 0:
        return model, None
    return model[:at], model[at + 1 :]


def _env(name: str | None) -> str:
    return os.environ.get(name, "").strip() if name else ""


def _host_url(host: str, default: str | None) -> str:
    """``OLLAMA_HOST``-style ``HOST[:PORT]`` or URL → the API root (default URL's path)."""
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    return host.rstrip("/") + (urlsplit(default).path.rstrip("/") if default else "")


def _base_url(
    spec: ProviderSpec, name: str, own: bool, explicit: Any, settings: Mapping[str, Any]
) -> str:
    if explicit:
        return str(explicit)
    env = _env(spec.base_url_env) if own else ""
    if env and not spec.env_is_host:
        return env
    if settings.get("base_url"):
        return str(settings["base_url"])
    if env:
        return _host_url(env, spec.base_url)
    if spec.base_url:
        return spec.base_url
    ways = []
    if spec.url_in_model:
        ways.append(f"use '{name}:MODEL@{spec.base_url_example}'")
    if own and spec.base_url_env:
        ways.append(f"set {spec.base_url_env} (e.g. {spec.base_url_example})")
    ways += ["pass base_url=", f"or set base_url in [providers.{name}] of the config file"]
    raise ConfigError(f"{name} needs a base URL: {', '.join(ways)}")


def _api_version(
    spec: ProviderSpec, own: bool, explicit: Any, settings: Mapping[str, Any]
) -> str | None:
    if spec.api_version is None:
        return None
    env = _env(spec.api_version_env) if own else ""
    return str(explicit or env or settings.get("api_version") or spec.api_version)


def _wire_class(wire: str) -> type[HTTPProvider]:
    module, _, attr = WIRES[wire].partition(":")
    cls: type[HTTPProvider] = getattr(importlib.import_module(module), attr)
    return cls


def http_provider(spec: ProviderSpec | str, model: str = "", **options: Any) -> HTTPProvider:
    """Build the HTTP provider for ``spec`` (or a name in :data:`SPECS`) and ``model``.

    Parameters
    ----------
    spec:
        The provider's spec, or its name.
    model:
        What follows ``NAME:`` (``gpt-4o-mini``; ``qwen@http://host:8080/v1`` for specs
        with ``url_in_model``).
    **options:
        :data:`FACTORY_OPTIONS`: ``base_url``, ``api_key``, ``headers``, ``api_version``
        (specs with a version), ``name`` (an alias), and the client, timeout and retry
        options of :class:`~jupychat.providers._http.HTTPProvider`.

    Raises
    ------
    ConfigError
        An unknown option, a spec name that does not exist, or no base URL anywhere.
    """
    if isinstance(spec, str):
        if spec not in SPECS:
            raise ConfigError(f"no HTTP provider spec {spec!r}; use one of {', '.join(SPECS)}")
        spec = SPECS[spec]
    check_options(
        spec.name,
        options,
        unused=frozenset({"api_version"}) if spec.api_version is None else frozenset(),
    )
    alias = options.pop("name", None)
    own = alias in (None, spec.name)
    name = spec.name if own else str(alias)
    settings = config.provider_settings(name)
    model_name, url = (
        _split_url(str(model or "")) if spec.url_in_model else (str(model or ""), None)
    )
    given = options.pop("base_url", None)
    explicit = url or given  # the model string's URL wins: it is what a saved id names
    base_url = _base_url(spec, name, own, explicit, settings)
    api_version = _api_version(spec, own, options.pop("api_version", None), settings)
    key_env = spec.key_env if own else settings.get("api_key_env")
    return _wire_class(spec.wire)(
        model_name,
        spec=spec,
        name=name,
        base_url=base_url,
        key_env=str(key_env) if key_env else None,
        api_version=api_version,
        url_in_id=spec.url_in_model and (own or bool(explicit)),
        headers=merge_headers(settings, options),
        **options,
    )
