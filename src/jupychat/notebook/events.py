"""What a notebook turn tells its views and listeners.

Design note: :meth:`~jupychat.notebook.binding.NotebookChat.ask` and ``aask`` produce these
for every turn, whoever asked (a cell, the panel, ``%chat error``); the view that asked
gets them directly and every subscribed listener gets them too, so the panel shows cell
turns as they stream and a cell's output never depends on the panel. Each event names
the session it belongs to and its ``source``; ``turn`` is an id shared by one turn's events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._turnstate import Response
    from ..session import ChatSession
    from .engine import Footer

__all__ = [
    "Delta",
    "Failed",
    "Finished",
    "NotebookEvent",
    "SessionChanged",
    "Started",
    "Status",
]


@dataclass(frozen=True)
class NotebookEvent:
    session: ChatSession


@dataclass(frozen=True)
class Started(NotebookEvent):
    """A turn began: ``prompt`` is the question as sent (after ``{var}`` expansion)."""

    turn: int
    source: str
    prompt: str


@dataclass(frozen=True)
class Status(NotebookEvent):
    """A passing note while nothing streams yet (e.g. "loading the local model…")."""

    turn: int
    source: str
    text: str


@dataclass(frozen=True)
class Delta(NotebookEvent):
    """More answer text."""

    turn: int
    source: str
    text: str


@dataclass(frozen=True)
class Finished(NotebookEvent):
    """The turn is in history: complete, or stopped with its partial answer kept."""

    turn: int
    source: str
    response: Response
    footer: Footer
    stopped: bool = False
    about: Any = None  # the recorded cell the question was about (@error, @In[7]...)


@dataclass(frozen=True)
class Failed(NotebookEvent):
    """The turn left nothing in history (``error`` is one line; ``partial`` what streamed)."""

    turn: int
    source: str
    error: str
    partial: str = ""
    stopped: bool = False


@dataclass(frozen=True)
class SessionChanged(NotebookEvent):
    """The notebook's current session changed, or changed shape (cleared, renamed...)."""

    detail: Any = None
