"""``%%chat`` and ``%chat``: the notebook's way in.

``%%chat [options]`` sends the cell body as a prompt to the notebook's session and streams
the answer as Markdown into the cell output. ``%chat SUBCOMMAND`` manages the session
(``%chat help`` lists them). Settings come through traitlets, so
``%config ChatMagics.default_model = "ollama:llama3.2"`` works and feeds the same resolver
as ``JUPYCHAT_*`` variables and the config file.

Every failure shows as one line (``UsageError: ...``) with no traceback from jupychat, and
leaves the session as it was. Ctrl-C (or the stop button) during a stream stops it at once;
the partial answer stays visible and is kept in history, marked interrupted.
"""

from __future__ import annotations

import copy
import dataclasses
import shlex
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments
from traitlets import Bool, Enum, Float, Int, List, Unicode, observe

from .. import config
from ..errors import ChatError
from .binding import NotebookChat
from .commands import SessionCommands, whole_number
from .longcmds import LONG_HELP, LongSessionCommands
from .render import StreamRenderer, code_blocks

if TYPE_CHECKING:  # loaded with the first turn, keeping %load_ext light
    from .engine import Ask, Prepared
    from .events import NotebookEvent

__all__ = ["ChatMagics"]

_parsed_lines: dict[str, Any] = {}  # a %%chat line -> its parsed options (_parse_cell_args)

HELP = """\
Chat with a model from this notebook; each session remembers the conversation.

%%chat [options]        ask in a cell (the cell body is the prompt)
    -m/--model NAME       use this model for this cell only (e.g. openai:gpt-4o-mini, local)
    --new                 start a fresh session first
    --session NAME        use a named session of this notebook for this cell only
    --system TEXT         set the session's system prompt
    --context a,b         describe these variables to the model (also: @var in the prompt)
    --project             also describe the project: folder, README head, git branch/status
    --cells N             attach the last N executed cells with their outputs
    --no-stream           show the answer when it is complete
    --format F            markdown (default) | code (put the code in a new cell below) | text
    --out NAME            store the answer text in variable NAME
    --schema S            with --out: store the answer as data of the shape S describes
                          (S: a variable holding a dataclass, TypedDict, pydantic model or
                          JSON Schema dict); --frame: a DataFrame of such records
    --temperature T, --max-tokens N
  In the prompt, {var} inserts a variable's value (a DataFrame is described instead);
  write {{ and }} for literal braces. @var attaches a variable; @error the last error with
  its cell; @fig the latest figure (as an image for models that take images, and always as a
  text account); @In[7] cell 7 with its outputs.

%chat model [NAME]    show or switch the model
%chat models          providers and known models
%chat history         show the conversation
%chat clear           forget the conversation (the system prompt stays)
%chat new             start a fresh session
%chat sessions [TEXT] this notebook's and recent sessions, or those whose messages match TEXT
%chat use NAME|ID     switch to a named session of this notebook ('default': the unnamed
                      one), or to a stored session (a unique prefix of the id will do)
%chat fork [N]        continue in a copy holding the first N messages (default: all)
%chat merge ID...     continue in a new session merging this one with others, in time order
%chat rename TITLE    retitle the current session
%chat import PATH     load a session exported as .json (as a new session) and switch to it
%chat export PATH     save as .json, .md or .ipynb
%chat context [vars] [@error @fig @In[N]] [--cells N]
                      print exactly what would be sent (variables, cells, figures)
%chat cells [N]       the recently executed cells the assistant can be shown
%chat stats           tokens, cost, latency
%chat memory          the session's shared memory (memory set KEY VALUE, memory clear)
%chat config          resolved settings
%chat key PROVIDER    enter an API key (kept in this kernel's memory only)
%chat error           explain the last exception
%chat replay [MODE]   replay recorded answers: on | auto | strict (CI) | off; refresh
                      (re-ask the next %%chat cell, replacing its recording); diff (which
                      cells of the saved notebook would miss, and why)
%chat fix             ask for the fixed cell; offer it as that cell's new code (JupyterLab)
%chat ask TEXT        a one-line question
%chat panel           open the chat panel
%chat help            this text
"""
HELP += LONG_HELP + "\n"


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError(value)
    return number


@magics_class
class ChatMagics(SessionCommands, LongSessionCommands, Magics):
    """The ``%chat`` / ``%%chat`` magics; settings are configurable with ``%config``."""

    default_model = Unicode(
        None, allow_none=True, help="Model for new sessions, e.g. 'openai:gpt-4o-mini'."
    ).tag(config=True)
    resume = Enum(
        ["resume", "new"],
        "resume",
        help="On kernel start: resume the notebook's last session, or start anew.",
    ).tag(config=True)
    store = Unicode(None, allow_none=True, help="Path of the SQLite session store.").tag(
        config=True
    )
    temperature = Float(None, allow_none=True, help="Default sampling temperature.").tag(
        config=True
    )
    max_tokens = Int(None, allow_none=True, help="Default answer length limit.").tag(config=True)
    turn_timeout = Float(
        None,
        allow_none=True,
        help="Most seconds one turn may wait for the model (default 600; see turn_timeout).",
    ).tag(config=True)
    values = Enum(
        ["full", "aggregates", "schema"], "full", help="How much of your data the model may see."
    ).tag(config=True)
    exclude_vars = List(Unicode(), help="Variables never described to the model.").tag(config=True)
    exclude_columns = List(
        Unicode(), help="Columns ('col' or 'var.col', globs allowed) never shown to the model."
    ).tag(config=True)
    sample_rows = Int(3, help="Random example rows per DataFrame (0: none).").tag(config=True)
    engine_seconds = Float(
        5.0, help="Time budget of describing a Spark/Dask/DuckDB/Ibis/polars-lazy table."
    ).tag(config=True)
    stream_interval = Float(0.1, help="Seconds between two updates of a streaming answer.").tag(
        config=True
    )
    approve_code = Bool(True, help="Ask before the model runs any code in the kernel.").tag(
        config=True
    )
    cell_outputs = Bool(
        None, allow_none=True, help="Send executed cells' outputs, not only their code."
    ).tag(config=True)
    cell_images = Bool(
        None, allow_none=True, help="Send figures as images to models that take images."
    ).tag(config=True)
    cell_stream_chars = Int(
        None, allow_none=True, help="Characters of a cell's printed output sent (head and tail)."
    ).tag(config=True)
    vision = Unicode(
        None, allow_none=True, help="Whether the model takes images: auto (the table), true, false."
    ).tag(config=True)
    notebook_system_prompt = Unicode(
        None,
        allow_none=True,
        help="System prompt for capable models in this notebook ('' sends none).",
    ).tag(config=True)
    replay = Unicode(
        None, allow_none=True, help="Replay recorded answers: on/auto, strict (CI) or off."
    ).tag(config=True)

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.nbchat = NotebookChat(shell)
        self._cell_id: str | None = None
        self._sync_all()

    @property
    def ipython(self) -> InteractiveShell:
        """The shell these magics are registered on (never None once loaded)."""
        assert self.shell is not None, "ChatMagics needs an IPython shell"
        return self.shell

    # -- settings ----------------------------------------------------------------
    _MAPPED = (
        "default_model",
        "resume",
        "store",
        "temperature",
        "max_tokens",
        "turn_timeout",
        "values",
        "exclude_vars",
        "exclude_columns",
        "sample_rows",
        "engine_seconds",
        "cell_outputs",
        "cell_images",
        "cell_stream_chars",
        "vision",
        "notebook_system_prompt",
        "replay",
    )

    def _sync_all(self) -> None:
        for name in self._MAPPED:
            self._sync(name, getattr(self, name))

    @observe(*_MAPPED)
    def _on_change(self, change: Any) -> None:
        self._sync(change["name"], change["new"])

    @staticmethod
    def _sync(name: str, value: Any) -> None:
        key = "model" if name == "default_model" else name
        if name == "resume" and value == "resume":
            value = None  # the default: let env/file decide
        if name in ("values",) and value == "full":
            value = None
        if name in ("exclude_vars", "exclude_columns") and not value:
            value = None
        if name == "sample_rows" and value == 3:
            value = None
        if name == "engine_seconds" and value == 5.0:
            value = None
        config.set_override(key, value)

    def complete(self, _shell: Any, event: Any) -> list[str]:
        """Tab completion for ``%chat``: subcommands, then model names or session ids."""
        words = event.line.split()
        typing_new_word = event.line.endswith(" ")
        if len(words) <= 1 or (len(words) == 2 and not typing_new_word):
            return sorted(name[5:] for name in dir(self) if name.startswith("_cmd_"))
        command = words[1]
        if command == "model":
            from ..catalog import MODELS, suggested

            known = [f"{m.provider}:{m.name}" for m in MODELS]
            return list(dict.fromkeys([*suggested(), *known]))
        if command in ("use", "merge"):
            store = self.nbchat.store
            if store is None:
                return []
            return [item["id"][:8] for item in store.sessions(limit=20)]
        return []

    def pre_run_cell(self, info: Any) -> None:
        """IPython event: remember the running cell's id (re-runs replace their turn)."""
        self._cell_id = getattr(info, "cell_id", None)

    # -- the magic -----------------------------------------------------------------
    @magic_arguments()
    @argument("-m", "--model", help="model for this cell only")
    @argument("--new", action="store_true", help="start a fresh session first")
    @argument("--session", help="named session of this notebook")
    @argument("--system", help="set the system prompt")
    @argument("--context", action="append", default=[], help="variables to describe")
    @argument("--project", action="store_true", help="attach the project's context")
    @argument("--cells", type=_positive_int, help="attach the last N executed cells")
    @argument("--no-stream", action="store_true", help="show the answer when complete")
    @argument("--format", choices=["markdown", "code", "text"], default="markdown")
    @argument("--out", help="store the answer text in this variable")
    @argument("--schema", help="variable holding the shape of the data to store in --out")
    @argument("--frame", action="store_true", help="with --schema: a DataFrame of records")
    @argument("--temperature", type=float)
    @argument("--max-tokens", type=_positive_int)
    @line_cell_magic
    def chat(self, line: str, cell: str | None = None) -> Any:
        """Ask the notebook's chat session (``%chat help`` for everything)."""
        if cell is None:
            return self._line(line)
        return self._cell(line, cell)

    def _parse_cell_args(self, line: str) -> Any:
        """The ``%%chat`` line's options (a fresh copy of a line parsed before: parsing
        costs ~0.1 ms, and most cells repeat one of a few lines, often the empty one)."""
        parsed = _parsed_lines.get(line)
        if parsed is None:
            try:
                words = shlex.split(line)
            except ValueError as exc:
                raise UsageError(f"cannot parse the options {line!r}: {exc}") from None
            try:
                parsed = self.chat.parser.parse_args(words)
            except UsageError as exc:
                raise UsageError(f"{exc}; see %chat help") from None
            if len(_parsed_lines) >= 64:
                _parsed_lines.clear()
            _parsed_lines[line] = parsed
        fresh = copy.copy(parsed)  # lists (--context) copied too: the caller may change them
        for key, value in vars(parsed).items():
            if isinstance(value, list):
                setattr(fresh, key, list(value))
        return fresh

    def _cell(self, line: str, cell: str) -> None:
        args = self._parse_cell_args(line)
        if args.out:
            from .namespace import check_assignable

            try:
                check_assignable(self.shell, args.out, "--out")
            except ChatError as exc:
                raise UsageError(str(exc)) from None
        schema = self._schema(args)
        from .engine import Ask

        ask = Ask(
            text=cell,
            source="cell",
            session=args.session,
            new=args.new,
            system=args.system,
            context=[n for spec in args.context for n in spec.replace(",", " ").split()],
            project=args.project,
            model=args.model,
            temperature=args.temperature,
            max_tokens=args.max_tokens,
            cell_id=self._cell_id,
            execution_count=self.ipython.execution_count,
            cells=args.cells,
            schema=schema,
            as_frame=args.frame,
        )
        response = self._ask(ask, args.format, not args.no_stream, cell=(line, cell))
        if response is None:
            return
        if args.format == "code":
            blocks = code_blocks(response.text, "python")
            if blocks:
                self.ipython.set_next_input("\n\n".join(blocks), replace=False)
        if args.out:
            self.ipython.user_ns[args.out] = response.text if schema is None else response.data

    def _schema(self, args: Any) -> Any:
        """The object ``--schema`` names (``None`` without it); one-line errors."""
        if args.frame and not args.schema:
            raise UsageError("--frame needs --schema S (the shape of one record)")
        if not args.schema:
            return None
        if not args.out:
            raise UsageError("--schema needs --out NAME to store the result in")
        if args.schema not in self.ipython.user_ns:
            raise UsageError(
                f"no variable {args.schema!r} to take the schema from; define it first "
                "(a dataclass, TypedDict, pydantic model or JSON Schema dict)"
            )
        return self.ipython.user_ns[args.schema]

    def _ask(
        self,
        ask: Ask | Prepared,
        fmt: str = "markdown",
        stream: bool = True,
        cell: tuple[str, str] | None = None,
    ) -> Any:
        """Run one turn through the notebook's engine, rendered into this cell's output
        (``cell``: the ``%%chat`` line and body; its turn is recorded and may replay)."""
        with config.settled():  # one view of the config file for the whole turn
            return self._ask_settled(ask, fmt, stream, cell)

    def _ask_settled(
        self, ask: Ask | Prepared, fmt: str, stream: bool, cell: tuple[str, str] | None
    ) -> Any:
        from .engine import Prepared

        turn = None
        try:
            if cell is not None:
                from .replay import ensure_model

                ensure_model(self.nbchat)  # replay needs no model: a recorded one will do
            prepared = ask if isinstance(ask, Prepared) else self.nbchat.prepare(ask)
            if cell is not None:
                from .replay import begin

                turn = begin(self.nbchat, prepared, cell[0], cell[1], self._cell_id)
                if turn.hit is None:  # its recording's inputs: worked out while the model thinks
                    options = {**prepared.options, "while_waiting": turn.while_waiting}
                    prepared = dataclasses.replace(prepared, options=options)
        except ChatError as exc:
            raise UsageError(str(exc)) from None
        view = CellView(StreamRenderer(self.shell, fmt, self.stream_interval), stream, turn)
        try:
            if turn is not None and turn.hit is not None:
                return turn.replay(view)  # the recorded answer: no request
            return self.nbchat.ask(prepared, view)
        except ChatError as exc:
            raise UsageError(str(exc)) from None

    # -- line commands ---------------------------------------------------------------
    def _line(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot parse {line!r}: {exc}") from None
        if not words:
            return self._cmd_help([])
        command, rest = words[0].lower(), words[1:]
        handler: Callable[[list[str]], Any] | None = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise UsageError(
                f"unknown %chat command {command!r}; use %%chat for questions or %chat help"
            )
        try:
            return handler(rest)
        except ChatError as exc:
            raise UsageError(str(exc)) from None

    def _cmd_help(self, rest: list[str]) -> None:
        print(HELP)

    def _cmd_ask(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat ask needs a question, e.g. %chat ask what is a p-value?")
        self._cell("", " ".join(rest))

    def _cmd_context(self, rest: list[str]) -> None:
        """Exactly what the next turn would send: ``%chat context df @error --cells 2``."""
        from .engine import Ask
        from .namespace import preview_prepared

        names: list[str] = []
        mentions: list[str] = []
        cells: int | None = None
        words = list(rest)
        while words:
            word = words.pop(0)
            if word == "--cells":
                usage = "--cells needs a number, e.g. %chat context --cells 3"
                cells = whole_number(words.pop(0) if words else None, usage)
            elif word.startswith("@"):
                mentions.append(word)
            else:
                names.extend(n for n in word.replace(",", " ").split())
        text = " ".join(mentions) or "(what would be sent)"
        prepared = self.nbchat.prepare(Ask(text, source="preview", context=names, cells=cells))
        print(preview_prepared(prepared))

    def _cmd_cells(self, rest: list[str]) -> None:
        """The executed cells the assistant can be shown (``@In[N]``, ``--cells N``)."""
        from ..context.cells import cell_settings, cells_inventory
        from .cells import get_record
        from .namespace import context_settings

        record = get_record(self.ipython)
        count = 20
        if rest:
            usage = "%chat cells takes a number of cells, e.g. %chat cells 10"
            count = whole_number(rest[0], usage)
        text = cells_inventory(record, count, cell_settings(context_settings())) if record else ""
        print(text or "(no cells recorded yet: run a cell after %load_ext jupychat)")

    def _cmd_error(self, rest: list[str]) -> None:
        from .engine import Ask

        if self._recorded_error() is not None:
            prompt = "Explain briefly why the cell in @error failed, and show the fix."
            self._ask(Ask(prompt, source="error", meta={"kind": "error"}))
            return
        etype, value, tb = (
            getattr(sys, "last_type", None),
            getattr(sys, "last_value", None),
            getattr(sys, "last_traceback", None),
        )
        if value is None:
            raise UsageError("no exception to explain yet; run the failing cell first")
        text = "".join(traceback.format_exception(etype, value, tb))
        lines = text.splitlines()
        if len(lines) > 60:
            lines = [*lines[:10], "…", *lines[-50:]]
        source = _failing_cell(self.ipython)
        prompt = (
            "This cell raised an exception. Explain the cause briefly and show the fix.\n\n"
            f"```python\n{source}\n```\n\n```\n" + "\n".join(lines) + "\n```"
        )
        self._ask(Ask(prompt, source="error", expand=False, meta={"kind": "error"}))

    def _cmd_fix(self, rest: list[str]) -> None:
        """Ask for the fix of the last error; offer it back as that cell's new code."""
        from .engine import Ask
        from .fix import FIX_PROMPT, offer_fix

        if self._recorded_error() is None:
            raise UsageError(
                "no recorded error to fix yet: run the failing cell (after %load_ext jupychat)"
            )
        try:
            prepared = self.nbchat.prepare(Ask(FIX_PROMPT, source="fix", meta={"kind": "fix"}))
        except ChatError as exc:
            raise UsageError(str(exc)) from None
        response = self._ask(prepared)
        if response is None:
            return
        blocks = code_blocks(response.text, "python")
        if not blocks:
            print("(the answer holds no code to put back into the notebook)")
            return
        if offer_fix(self.ipython, prepared.cell, max(blocks, key=len)) == "below":
            print("the fixed code is in a new cell below")

    def _recorded_error(self) -> Any:
        from .cells import get_record

        record = get_record(self.ipython)
        return record.last_error() if record is not None else None

    def _cmd_replay(self, rest: list[str]) -> None:
        """``%chat replay [on|off|auto|strict|refresh|diff]`` (see :mod:`.replay_cmd`)."""
        from .replay_cmd import replay_command

        print(replay_command(self, rest))

    def _cmd_panel(self, rest: list[str]) -> Any:
        from .panel import open_panel

        return open_panel(self.nbchat)


class CellView:
    """Renders one turn's events into the cell that asked (``stream=False``: at the end)."""

    def __init__(self, renderer: StreamRenderer, stream: bool = True, turn: Any = None) -> None:
        from .events import Delta, Failed, Finished, Status  # with the first turn, not at load

        self.renderer = renderer
        self.stream = stream
        self.turn = turn  # a %%chat cell's replay.CellTurn: its recording goes in the output
        self._kinds = (Delta, Status, Finished, Failed)
        # more answer text (what a ``Delta`` event carries, without the event): straight
        # to the renderer, one call a piece (shown at the end only when not streaming)
        self.delta: Callable[[str], None] = renderer.add if stream else _ignore

    def __call__(self, event: NotebookEvent) -> None:
        delta, status, finished, failed = self._kinds
        if isinstance(event, delta):  # the common case first: one per streamed piece
            if self.stream:
                self.renderer.add(event.text)
        elif isinstance(event, status):
            self.renderer.status(event.text)
        elif isinstance(event, finished):
            metadata = self.turn.recorded(event) if self.turn is not None else None
            try:
                self.renderer.finish(event.response.text, event.footer.text(), metadata)
            finally:
                go = getattr(event.session, "_writes_go", None)
                if go is not None:  # the turn's store write, once the answer is shown
                    go()
        elif isinstance(event, failed):
            self.renderer.finish("", "stopped before any answer arrived" if event.stopped else "")


def _ignore(text: str) -> None:
    """A view's ``delta`` when the answer is shown only once complete."""


def _failing_cell(shell: Any) -> str:
    history = shell.user_ns.get("In") or []
    for source in reversed(history[:-1] if history else []):
        if source and not source.lstrip().startswith(
            ("%chat", "get_ipython().run_line_magic('chat'")
        ):
            return str(source)[-4000:]
    return "(cell source unavailable)"
