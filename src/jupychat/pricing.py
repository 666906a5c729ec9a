"""What a turn costs, from the catalog's prices (:mod:`jupychat.catalog`).

A model whose price is unknown has an *unknown* cost (``None``), never 0; models that run
on the user's machine (``local``) or are scripted (``fake``) cost 0. A config file entry
``[prices."provider:model"]`` with ``input``/``output``/``cached``/``cache_write`` (dollars
per million tokens) overrides or extends the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable

from . import config
from .catalog import FREE_PROVIDERS, Price, lookup
from .types import Message, Usage

__all__ = ["Price", "cost_of", "price_for", "turn_cost"]


def price_for(model_id: str | None) -> Price | None:
    """The price entry for ``"provider:model"``, or ``None`` when unknown."""
    if not model_id:
        return None
    provider = model_id.partition(":")[0]
    if provider in FREE_PROVIDERS:
        return Price(0.0, 0.0, 0.0, 0.0)
    try:
        custom = config.load_file().get("prices", {}).get(model_id)
    except Exception:
        custom = None
    if isinstance(custom, dict) and "input" in custom and "output" in custom:
        return Price(
            float(custom["input"]),
            float(custom["output"]),
            custom.get("cached"),
            custom.get("cache_write"),
        )
    info = lookup(model_id)
    return info.price if info is not None else None


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
