"""Which models accept images: a capability table with overrides.

Design note: sending an image to a text-only model fails the whole request, and not
sending one to a vision model only loses a picture (the figure's text account always
goes along), so the table answers yes only for model families documented to take image
input, and everything unknown is text-only. The answer for one call is resolved as:

    vision=... argument  >  the ``vision`` setting (``%config ChatMagics.vision``,
    ``JUPYCHAT_VISION``, ``vision = ...`` in config.toml)  >  the built-in table

The setting is ``true``/``false`` (every model), ``"auto"`` (the table), or a table of
glob patterns over model ids, ``{"ollama:my-vlm*" = true, "openai:gpt-4o-mini" = false}``
(first match wins, else the built-in table). The built-in table is the model catalog's
``vision`` flag (``jupychat.catalog``) where it knows the model, after a short list of
text-only members of image-capable families (``o1-mini``, ``o3-mini``, ``gemma3:1b``),
and name patterns of vision families for models it does not know. Model ids are
``provider:model`` strings as the registry writes them; an OpenRouter-style
``vendor/model`` name is matched by its last part, and ``@url`` suffixes are ignored.
``local`` (the embedded SmolLM2) is text-only; the fake provider is text-only unless its
name contains ``vision`` (``fake:vision``) or the setting says otherwise, so tests can
script either case.
"""

from __future__ import annotations

import fnmatch
import importlib
import re
from collections.abc import Mapping
from typing import Any

from . import config
from .errors import ConfigError

__all__ = ["supports_images", "vision_setting"]

# OpenAI (and OpenAI-compatible hosts serving these names): documented image input.
_OPENAI_YES = re.compile(
    r"^(gpt-4o|chatgpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-4-turbo|gpt-4-vision|o1(?!-mini|-preview)"
    r"|o3(?!-mini)|o4-mini|computer-use)"
)
# Anthropic: every Claude 3 model and later (claude-3-*, claude-3-5-*, claude-sonnet-4...).
_CLAUDE_YES = re.compile(r"^claude-(?:(?:[3-9]|\d{2,})(?:[-.]|$)|(?:opus|sonnet|haiku)-\d)")
# Open-weight vision families (Ollama, vLLM, LM Studio names).
_OPEN_VISION = re.compile(
    r"(llava|bakllava|moondream|minicpm-v|llama3\.2-vision|llama-3\.2-\d+b-vision|llama4"
    r"|qwen[\d.]*-?vl|qwen2\.5vl|qwen3-vl|gemma-?3|granite[\d.]*-vision|mistral-small3\.[12]"
    r"|mistral-small-3\.[12]|pixtral|internvl|cogvlm|phi-?3\.5-vision|phi-?4-multimodal"
    r"|smolvlm|idefics|paligemma|-vision|vision-|-vl\b|-vl-)"
)
_GEMINI = re.compile(r"^gemini-")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse(model_id: str) -> tuple[str, str]:
    """``(provider, model)`` lower-cased, with ``@url`` and vendor prefixes removed."""
    text = model_id.strip().lower()
    provider, _, model = text.partition(":")
    if not model and provider in ("local", "fake"):
        return provider, ""
    if not model:  # a bare model name
        provider, model = "", provider
    model = model.split("@", 1)[0]
    model = model.rsplit("/", 1)[-1]
    return provider, model


_TEXT_ONLY = re.compile(r"^(o1-mini|o1-preview|o3-mini)|gemma-?3[:\-_]?(1b|270m)")


def _catalog_says(model_id: str) -> bool | None:
    """The model catalog's answer when there is one (``jupychat.catalog``, if installed)."""
    try:
        catalog = importlib.import_module("jupychat.catalog")
        info = catalog.lookup(model_id)
    except Exception:  # no catalog in this version, or an entry it cannot read
        return None
    return None if info is None else bool(getattr(info, "vision", False))


def _table(model_id: str) -> bool:
    provider, model = _parse(model_id)
    if provider == "local":
        return False
    if provider == "fake":
        return "vision" in model
    if _TEXT_ONLY.search(model):  # text-only members of image-capable families
        return False
    known = _catalog_says(model_id.strip())
    if known is not None:
        return known
    name = model.split(":", 1)[0] if provider == "ollama" else model
    if _OPENAI_YES.match(name) or _CLAUDE_YES.match(name) or _GEMINI.match(name):
        return True
    return bool(_OPEN_VISION.search(model))


def vision_setting(value: Any = None) -> bool | Mapping[str, Any] | None:
    """The ``vision`` setting as True/False/a pattern table, or None for the built-in table.

    Parameters
    ----------
    value:
        An explicit value; when None the setting is resolved through the config chain.

    Raises
    ------
    ConfigError
        For a value that is not a boolean, ``"auto"`` or a table of patterns.
    """
    raw = config.resolve("vision", value, default="auto")
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, Mapping):
        return raw
    if isinstance(raw, str):
        word = raw.strip().lower()
        if word in ("", "auto"):
            return None
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise ConfigError(
        f"vision must be true, false, 'auto' or a table of model patterns "
        f"(e.g. {{'ollama:my-vlm*': true}}); got {raw!r}"
    )


def supports_images(model_id: str | Any, *, vision: Any = None) -> bool:
    """Whether images should be sent to ``model_id``.

    Parameters
    ----------
    model_id:
        A ``provider:model`` id (``"openai:gpt-4o-mini"``, ``"ollama:llava:13b"``...), or
        a provider object with a ``model_id`` attribute.
    vision:
        Per-call override: True/False, ``"auto"``, or a pattern table (see the module note).

    Returns
    -------
    bool
        True when the model takes image input (by the override, the setting or the table).
    """
    if not isinstance(model_id, str):
        model_id = str(getattr(model_id, "model_id", "") or "")
    setting = vision_setting(vision)
    if isinstance(setting, bool):
        return setting
    if isinstance(setting, Mapping):
        key = model_id.strip().lower()
        for pattern, allowed in setting.items():
            if fnmatch.fnmatchcase(key, str(pattern).lower()):
                if isinstance(allowed, str):
                    return allowed.strip().lower() in _TRUE
                return bool(allowed)
    return _table(model_id) if model_id else False
