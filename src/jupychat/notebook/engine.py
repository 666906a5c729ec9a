"""The one way a notebook turn flows: a question plus options in, events out.

Design note: ``%%chat``, ``%chat ask``, ``%chat error`` and the chat panel are views. A
view turns what the user did into an :class:`Ask` and renders the :mod:`events <.events>`
that :meth:`NotebookChat.ask` (or ``aask``) produces; nothing else. The steps live here,
once:

1. :func:`prepare`: pick the session (named, new), expand the prompt (``{var}``, ``@var``),
   describe the variables it names (with the prompt, so columns it names get full
   statistics), add the project context, and build the turn's options — including the
   per-turn model, which is an argument of the turn and never a change to the session.
2. run the turn through the session's sync or async driver, turning its stream into
   events (``Started``, ``Status``, ``Delta``, ``Finished``/``Failed``), which go to the
   view that asked and to every listener (the panel mirrors cell turns and vice versa).
3. stop: Ctrl-C in a cell, :meth:`NotebookChat.stop` from anywhere (the panel's Stop); the
   partial answer is kept, marked interrupted, and reported as a finished turn.

Footer facts (model, tokens, cost, latency, flags) are computed here by :class:`Footer`,
so a cell and the panel say the same thing about the same answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import config
from ..errors import ChatError
from ..events import StatusEvent, TextDelta
from ..pricing import turn_cost
from ..types import Usage
from .attach import attach
from .events import Delta, Failed, Finished, Started, Status
from .namespace import describe_named, expand_prompt

if TYPE_CHECKING:
    from .._turnstate import Response
    from ..session import ChatSession
    from ..types import Message
    from .binding import NotebookChat
    from .events import NotebookEvent

__all__ = [
    "Ask",
    "Footer",
    "Prepared",
    "TurnRun",
    "first_answer_notes",
    "native_async",
    "prepare",
    "short_model",
]

EMPTY_PROMPT = "the cell is empty; write your question below %%chat"


@dataclass(frozen=True)
class Ask:
    """What a view asks for: one question and its per-turn options.

    Parameters
    ----------
    text:
        The question as the user typed it (``{var}`` and ``@var`` are expanded).
    source:
        Who asks: ``"cell"``, ``"panel"``, ``"error"``...; shown by views, stored in meta.
    session:
        A named session of this notebook for this turn only (``None``: the current one;
        ``%chat use NAME`` makes a named session current).
    new:
        Start a fresh session first.
    system:
        Set the session's system prompt first (``""`` clears it).
    context:
        Variable names to describe in full, besides those the prompt mentions.
    project:
        Also attach the project context (folder, README head, git, versions).
    model:
        A model for this turn only; the session keeps its own.
    temperature, max_tokens:
        Per-turn request options (default: the resolved settings).
    cell_id, execution_count:
        The cell asking: a re-run cell (same ``cell_id``) replaces its earlier turn.
    cells:
        Attach the last N executed cells with their outputs (``--cells N``).
    meta:
        More fields stored on the user message.
    expand:
        Apply ``{var}``/``@var`` to ``text`` (off for prompts jupychat wrote itself).
    schema, as_frame:
        Ask for data of this shape (a structured turn, :mod:`jupychat.structured`); the
        Response's ``data`` holds it (a DataFrame of records with ``as_frame``).
    """

    text: str
    source: str = "cell"
    session: str | None = None
    new: bool = False
    system: str | None = None
    context: Sequence[str] = ()
    project: bool = False
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    cell_id: str | None = None
    execution_count: int | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    expand: bool = True
    cells: int | None = None
    schema: Any = None
    as_frame: bool = False


@dataclass
class Prepared:
    """An :class:`Ask` made ready to run: the session, the final prompt and options.

    ``images`` are image parts sent with the prompt (figures, for a model that takes
    images); ``cell`` is the recorded cell the question is about (``@error``, ``@In[7]``,
    ``@fig``), for views that offer to replace it.
    """

    ask: Ask
    session: ChatSession
    prompt: str
    options: dict[str, Any]
    images: list[Any] = field(default_factory=list)
    cell: Any = None

    @property
    def content(self) -> Any:
        """What the session is asked: the prompt, with any images after it."""
        if not self.images:
            return self.prompt
        from ..types import Text

        return [Text(self.prompt), *self.images]


def prepare(chat: NotebookChat, ask: Ask) -> Prepared:
    """Resolve everything a turn needs before any request is made (one-line errors)."""
    if ask.schema is not None:  # an unusable schema fails here, before anything is sent
        from ..structured import compile_schema

        compile_schema(ask.schema, as_frame=ask.as_frame)
    # --session NAME is for this turn only (as -m is); --new alone starts the current one anew
    own = ask.session is None
    if ask.new:
        session = chat.new_session(ask.session, switch=own)
    else:
        session = chat.session(ask.session, switch=own)
    if ask.system is not None:
        session.system_prompt = ask.system or None
    user_ns = chat.shell.user_ns
    if ask.expand:
        prompt, mentioned = expand_prompt(ask.text.strip(), user_ns, list(ask.context))
    else:
        prompt, mentioned = ask.text.strip(), list(ask.context)
    if not prompt.strip():
        raise ChatError(EMPTY_PROMPT)
    model_id = ask.model or session.model_id
    notebook = attach(chat.shell, prompt, cells=ask.cells, model_id=model_id, user_ns=user_ns)
    # @error, @fig, @In[7] name the notebook, not variables of those names
    mentioned = [n for n in mentioned if n not in notebook.names or n in ask.context]
    context: dict[str, Any] = describe_named(user_ns, mentioned, prompt) if mentioned else {}
    context.update(notebook.context)
    if ask.project:
        from ..context import project_context

        context["project"] = project_context()
    meta: dict[str, Any] = {"source": ask.source, **ask.meta}
    options: dict[str, Any] = {}
    if ask.execution_count is not None:
        meta["execution_count"] = ask.execution_count
    if ask.source == "cell":
        # a re-run cell replaces its earlier turn (once the new one has succeeded) in its
        # place, and its request carries only the turns above it (see .order)
        options |= chat.cell_order.turn_options(ask, session, meta)
    elif ask.cell_id:
        cell_id = meta["cell_id"] = ask.cell_id
        options["replace"] = lambda m: m.meta.get("cell_id") == cell_id
    if ask.model:
        options["model"] = ask.model
    temperature = ask.temperature if ask.temperature is not None else config.resolve("temperature")
    options |= {
        "temperature": temperature,
        "max_tokens": ask.max_tokens or config.resolve("max_tokens"),
        "context": context or None,
        "meta": meta,
    }
    return Prepared(ask, session, prompt, options, notebook.images, notebook.cell)


# -- footers ----------------------------------------------------------------------------


def short_model(model: str | None) -> str:
    """``openai-compatible:m@http://host:8000/v1`` → ``openai-compatible:m@host:8000``."""
    if not model:
        return "?"
    name, sep, url = model.partition("@")
    if not sep or "://" not in url:
        return model
    return f"{name}@{url.split('://', 1)[1].split('/', 1)[0]}"


@dataclass(frozen=True)
class Footer:
    """What a view says under an answer: who answered, tokens, cost, time, and flags."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cost: float | None = None
    latency: float = 0.0
    interrupted: bool = False
    cut: bool = False
    note: str = ""
    window: str = ""  # how full the context window was: "window 63%" (or "… summarised")
    estimated: bool = False  # the tokens are estimates (stopped before usage arrived)

    @classmethod
    def of(
        cls, messages: Sequence[Message], latency: float | None = None, note: str = ""
    ) -> Footer:
        """The footer of the assistant messages among ``messages`` (one turn's, or one)."""
        answers = [m for m in messages if m.role == "assistant"]
        usage = sum((m.usage or Usage() for m in answers), Usage())
        last = answers[-1] if answers else None
        if latency is None:
            latency = sum(float((m.meta or {}).get("latency") or 0.0) for m in answers)
        return cls(
            model=short_model(last.model if last else None),
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
            cost=turn_cost(answers),
            latency=latency,
            interrupted=bool(last and last.interrupted),
            cut=bool(last and last.finish_reason == "length"),
            note=note,
            window=_window_note(last),
            estimated=any((m.meta or {}).get("usage") == "estimated" for m in answers),
        )

    @classmethod
    def of_response(cls, response: Response, note: str = "") -> Footer:
        footer = cls.of(response.messages, response.latency, note)
        if response.model and footer.model == "?":
            footer = cls(**{**footer.__dict__, "model": short_model(response.model)})
        return footer

    def text(self) -> str:
        """``model · 123 in / 45 out · $0.0001 · 1.2s`` (and any flags)."""
        bits = [self.model]
        if self.input_tokens or self.output_tokens:
            cached = f" ({self.cached_tokens:,} cached)" if self.cached_tokens else ""
            about = "~" if self.estimated else ""
            bits.append(
                f"{about}{self.input_tokens:,} in{cached} / {about}{self.output_tokens:,} out"
            )
        if self.cost is not None:
            bits.append(f"${self.cost:.4f}" if self.cost else "$0")
        if self.latency:
            bits.append(f"{self.latency:.1f}s")
        if self.interrupted:
            bits.append("interrupted")
        if self.window:
            bits.append(self.window)
        if self.cut:
            bits.append("cut at max tokens (%chat continue)")
        if self.note:
            bits.append(self.note)
        return " · ".join(bits)


def _window_note(message: Message | None) -> str:
    """``window 63%`` (``, older turns summarised``) from an answer's meta, or ""."""
    window = (message.meta or {}).get("window") if message is not None else None
    if not isinstance(window, dict) or not window.get("size"):
        return ""
    share = f"window {int(window.get('used', 0)) / int(window['size']):.0%}"
    return share + (", older turns summarised" if window.get("summarised") else "")


# -- running a turn ----------------------------------------------------------------------

View = Callable[["NotebookEvent"], None]
_ids = itertools.count(1)


class TurnRun:
    """One turn being run: turns the session's stream into events for views and listeners."""

    def __init__(self, chat: NotebookChat, prepared: Prepared, view: View | None) -> None:
        self.chat = chat
        self.prepared = prepared
        self.session = prepared.session
        self.source = prepared.ask.source
        self.view = view
        self.id = next(_ids)
        self.partial: list[str] = []
        self.before = self.session.last_response
        self.cancel: Callable[[], Any] | None = None  # set by the async driver
        self.stop_requested = False
        # a view may take streamed text directly (``view.delta(text)``): a cell's answer
        # then costs no event object per piece while no listener wants one (the list of
        # listeners is the notebook's own, looked at for each piece)
        self._view_delta: Callable[[str], None] | None = getattr(view, "delta", None)
        self._listeners = chat.listeners

    def stop(self) -> None:
        """Stop at once, keeping what arrived (any thread)."""
        self.stop_requested = True
        self.session.stop()
        if self.cancel is not None:
            self.cancel()

    def emit(self, event: NotebookEvent) -> None:
        if self.view is not None:
            self.view(event)
        self.chat.emit(event)

    def start(self) -> None:
        self.emit(Started(self.session, self.id, self.source, self.prepared.prompt))

    def item(self, item: Any) -> None:
        """One item of the session's event stream."""
        if self.stop_requested:  # a stop that came before the session's turn had started
            self.session.stop()

        if isinstance(item, TextDelta):
            self.partial.append(item.text)
            if self._view_delta is not None and not self._listeners:
                self._view_delta(item.text)
            else:
                self.emit(Delta(self.session, self.id, self.source, item.text))
        elif isinstance(item, StatusEvent):
            self.emit(Status(self.session, self.id, self.source, item.text))

    def finished(self, response: Response | None, stopped: bool = False) -> Response | None:
        if response is None:
            self.emit(Failed(self.session, self.id, self.source, "no answer came back"))
            return None
        notes = ["stopped"] if stopped else []
        notes += first_answer_notes(self.chat, self.prepared)
        footer = Footer.of_response(response, note=" · ".join(notes))
        self.emit(
            Finished(
                self.session, self.id, self.source, response, footer, stopped, self.prepared.cell
            )
        )
        return response

    def stopped(self) -> Response | None:
        """The user stopped the turn: report the partial answer kept, if any."""
        response = self.session.last_response
        if response is not None and response is not self.before and response.interrupted:
            return self.finished(response, stopped=True)
        self.emit(
            Failed(
                self.session,
                self.id,
                self.source,
                "stopped before any answer arrived",
                "".join(self.partial),
                stopped=True,
            )
        )
        return None

    def failed(self, error: BaseException | str) -> None:
        self.emit(
            Failed(self.session, self.id, self.source, _one_line(error), "".join(self.partial))
        )


def first_answer_notes(chat: NotebookChat, prepared: Prepared) -> list[str]:
    """Under a session's first answer: why its model was chosen (when the default
    resolution chose it) and, for the tiny embedded model, the one-line hint."""
    session = prepared.session
    if session.id in chat.noted:
        return []
    chat.noted.add(session.id)
    from ..prompts import TINY_HINT
    from ..providers.registry import reason_for

    model_id = prepared.ask.model or session.model_id
    reason = reason_for(model_id) if not prepared.ask.model else None
    notes = [reason] if reason and reason != "your model setting" else []
    if prepared.ask.model is None and getattr(session.provider, "tiny", False):
        notes.append(TINY_HINT)
    return notes


def _one_line(error: BaseException | str, limit: int = 400) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def native_async(provider: Any) -> bool:
    """True when the provider streams with real async I/O (cancelling closes the request)."""
    from ..providers.base import Provider

    method = getattr(type(provider), "astream", None)
    return method is not None and method is not Provider.astream
