"""What jupychat knows about models: one table, read by everything that needs a fact.

Design note: prices (:mod:`jupychat.pricing`), the models the panel's picker and ``%chat
model`` completion suggest, the model used when only a provider's key is set, and which
models accept images all come from :data:`MODELS`. An entry matches a model id by the
longest name prefix within its provider (``openai:gpt-4o-mini-2024-07-18`` matches
``gpt-4o-mini``). A model that matches nothing is unknown: its cost is ``None``, never 0.

Prices are the providers' published list prices in US dollars per million tokens for
standard (non-batch) use, as of late 2025; a config file entry ``[prices."provider:model"]``
overrides or extends them (see :func:`jupychat.pricing.price_for`).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["FREE_PROVIDERS", "MODELS", "ModelInfo", "Price", "default_for", "lookup", "suggested"]


class Price(NamedTuple):
    """Dollars per million tokens."""

    input: float
    output: float
    cached: float | None = None
    cache_write: float | None = None


class ModelInfo(NamedTuple):
    provider: str
    name: str  # a prefix of the model names this entry covers
    price: Price | None = None
    vision: bool = False  # accepts image input
    suggest: bool = False  # offered in pickers and completion
    default: str | None = None  # the model id to use when only the provider's key is set
    context: int | None = None  # the context window in tokens (published figures)


MODELS: tuple[ModelInfo, ...] = (
    ModelInfo(
        "openai",
        "gpt-4o-mini",
        Price(0.15, 0.60, 0.075),
        vision=True,
        suggest=True,
        default="gpt-4o-mini",
        context=128_000,
    ),
    ModelInfo(
        "openai", "gpt-4o", Price(2.50, 10.00, 1.25), vision=True, suggest=True, context=128_000
    ),
    ModelInfo("openai", "gpt-4.1-nano", Price(0.10, 0.40, 0.025), vision=True, context=1_047_576),
    ModelInfo(
        "openai",
        "gpt-4.1-mini",
        Price(0.40, 1.60, 0.10),
        vision=True,
        suggest=True,
        context=1_047_576,
    ),
    ModelInfo(
        "openai", "gpt-4.1", Price(2.00, 8.00, 0.50), vision=True, suggest=True, context=1_047_576
    ),
    ModelInfo("openai", "gpt-5", vision=True, context=400_000),
    ModelInfo("openai", "o4-mini", Price(1.10, 4.40, 0.275), vision=True, context=200_000),
    ModelInfo("openai", "o3-mini", Price(1.10, 4.40, 0.55), context=200_000),
    ModelInfo("openai", "o3", Price(2.00, 8.00, 0.50), vision=True, context=200_000),
    ModelInfo("openai", "o1", vision=True, context=200_000),
    ModelInfo("openai", "gpt-3.5-turbo", Price(0.50, 1.50), context=16_385),
    ModelInfo(
        "anthropic",
        "claude-3-5-haiku",
        Price(0.80, 4.00, 0.08, 1.00),
        vision=True,
        default="claude-3-5-haiku-latest",
        context=200_000,
    ),
    ModelInfo(
        "anthropic",
        "claude-haiku-4-5",
        Price(1.00, 5.00, 0.10, 1.25),
        vision=True,
        suggest=True,
        context=200_000,
    ),
    ModelInfo(
        "anthropic", "claude-3-haiku", Price(0.25, 1.25, 0.03, 0.30), vision=True, context=200_000
    ),
    ModelInfo(
        "anthropic",
        "claude-3-5-sonnet",
        Price(3.00, 15.00, 0.30, 3.75),
        vision=True,
        context=200_000,
    ),
    ModelInfo(
        "anthropic",
        "claude-3-7-sonnet",
        Price(3.00, 15.00, 0.30, 3.75),
        vision=True,
        context=200_000,
    ),
    ModelInfo(
        "anthropic",
        "claude-sonnet-4",
        Price(3.00, 15.00, 0.30, 3.75),
        vision=True,
        suggest=True,
        context=200_000,
    ),
    ModelInfo(
        "anthropic", "claude-opus-4", Price(15.00, 75.00, 1.50, 18.75), vision=True, context=200_000
    ),
    ModelInfo("anthropic", "claude-3", vision=True, context=200_000),
    ModelInfo("ollama", "llama3.2", suggest=True),
    ModelInfo("ollama", "llama3.2-vision", vision=True),
    ModelInfo("ollama", "llava", vision=True),
    ModelInfo("ollama", "bakllava", vision=True),
    ModelInfo("ollama", "qwen2.5vl", vision=True),
    ModelInfo("ollama", "qwen3-vl", vision=True),
    ModelInfo("ollama", "gemma3", vision=True),
    ModelInfo("ollama", "minicpm-v", vision=True),
    ModelInfo("ollama", "llama4", vision=True),
)
# Models that run on the user's machine, or are scripted: they cost nothing.
FREE_PROVIDERS = frozenset({"local", "fake"})

# Offered before the table's suggestions, after the current and configured model.
_ALWAYS_SUGGESTED = ("local",)
_SUGGESTED_LAST = ("fake",)


def lookup(model_id: str | None) -> ModelInfo | None:
    """The catalog entry for ``"provider:model"`` (longest matching prefix), or ``None``."""
    if not model_id:
        return None
    provider, _, model = model_id.partition(":")
    model = model.split("@", 1)[0]
    best: ModelInfo | None = None
    for info in MODELS:
        if (
            info.provider == provider
            and model.startswith(info.name)
            and (best is None or len(info.name) > len(best.name))
        ):
            best = info
    return best


def suggested() -> list[str]:
    """Model ids to offer in pickers and completion, in a sensible order."""
    table = [f"{m.provider}:{m.name}" for m in MODELS if m.suggest]
    return [*_ALWAYS_SUGGESTED, *table, *_SUGGESTED_LAST]


def default_for(provider: str) -> str | None:
    """The model to use for ``provider`` when only its API key is set."""
    return next(
        (f"{m.provider}:{m.default}" for m in MODELS if m.provider == provider and m.default), None
    )
