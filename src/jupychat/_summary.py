"""Writing the summary that stands in for older turns (see :mod:`jupychat._compaction`).

Design note: the turns to fold are written out as a plain transcript (tool calls and
results as one-line notes, context blocks by name only: their latest text rides along
verbatim anyway) and summarised with the previous summary, in pieces that fit the
summariser's window, so a summary never needs more window than the model has. The
summariser is the turn's model or ``compact_model``; its answer is capped at the summary
allowance. When it fails or says nothing, a mechanical summary (each turn's question and
the start of its answer) is used instead, so compaction itself never fails a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._window import context_window
from .errors import ChatError
from .events import Done, TextDelta
from .providers.base import ChatRequest
from .tokens import TokenCounter, counter_for
from .types import Message, Usage

if TYPE_CHECKING:
    from ._turnstate import Turn
    from .session import ChatSession

__all__ = ["SUMMARY_SYSTEM", "summarise"]

SUMMARY_SYSTEM = (
    "You condense conversations. Write a compact summary of the conversation you are "
    "given, for the same assistant to continue it later. Keep every fact, name, number, "
    "date, decision, preference and instruction the user gave, what was asked and what "
    "was answered, and open questions. Plain sentences, no preamble."
)


def _transcript(groups: Sequence[Sequence[Message]], counter: TokenCounter, cap: int) -> str:
    lines: list[str] = []
    for group in groups:
        for m in group:
            if m.role == "system":
                continue
            said = m.text.strip()
            for call in m.tool_calls:
                said += f"\n[called {call.name}({dict(call.arguments)})]"
            for result in m.tool_results:
                said += f"\n[{result.name} returned: {result.content}]"
            keys = [b.key for b in m.context_blocks]
            if keys:
                said = f"[context sent: {', '.join(keys)}]\n{said}"
            if counter.count(said) > cap:
                from .context.budget import cap_text

                said = cap_text(said, cap)
            lines.append(f"{m.role.title()}: {said}")
    return "\n\n".join(lines)


def _chunks(
    groups: Sequence[Sequence[Message]], plan: Any, limit: int
) -> list[list[Sequence[Message]]]:
    chunks: list[list[Sequence[Message]]] = [[]]
    used = 0
    for group in groups:
        size = plan.size(group)
        if chunks[-1] and used + size > limit:
            chunks.append([])
            used = 0
        chunks[-1].append(group)
        used += size
    return [c for c in chunks if c]


def _summariser(session: ChatSession, turn: Turn) -> Any:
    model = turn.options.get("compact_model")
    return turn.provider if not model else session._model_for(model, {})


def summarise(
    session: ChatSession,
    plan: Any,
    previous: Message | None,
    fold: Sequence[Sequence[Message]],
    allowance: int,
    turn: Turn,
) -> tuple[str, Usage, str]:
    """The summary of ``previous`` plus ``fold``; its usage and who wrote it."""
    provider = _summariser(session, turn)
    own = turn.options.get("context_window") if provider is turn.provider else None
    window = context_window(provider, own).tokens
    counter = counter_for(provider)
    limit = max(64, int(window * 0.6) - allowance - counter.count(SUMMARY_SYSTEM) - 64)
    text = previous.text if previous is not None else ""
    usage = Usage()
    for chunk in _chunks(fold, plan, limit) or [[]]:
        piece = _transcript(chunk, counter, max(32, limit // 2))
        prompt = (
            (f"Summary so far:\n{text}\n\n" if text else "")
            + f"Conversation to add:\n{piece}\n\n"
            + f"Write the updated summary in at most {allowance * 3 // 4} words."
        )
        request = ChatRequest(
            messages=[Message.of("user", prompt)],
            system=SUMMARY_SYSTEM,
            max_tokens=allowance,
            temperature=0.0,
            deadline=turn.deadline,
        )
        try:
            written, spent = _ask(provider, request)
        except ChatError:
            written, spent = "", Usage()
        usage = usage + spent
        if not written.strip():
            written = _mechanical(text, chunk)
        text = written.strip()
    from .context.budget import cap_text

    return cap_text(text, allowance), usage, provider.model_id


def _ask(provider: Any, request: ChatRequest) -> tuple[str, Usage]:
    parts: list[str] = []
    usage = Usage()
    events = provider.stream(request)
    try:
        for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, Done) and event.usage is not None:
                usage = event.usage
                if event.error:
                    raise ChatError(event.error)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
    return "".join(parts), usage


def _mechanical(previous: str, groups: Sequence[Sequence[Message]]) -> str:
    """A summary without a model: each turn's question and the start of its answer."""
    lines = [previous] if previous else []
    for group in groups:
        asked = next((m.text for m in group if m.role == "user"), "").strip()
        said = next((m.text for m in reversed(group) if m.role == "assistant"), "").strip()
        lines.append(f"- Asked: {asked[:200]} / Answered: {said[:160]}")
    return "\n".join(lines)
