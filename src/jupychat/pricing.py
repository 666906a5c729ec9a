"""A small bundled price table, in US dollars per million tokens.

Prices are the providers' published list prices for standard (non-batch) use, as of late
2025. A model that matches no entry has an *unknown* cost (``None``), never 0. Models that
run on the user's machine (``local``) cost 0. Update the table as prices change; a config
file entry ``[prices."provider:model"]`` with ``input``/``output``/``cached``/``cache_write``
overrides or extends it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .types import Message, Usage

__all__ = ["Price", "cost_of", "price_for", "turn_cost"]


class Price(NamedTuple):
    input: float
    output: float
    cached: float | None = None
    cache_write: float | None = None


# Matched by longest prefix of the model name, within the provider family.
_TABLE: dict[str, dict[str, Price]] = {
    "openai": {
        "gpt-4o-mini": Price(0.15, 0.60, 0.075),
        "gpt-4o": Price(2.50, 10.00, 1.25),
        "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
        "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
        "gpt-4.1": Price(2.00, 8.00, 0.50),
        "o4-mini": Price(1.10, 4.40, 0.275),
        "o3-mini": Price(1.10, 4.40, 0.55),
        "o3": Price(2.00, 8.00, 0.50),
        "gpt-3.5-turbo": Price(0.50, 1.50),
    },
    "anthropic": {
        "claude-3-5-haiku": Price(0.80, 4.00, 0.08, 1.00),
        "claude-haiku-4-5": Price(1.00, 5.00, 0.10, 1.25),
        "claude-3-haiku": Price(0.25, 1.25, 0.03, 0.30),
        "claude-3-5-sonnet": Price(3.00, 15.00, 0.30, 3.75),
        "claude-3-7-sonnet": Price(3.00, 15.00, 0.30, 3.75),
        "claude-sonnet-4": Price(3.00, 15.00, 0.30, 3.75),
        "claude-opus-4": Price(15.00, 75.00, 1.50, 18.75),
    },
}
_FREE = {"local", "fake"}


def price_for(model_id: str | None) -> Price | None:
    """The price entry for ``"provider:model"``, or ``None`` when unknown."""
    if not model_id:
        return None
    provider, _, model = model_id.partition(":")
    if provider in _FREE:
        return Price(0.0, 0.0, 0.0, 0.0)
    try:
        from .config import load_file

        custom = load_file().get("prices", {}).get(model_id)
    except Exception:
        custom = None
    if isinstance(custom, dict) and "input" in custom and "output" in custom:
        return Price(
            float(custom["input"]),
            float(custom["output"]),
            custom.get("cached"),
            custom.get("cache_write"),
        )
    table = _TABLE.get(provider, {})
    best = max((k for k in table if model.startswith(k)), key=len, default=None)
    return table[best] if best else None


def cost_of(usage: Usage | None, model_id: str | None) -> float | None:
    """Dollar cost of ``usage`` on ``model_id``; ``None`` when the price is unknown."""
    if usage is None:
        return 0.0
    price = price_for(model_id)
    if price is None:
        return None
    cached_rate = price.cached if price.cached is not None else price.input
    write_rate = price.cache_write if price.cache_write is not None else price.input
    uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
    total = (
        uncached * price.input
        + usage.cached_tokens * cached_rate
        + usage.cache_write_tokens * write_rate
        + usage.output_tokens * price.output
    )
    return total / 1_000_000


def turn_cost(messages: Iterable[Message]) -> float | None:
    """Dollar cost of the assistant messages among ``messages``: one turn's, or any set.

    ``None`` as soon as one of them used a model whose price is unknown (never a partial sum
    that looks like a total); ``0.0`` when nothing was billed.
    """
    total = 0.0
    for message in messages:
        if message.role != "assistant":
            continue
        cost = cost_of(message.usage, message.model)
        if cost is None:
            return None
        total += cost
    return total
