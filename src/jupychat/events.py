"""Stream events.

Providers turn one request into a stream of these; the session adds ``ToolResultEvent``
when it runs a tool and ``StepDone`` between steps of a tool loop. ``Done`` closes one
model call and carries its usage and finish reason.

A provider's stream is, in order: any number of ``TextDelta`` / ``ReasoningDelta`` /
``ToolCallDelta`` events, then one ``ToolCallComplete`` per tool call (arguments parsed),
then exactly one ``Done``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .types import ToolCall, ToolResult, Usage

__all__ = [
    "Done",
    "Event",
    "ReasoningDelta",
    "StatusEvent",
    "TextDelta",
    "ToolCallComplete",
    "ToolCallDelta",
    "ToolResultEvent",
]


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of reasoning text (models that stream it separately)."""

    text: str


@dataclass(frozen=True)
class ToolCallDelta:
    """A piece of a streamed tool call: ``arguments`` is a fragment of JSON text."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(frozen=True)
class ToolCallComplete:
    """A tool call whose arguments have been fully received and parsed."""

    call: ToolCall


@dataclass(frozen=True)
class ToolResultEvent:
    """The session ran a tool (emitted by the session, not by providers)."""

    result: ToolResult


@dataclass(frozen=True)
class StatusEvent:
    """A passing note from the provider while nothing streams yet ("loading the model…").

    Not part of the answer: the turn ignores it; front ends may show it."""

    text: str


@dataclass(frozen=True)
class Done:
    """One model call finished.

    ``provider_data`` is what the provider needs back in later requests (thinking
    signatures, opaque blocks, reasoning fields; see :mod:`jupychat.providers._replay`):
    the turn keeps it in the message's ``meta``. ``error`` is set when the provider
    reported an error in the stream after part of the answer had arrived: the turn keeps
    that part, marked interrupted, with ``finish_reason`` (the provider's own reason when
    it gave one) and the error in its ``meta``.
    """

    usage: Usage | None = None
    finish_reason: str | None = None
    model: str | None = None
    provider_data: Mapping[str, Any] | None = None
    error: str | None = None


Event = (
    TextDelta
    | ReasoningDelta
    | ToolCallDelta
    | ToolCallComplete
    | ToolResultEvent
    | StatusEvent
    | Done
)
