"""How many tokens a model's context window holds: asked of the provider, else known.

Design note: a session compacts its history before a request would pass a share of the
window, so it must know the window. Sources, first that answers wins:

1. the session's ``context_window`` option (an override, always right);
2. what the provider reports: the local model's ``n_ctx`` (as loaded, or as it will be
   loaded); llama.cpp's server ``/props`` (``n_ctx``); Ollama's ``/api/show`` (the
   ``num_ctx`` parameter, else the model's ``context_length`` capped at Ollama's default
   window, since Ollama silently cuts longer prompts); a server's ``/v1/models`` entry
   where it carries one (``context_length``, ``max_model_len``, ``context_window``,
   ``max_context_length``, llama.cpp's ``meta.n_ctx``). Only self-hosted endpoints are
   asked (never api.openai.com or api.anthropic.com, whose lists carry no window), once
   per model and process, with a short timeout; nothing is sent but the model name;
3. the bundled table (:data:`jupychat.catalog.MODELS`, ``context``);
4. :data:`DEFAULT_WINDOW`, conservative on purpose.

A guess can be wrong (and a count a little low): when a provider still refuses a request
as too long, :func:`learn` records a smaller window for that model, below the size that
was refused, and the session compacts and retries once (see :mod:`jupychat._compaction`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_WINDOW", "OLLAMA_DEFAULT_CTX", "Window", "context_window", "forget", "learn"]

DEFAULT_WINDOW = 8192
"""Tokens assumed when nothing says (small for today's models: compaction comes early,
and a refusal teaches a smaller figure, see :func:`learn`)."""
OLLAMA_DEFAULT_CTX = 4096
"""The window Ollama serves when a model sets no ``num_ctx``."""
_TIMEOUT = 3.0
_MODEL_KEYS = ("context_length", "max_model_len", "context_window", "max_context_length")


@dataclass(frozen=True)
class Window:
    """A context window: its size in tokens and where that figure came from."""

    tokens: int
    source: str


_cache: dict[str, Window] = {}
_learned: dict[str, Window] = {}
_lock = threading.Lock()


def forget(model_id: str | None = None) -> None:
    """Forget what providers reported and refused (all of it, or for one ``model_id``)."""
    with _lock:
        if model_id is None:
            _cache.clear()
            _learned.clear()
        else:
            _cache.pop(model_id, None)
            _learned.pop(model_id, None)


def learn(provider: Any, refused: int) -> Window:
    """Record that ``provider`` refused a request of about ``refused`` tokens as too long.

    The model's window is taken to be at most 80 % of that from now on (in this process).
    """
    model_id = str(getattr(provider, "model_id", ""))
    current = context_window(provider).tokens
    window = Window(max(256, min(current, int(refused * 0.8))), "learned from a refusal")
    with _lock:
        _learned[model_id] = window
    return window


def context_window(provider: Any, override: int | None = None) -> Window:
    """The context window of ``provider``'s model.

    Parameters
    ----------
    provider:
        A :class:`~jupychat.providers.base.Provider`.
    override:
        A size set by the user (the ``context_window`` option); wins when given.

    Returns
    -------
    Window
        ``tokens`` and ``source`` (``"option"``, ``"llama.cpp n_ctx"``, ``"ollama"``,
        ``"server"``, ``"table"`` or ``"default"``).
    """
    if override:
        return Window(int(override), "option")
    with _lock:
        learned = _learned.get(str(getattr(provider, "model_id", "")))
    if learned is not None:
        return learned
    own = getattr(provider, "context_window", None)  # a provider that knows its own
    if isinstance(own, int) and own > 0:
        return Window(own, "provider")
    if getattr(provider, "name", "") == "local":
        return _local(provider)
    model_id = str(getattr(provider, "model_id", ""))
    with _lock:
        found = _cache.get(model_id)
    if found is not None:
        return found
    window = _asked(provider) or _table(model_id) or Window(DEFAULT_WINDOW, "default")
    with _lock:
        _cache[model_id] = window
    return window


def _local(provider: Any) -> Window:
    from .providers import _llama

    try:
        entry = _llama.cached(provider.path, provider.n_ctx, provider.n_threads)
        if entry is not None:
            return Window(entry.n_ctx, "llama.cpp n_ctx")
        if provider.n_ctx:
            return Window(int(provider.n_ctx), "llama.cpp n_ctx")
        from .providers.gguf import read_gguf

        return Window(_llama._effective_ctx(read_gguf(str(provider.path)), provider.n_ctx), "GGUF")
    except Exception:
        return Window(_llama.DEFAULT_N_CTX, "default")


def _table(model_id: str) -> Window | None:
    from .catalog import MODELS, lookup

    info = lookup(model_id)
    context = getattr(info, "context", None) if info is not None else None
    if not context:
        # the same model behind another endpoint (Azure, OpenRouter's "openai/gpt-4o-mini",
        # a proxy): its window does not depend on who serves it, unlike its price
        name = model_id.partition(":")[2].split("@", 1)[0].rsplit("/", 1)[-1]
        known = [m for m in MODELS if m.context and name and name.startswith(m.name)]
        context = max(known, key=lambda m: len(m.name)).context if known else None
    return Window(int(context), "table") if context else None


def _asked(provider: Any) -> Window | None:
    """What a self-hosted server reports, or ``None`` (never raises)."""
    name = getattr(provider, "name", "")
    base = str(getattr(provider, "base_url", "") or "").rstrip("/")
    if not base or name in ("openai", "anthropic", "azure"):
        return None
    spec = getattr(provider, "spec", None)
    if name != "ollama" and getattr(spec, "name", name) in ("openai", "anthropic", "azure"):
        return None
    try:
        import httpx

        from .providers._transport import ssl_context

        key = provider.api_key() if hasattr(provider, "api_key") else None
        headers = provider.auth_headers(key) if hasattr(provider, "auth_headers") else {}
        root = base[: -len("/v1")] if base.endswith("/v1") else base
        with httpx.Client(
            timeout=_TIMEOUT, trust_env=False, headers=headers, verify=ssl_context()
        ) as client:
            if name == "ollama":
                return _ollama(client, root, provider.model)
            return _models(client, base, provider.model) or _props(client, root)
    except Exception:
        return None


def _positive(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number > 0 else None


def _ollama(client: Any, root: str, model: str) -> Window | None:
    reply = client.post(f"{root}/api/show", json={"model": model})
    if reply.status_code != 200:
        return None
    data = reply.json()
    for line in str(data.get("parameters") or "").splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "num_ctx" and _positive(words[1]):
            return Window(int(words[1]), "ollama")
    info = data.get("model_info") or {}
    trained = next(
        (_positive(v) for k, v in info.items() if str(k).endswith(".context_length")), None
    )
    if trained:
        return Window(min(trained, OLLAMA_DEFAULT_CTX), "ollama")
    return None


def _models(client: Any, base: str, model: str) -> Window | None:
    reply = client.get(f"{base}/models")
    if reply.status_code != 200:
        return None
    entries = reply.json().get("data") or []
    for entry in entries:
        if not isinstance(entry, dict) or (len(entries) > 1 and entry.get("id") != model):
            continue
        for key in _MODEL_KEYS:
            size = _positive(entry.get(key))
            if size:
                return Window(size, "server")
        meta = entry.get("meta")
        if isinstance(meta, dict) and _positive(meta.get("n_ctx")):
            return Window(int(meta["n_ctx"]), "server")
    return None


def _props(client: Any, root: str) -> Window | None:
    reply = client.get(f"{root}/props")
    if reply.status_code != 200:
        return None
    settings = reply.json().get("default_generation_settings") or {}
    size = _positive(settings.get("n_ctx"))
    return Window(size, "llama.cpp n_ctx") if size else None
