"""Values that make up a conversation: messages (turns), their content parts, usage.

Design note: everything here is a frozen dataclass and a plain value. No database ids,
no provider objects, no callables: a ``Message`` can be copied, compared, serialised with
``to_dict`` and rebuilt with ``from_dict`` without losing anything. The store maps these
values to rows; providers map them to wire formats.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Literal

__all__ = [
    "ContextBlock",
    "Image",
    "Message",
    "Part",
    "Role",
    "Text",
    "ToolCall",
    "ToolResult",
    "Usage",
    "now_iso",
    "part_from_dict",
]

Role = Literal["system", "user", "assistant", "tool"]
ROLES: tuple[str, ...] = ("system", "user", "assistant", "tool")


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string with microseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Text:
    """Plain text written by a person or a model."""

    text: str
    type: Literal["text"] = field(default="text", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ContextBlock:
    """Context sent to the model with a user message (a variable, a project summary...).

    ``key`` names what it describes, so that a later turn re-sends it only when its text
    (``digest``) changed. Shown to the model as text; not part of ``Message.text``.
    """

    key: str
    text: str
    type: Literal["context"] = field(default="context", init=False)

    @cached_property
    def digest(self) -> str:
        """16 hex digits of SHA-256 of the text (made once per block: every turn compares
        the history's blocks with the new ones)."""
        import hashlib

        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "context", "key": self.key, "text": self.text}


@dataclass(frozen=True)
class Image:
    """An image, base64-encoded."""

    data: str
    media_type: str = "image/png"
    type: Literal["image"] = field(default="image", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "image", "data": self.data, "media_type": self.media_type}


@dataclass(frozen=True)
class ToolCall:
    """The model asks for a tool to run with ``arguments``."""

    id: str
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    type: Literal["tool_call"] = field(default="tool_call", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "tool_call",
            "id": self.id,
            "name": self.name,
            "arguments": dict(self.arguments),
        }


@dataclass(frozen=True)
class ToolResult:
    """What a tool returned (or the error it raised, with ``is_error``)."""

    tool_call_id: str
    name: str
    content: str
    is_error: bool = False
    type: Literal["tool_result"] = field(default="tool_result", init=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "tool_result",
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "content": self.content,
            "is_error": self.is_error,
        }


Part = Text | ContextBlock | Image | ToolCall | ToolResult


def part_from_dict(data: Mapping[str, Any]) -> Part:
    """Rebuild a content part from ``Part.to_dict()`` output."""
    kind = data.get("type")
    if kind == "text":
        return Text(str(data["text"]))
    if kind == "context":
        return ContextBlock(str(data["key"]), str(data["text"]))
    if kind == "image":
        return Image(str(data["data"]), str(data.get("media_type", "image/png")))
    if kind == "tool_call":
        return ToolCall(str(data["id"]), str(data["name"]), dict(data.get("arguments") or {}))
    if kind == "tool_result":
        return ToolResult(
            str(data["tool_call_id"]),
            str(data.get("name", "")),
            str(data["content"]),
            bool(data.get("is_error", False)),
        )
    raise ValueError(f"unknown content part type {kind!r}")


@dataclass(frozen=True)
class Usage:
    """Token counts for one model call (or a sum of them).

    ``cached_tokens`` are input tokens served from the provider's prompt cache (a part
    of ``input_tokens``); ``cache_write_tokens`` were written to it.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cached_tokens": self.cached_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage | None:
        if data is None:
            return None
        return cls(
            int(data.get("input_tokens", 0) or 0),
            int(data.get("output_tokens", 0) or 0),
            int(data.get("cached_tokens", 0) or 0),
            int(data.get("cache_write_tokens", 0) or 0),
        )


@dataclass(frozen=True)
class Message:
    """One turn of the conversation.

    Parameters
    ----------
    role:
        ``"system"``, ``"user"``, ``"assistant"`` or ``"tool"``.
    content:
        The content parts, in order.
    created_at:
        ISO 8601 UTC timestamp.
    model:
        ``"provider:model"`` that wrote an assistant message.
    usage:
        Tokens of the model call that produced an assistant message.
    finish_reason:
        Why the model stopped (``"stop"``, ``"length"``, ``"tool_calls"``, ...).
    reasoning:
        Reasoning text the model returned separately, if any.
    interrupted:
        True when a streamed answer was stopped before it finished.
    meta:
        Small JSON-able extras: latency, time to first token, notebook cell id, ...
        On assistant messages a provider may add ``"provider_data"``: what that
        provider needs back in later requests and our parts cannot hold (Anthropic's
        content blocks as received, with thinking signatures, redacted thinking and
        server-tool blocks; a Chat Completions server's ``reasoning_content`` /
        ``reasoning`` / ``reasoning_details``), tagged with the wire format and API
        origin it came from and sent back only there (see
        :mod:`jupychat.providers._replay`). ``"error"`` holds the provider's message
        when it ended the answer with an error after part of it had arrived (the message
        is then ``interrupted``); ``"refusal"`` is true when the model refused.
    """

    role: Role
    content: tuple[Part, ...] = ()
    created_at: str = field(default_factory=now_iso)
    model: str | None = None
    usage: Usage | None = None
    finish_reason: str | None = None
    reasoning: str | None = None
    interrupted: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}; got {self.role!r}")
        if not isinstance(self.content, tuple):
            object.__setattr__(self, "content", tuple(self.content))

    @classmethod
    def of(cls, role: Role, content: str | Part | Iterable[Part], **kwargs: Any) -> Message:
        """Build a message from a string, one part, or several parts."""
        if isinstance(content, str):
            parts: tuple[Part, ...] = (Text(content),)
        elif isinstance(content, (Text, ContextBlock, Image, ToolCall, ToolResult)):
            parts = (content,)
        else:
            parts = tuple(content)
        return cls(role=role, content=parts, **kwargs)

    @property
    def text(self) -> str:
        """The text parts joined (context blocks and tool parts are left out)."""
        return "".join(p.text for p in self.content if isinstance(p, Text))

    @property
    def tool_calls(self) -> list[ToolCall]:
        return [p for p in self.content if isinstance(p, ToolCall)]

    @property
    def tool_results(self) -> list[ToolResult]:
        return [p for p in self.content if isinstance(p, ToolResult)]

    @property
    def context_blocks(self) -> list[ContextBlock]:
        return [p for p in self.content if isinstance(p, ContextBlock)]

    def replace(self, **changes: Any) -> Message:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "role": self.role,
            "content": [p.to_dict() for p in self.content],
            "created_at": self.created_at,
        }
        if self.model is not None:
            data["model"] = self.model
        if self.usage is not None:
            data["usage"] = self.usage.to_dict()
        if self.finish_reason is not None:
            data["finish_reason"] = self.finish_reason
        if self.reasoning is not None:
            data["reasoning"] = self.reasoning
        if self.interrupted:
            data["interrupted"] = True
        if self.meta:
            data["meta"] = dict(self.meta)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Message:
        content = data.get("content", ())
        if isinstance(content, str):
            parts: tuple[Part, ...] = (Text(content),)
        else:
            parts = tuple(part_from_dict(p) for p in content)
        return cls(
            role=data["role"],
            content=parts,
            created_at=str(data.get("created_at") or now_iso()),
            model=data.get("model"),
            usage=Usage.from_dict(data.get("usage")),
            finish_reason=data.get("finish_reason"),
            reasoning=data.get("reasoning"),
            interrupted=bool(data.get("interrupted", False)),
            meta=dict(data.get("meta") or {}),
        )
