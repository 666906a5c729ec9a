"""``%chat replay``: set the replay mode, re-ask a cell, and the diff view.

Design note: ``%chat replay on|auto|strict|off`` sets the mode for this kernel (over
``JUPYCHAT_REPLAY`` and ``%config ChatMagics.replay``); with no word it reports the mode
and what recordings are known. ``refresh`` makes the next ``%%chat`` cell ask the model
even when a recording matches, and its answer replaces that recording. ``diff`` reads the
saved notebook and, for each ``%%chat`` cell in page order, prepares its turn against the
variables as they are now (nothing is sent, no session is created or changed) and says
whether it would replay or miss, and why.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from ..errors import ChatError

if TYPE_CHECKING:
    from .magics import ChatMagics

__all__ = ["replay_command", "replay_diff"]

USAGE = "%chat replay takes on, off, auto, strict, refresh or diff"


def replay_command(magics: ChatMagics, rest: list[str]) -> str:
    """Run ``%chat replay REST``; returns the text to print (ChatError: one line)."""
    from .. import config
    from .replay import MODES, parse_mode, replay_mode, state_of

    state = state_of(magics.nbchat)
    if not rest:
        mode = replay_mode()
        known = len(state.recent) + len(state.load_file())
        return (
            f"replay: {mode} ({known} recordings known from this kernel and the notebook "
            "file; modes: on, off, auto, strict)"
        )
    word = rest[0].lower()
    if word == "refresh":
        state.refresh_next = True
        return "replay: the next %%chat cell asks the model and replaces its recording"
    if word == "diff":
        return replay_diff(magics)
    if word not in MODES:
        raise ChatError(f"replay mode {rest[0]!r} is not one of on, off, auto, strict; {USAGE}")
    mode = parse_mode(word)
    config.set_override("replay", mode)
    return (
        f"replay: {mode}"
        + {
            "auto": " (a matching cell shows its recording; a miss asks the model)",
            "strict": " (a matching cell shows its recording; a miss fails the cell)",
            "off": " (every cell asks the model; answers are still recorded)",
        }[mode]
    )


def replay_diff(magics: ChatMagics) -> str:
    """One line per ``%%chat`` cell of the saved notebook: would it replay, and if not, why."""
    from ..context.notebook_file import notebook_path
    from .replay import chat_cell, state_of

    path = notebook_path()
    if path is None or not path.exists():
        raise ChatError(
            "no saved notebook to compare with (JPY_SESSION_NAME names none); save the "
            "notebook, or run it from Jupyter"
        )
    import nbformat

    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as exc:
        raise ChatError(f"cannot read {path.name}: {type(exc).__name__}") from None
    state = state_of(magics.nbchat)
    state.load_file()
    lines: list[str] = []
    ordinal = 0
    hits = 0
    for index, cell in enumerate(nb.cells, 1):
        parsed = chat_cell(cell)
        if parsed is None:
            continue
        ordinal += 1
        verdict = _verdict(magics, state, parsed, ordinal, cell.get("id"))
        hits += verdict == "replays"
        lines.append(f"cell {index}: {verdict}")
    if not lines:
        return f"no %%chat cells in {path.name}"
    head = f"{path.name}: {hits} of {len(lines)} %%chat cells would replay"
    return "\n".join([head, *lines])


def _verdict(
    magics: ChatMagics, state: Any, parsed: tuple[str, str], ordinal: int, cell_id: Any
) -> str:
    from .replay import CellTurn, cell_source_digest

    line, body = parsed
    try:
        prepared = _prepare_quietly(magics, line, body)
    except (ChatError, ValueError) as exc:
        return f"cannot tell: {' '.join(str(exc).split())[:200]}"
    turn = CellTurn.__new__(CellTurn)  # no ordinal counted: nothing runs
    from .replay import inputs_of

    turn.chat, turn.prepared, turn.state = magics.nbchat, prepared, state
    turn.inputs = inputs_of(prepared, magics.ipython.user_ns)
    turn.source = cell_source_digest(line, body)
    turn.cell_id = cell_id if isinstance(cell_id, str) else None
    turn.hit, turn.ordinal = None, ordinal
    pinned = prepared.ask.model is not None or magics.nbchat.model_override is not None
    turn.model_pinned = pinned
    if state.find(turn.inputs, any_model=not pinned) is not None:
        return "replays"
    return f"would miss: {turn.why()}"


def _prepare_quietly(magics: ChatMagics, line: str, body: str) -> Any:
    """The cell's turn as it would be prepared now, changing no session."""
    from IPython.core.error import UsageError

    from .engine import Ask, Prepared, prepare

    try:
        words = shlex.split(line)
        args = magics.chat.parser.parse_args(words)
    except (ValueError, UsageError) as exc:
        raise ChatError(f"its options do not parse ({exc})") from None
    chat = magics.nbchat
    session = chat.session(args.session, switch=False) if not args.new else None
    ask = Ask(
        text=body,
        source="diff",
        session=args.session,
        context=[n for spec in args.context for n in spec.replace(",", " ").split()],
        project=args.project,
        model=args.model,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        cells=args.cells,
        schema=magics.ipython.user_ns.get(args.schema) if args.schema else None,
        as_frame=args.frame,
    )
    current = chat.current_name
    prepared = prepare(chat, ask)
    if chat.current_name != current:  # prepare switched sessions: switch back
        chat.session(current)
    if session is None:  # a --new cell is asked in a fresh session: no system prompt
        prepared = Prepared(
            ask, prepared.session, prepared.prompt, prepared.options, prepared.images
        )
    if args.system is not None:
        prepared.session = _with_system(prepared.session, args.system)
    return prepared


def _with_system(session: Any, system: str) -> Any:
    """A stand-in session with ``system`` as its prompt (the real one is not changed)."""

    class _Shadow:
        def __init__(self) -> None:
            self.system_prompt = system or None

        def __getattr__(self, name: str) -> Any:
            return getattr(session, name)

    return _Shadow()
