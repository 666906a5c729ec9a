"""Statistics of a conversation: tokens, turns, tool calls, latency and cost.

Design note: everything here is derived from history alone (each assistant message
carries its usage, model, latency and time to first token in ``meta``), so a restored,
resumed or forked session reports the same figures as the one that ran the turns.
Synthetic messages (the note added when a turn hits ``max_steps``) are not model
answers and do not count. Cost comes from :func:`jupychat.pricing.turn_cost` and is
``None`` when any turn's price is unknown.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .types import Message, Usage

__all__ = ["group_turns", "session_stats"]


def group_turns(history: Iterable[Message]) -> list[list[Message]]:
    """History grouped by turn: each group starts at a user message.

    Messages before the first user message (a system message) form a group of their own.
    """
    groups: list[list[Message]] = []
    for message in history:
        if message.role == "user" or not groups:
            groups.append([])
        groups[-1].append(message)
    return groups


def _turn_stats(index: int, answers: Sequence[Message]) -> dict[str, Any]:
    from . import pricing  # its price table is loaded only when asked for

    usage = sum((m.usage or Usage() for m in answers), Usage())
    ttfts = [m.meta["ttft"] for m in answers if "ttft" in m.meta]
    return {
        "turn": index,
        "model": answers[-1].model,
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
        "tool_calls": sum(len(m.tool_calls) for m in answers),
        "latency": sum(float(m.meta.get("latency", 0.0)) for m in answers),
        "ttft": ttfts[0] if ttfts else None,
        "cost": pricing.turn_cost(answers),
        "interrupted": any(m.interrupted for m in answers),
        "estimated": any(m.meta.get("usage") == "estimated" for m in answers),
    }


def session_stats(history: Sequence[Message], model_id: str) -> dict[str, Any]:
    """Totals and per-turn figures for ``history`` (see :meth:`ChatSession.stats`).

    Parameters
    ----------
    history:
        The conversation.
    model_id:
        ``"provider:model"`` the session uses now (reported as ``model``).
    """
    per_turn: list[dict[str, Any]] = []
    for index, group in enumerate(group_turns(history), 1):
        answers = [m for m in group if m.role == "assistant" and not m.meta.get("synthetic")]
        if answers:
            per_turn.append(_turn_stats(index, answers))
    totals = {
        key: sum(t[key] for t in per_turn)
        for key in (
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cache_write_tokens",
            "tool_calls",
        )
    }
    latencies = [t["latency"] for t in per_turn]
    ttfts = [t["ttft"] for t in per_turn if t["ttft"] is not None]
    costs = [t["cost"] for t in per_turn]
    answers = [m for m in history if m.role == "assistant" and "window" in m.meta]
    summaries = [m for m in history if m.role == "system" and "summary" in m.meta]
    return {
        "model": model_id,
        "window": dict(answers[-1].meta["window"]) if answers else None,
        "summaries": len(summaries),
        "summary_tokens": sum((m.usage or Usage()).total_tokens for m in summaries),
        "turns": len(per_turn),
        "messages": len(history),
        **totals,
        "total_tokens": totals["input_tokens"] + totals["output_tokens"],
        "latency_total": sum(latencies),
        "latency_mean": sum(latencies) / len(latencies) if latencies else None,
        "ttft_mean": sum(ttfts) / len(ttfts) if ttfts else None,
        "cost": None if any(c is None for c in costs) else sum(costs),
        "cost_known": all(c is not None for c in costs),
        "estimated_turns": sum(1 for t in per_turn if t["estimated"]),
        "per_turn": per_turn,
    }
