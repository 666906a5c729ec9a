"""Structured output by forced tool use: the tool call's input is the answer.

Design note: where an API has no JSON-schema answer mode (Anthropic), structured output
is a tool whose input schema is the wanted schema, and ``tool_choice`` forces the model
to call it. The session should not see a tool call it has to run: these wrappers turn
that one call's events into the answer's text (its input JSON, streamed as it arrives)
and its ``tool_calls`` finish into ``stop``, and pass everything else through. Closing a
wrapper closes the stream it wraps at once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

from jupychat.events import Done, Event, TextDelta, ToolCallComplete, ToolCallDelta

__all__ = ["aanswer_from_tool", "answer_from_tool"]


class _ToolAnswer:
    """Turns the forced tool call of a structured-output request into the answer's text."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.index: int | None = None  # the forced call's index among the tool calls
        self.streamed = False
        self.other_calls = False

    def convert(self, event: Event) -> list[Event]:
        if isinstance(event, ToolCallDelta):
            if event.name is not None and self.index is None and event.name == self.name:
                self.index = event.index
            if event.index != self.index:
                return [event]
            if event.arguments:
                self.streamed = True
                return [TextDelta(event.arguments)]
            return []
        if isinstance(event, ToolCallComplete):
            if event.call.name != self.name:
                self.other_calls = True
                return [event]
            if self.streamed:
                return []
            return [TextDelta(json.dumps(dict(event.call.arguments), ensure_ascii=False))]
        if isinstance(event, Done) and event.finish_reason == "tool_calls" and not self.other_calls:
            return [replace(event, finish_reason="stop")]
        return [event]


def answer_from_tool(events: Iterator[Event], name: str) -> Iterator[Event]:
    """``events`` with the call of tool ``name`` turned into the answer's text."""
    answer = _ToolAnswer(name)
    try:
        for event in events:
            yield from answer.convert(event)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


async def aanswer_from_tool(events: AsyncIterator[Event], name: str) -> AsyncIterator[Event]:
    """Async twin of :func:`answer_from_tool`."""
    answer = _ToolAnswer(name)
    try:
        async for event in events:
            for converted in answer.convert(event):
                yield converted
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
