"""The chat panel's transcript: notebook events in, the view's message list out.

Design note: this is the panel's *view* of turns. It turns the engine's events (``Started``,
``Delta``, ``Finished``, ``Failed``) and a session's history into the entries the
``ChatView`` widget shows (small dicts of safe, pre-rendered HTML), keeps the source of each
answer's code blocks for "Copy" / "Insert below", and streams a live answer at most every
``interval`` seconds (plus once at the end) from any thread. It holds no turn logic and no
widgets other than the view it draws into; :class:`~.panel.ChatPanel` is the controller.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

from .engine import Footer
from .events import Delta, Failed, Finished, NotebookEvent, Started
from .panel_render import render_markdown

__all__ = ["Transcript", "one_line"]


def one_line(text: Any, limit: int = 300) -> str:
    """``text`` on one line, shortened with an ellipsis past ``limit`` characters."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


@dataclass
class _Live:
    """An answer being streamed into the view."""

    id: str
    turn: int
    text: str = ""
    label: str = ""
    pushed_at: float = 0.0
    timer: threading.Timer | None = None


class Transcript:
    """What the panel's ``ChatView`` shows, built from history and turn events.

    Parameters
    ----------
    view:
        The ``ChatView`` widget to draw into (``messages`` and ``live`` traits).
    interval:
        Seconds between two updates of a streaming answer.
    """

    def __init__(self, view: Any, interval: float = 0.1) -> None:
        self.view = view
        self.interval = interval
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._messages: list[dict[str, Any]] = []
        self._codes: dict[str, list[str]] = {}
        self._lives: dict[int, _Live] = {}  # by turn
        self._count: int | None = None  # messages of the session's history shown so far
        self._closed = False

    # -- whole conversations ------------------------------------------------------------
    def show(self, session: Any) -> None:
        """Show ``session``'s stored conversation (drops any live answer)."""
        with self._lock:
            self._messages, self._codes = [], {}
            self._count = len(session.history)
            for message in session.history:
                self._messages.extend(self._history_entry(message))
            self._stop_timers()
            self._lives.clear()
            self.view.live = {}
            self.view.messages = list(self._messages)

    def code_of(self, message_id: str, index: int) -> str | None:
        """The source of code block ``index`` in message ``message_id``."""
        codes = self._codes.get(message_id) or []
        return codes[index] if 0 <= index < len(codes) else None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_timers()

    # -- turn events --------------------------------------------------------------------
    def on_event(self, event: NotebookEvent) -> None:
        """Draw one turn event (events of other sessions are the caller's to filter)."""
        with self._lock:
            if isinstance(event, Started):
                label = "You" if event.source == "panel" else f"You · {event.source}"
                self._end_live(event.turn)
                self._append(self._user_entry(event.prompt, label))
                live = _Live(self._new_id(), event.turn)
                self._lives[event.turn] = live
                self._push(live, force=True)
            elif isinstance(event, Delta):
                streaming = self._lives.get(event.turn)
                if streaming is not None:
                    streaming.text += event.text
                    self._push(streaming)
            elif isinstance(event, Finished):
                self._end_live(event.turn)
                response = event.response
                if self._placed(event.session, response.messages):
                    self.show(event.session)  # a re-run cell kept its place: redraw in order
                    return
                entries = [self._note(f"called {c.name}") for c in response.tool_calls]
                entries.append(
                    self._answer_entry(response.text, event.footer.text(), about=event.about)
                )
                self._append(*entries)
                self.view.live = {}
            elif isinstance(event, Failed):
                self._end_live(event.turn)
                entries = []
                if event.partial.strip() and not event.stopped:
                    entries.append(self._answer_entry(event.partial, "not kept: the turn failed"))
                entries.append(
                    {"id": self._new_id(), "role": "error", "text": "⚠ " + one_line(event.error)}
                )
                self._append(*entries)
                self.view.live = {}

    def _placed(self, session: Any, new: Any) -> bool:
        """True when a finished turn did not simply add ``new`` at the end of what is
        shown (it replaced a turn, or went inside the conversation: issue 21)."""
        history = session.history
        before, self._count = self._count, len(history)
        if before is None or not new:
            return False
        if len(history) < len(new):
            return True
        tail = history[len(history) - len(new) :]
        return before + len(new) != len(history) or any(
            a is not b for a, b in zip(tail, new, strict=True)
        )

    # -- entries ------------------------------------------------------------------------
    def _history_entry(self, message: Any) -> list[dict[str, Any]]:
        if message.role == "user" and message.text.strip():
            meta = message.meta or {}
            in_cell = "execution_count" in meta or "cell_id" in meta
            source = meta.get("source") or ("cell" if in_cell else "panel")
            label = "You" if source == "panel" else f"You · {source}"
            return [self._user_entry(message.text, label)]
        if message.role == "assistant":
            out = []
            if message.text.strip():
                out.append(self._answer_entry(message.text, Footer.of([message]).text()))
            for call in message.tool_calls:
                out.append(self._note(f"called {call.name}"))
            return out
        return []

    def _new_id(self) -> str:
        return f"m{next(self._ids)}"

    def _user_entry(self, text: str, label: str = "You") -> dict[str, Any]:
        return {
            "id": self._new_id(),
            "role": "user",
            "label": label,
            "html": render_markdown(text).html,
        }

    def _answer_entry(
        self, text: str, foot: str, label: str = "", about: Any = None
    ) -> dict[str, Any]:
        entry_id = self._new_id()
        target = getattr(about, "label", None) if getattr(about, "code", None) else None
        rendered = render_markdown(text, actions=True, replace=target)
        self._codes[entry_id] = rendered.codes
        entry: dict[str, Any] = {
            "id": entry_id,
            "role": "assistant",
            "label": label,
            "html": rendered.html,
            "footer": foot,
        }
        if target:  # the front end finds that cell by its code to replace it
            entry["target"] = {"label": target, "code": about.code}
        return entry

    def _note(self, text: str) -> dict[str, Any]:
        return {"id": self._new_id(), "role": "note", "text": text}

    def _append(self, *entries: dict[str, Any]) -> None:
        self._messages.extend(entries)
        self.view.messages = list(self._messages)

    # -- the live answer ----------------------------------------------------------------
    def _push(self, live: _Live, force: bool = False) -> None:
        """Show the live answer now, or schedule it within ``interval`` seconds."""
        now = time.monotonic()
        if not force and now - live.pushed_at < self.interval:
            if live.timer is None:
                delay = self.interval - (now - live.pushed_at)
                live.timer = threading.Timer(delay, self._flush, args=(live,))
                live.timer.daemon = True
                live.timer.start()
            return
        if live.timer is not None:
            live.timer.cancel()
            live.timer = None
        live.pushed_at = now
        html = render_markdown(live.text).html if live.text else ""
        self.view.live = {
            "id": live.id,
            "role": "assistant",
            "html": html,
            "streaming": True,
            "label": live.label,
        }

    def _flush(self, live: _Live) -> None:
        with self._lock:
            live.timer = None
            if self._lives.get(live.turn) is live and not self._closed:
                self._push(live, force=True)

    def _end_live(self, turn: int) -> _Live | None:
        live = self._lives.pop(turn, None)
        if live is not None and live.timer is not None:
            live.timer.cancel()
            live.timer = None
        return live

    def _stop_timers(self) -> None:
        for live in self._lives.values():
            if live.timer is not None:
                live.timer.cancel()
                live.timer = None
