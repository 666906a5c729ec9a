"""The notebook's variables as the assistant sees them.

Prompt syntax, applied outside fenced/inline code only:

- ``{name}`` inserts the value of a short simple variable (str, number, bool, a small list
  or dict); for anything larger (a DataFrame, an array...) it writes `` `name` `` and
  attaches the variable's full description as context. ``{{`` and ``}}`` are literal braces.
- ``@name`` attaches ``name``'s full description (the text is left as written).

Every session bound to a notebook gets: an inventory of the user's variables as standing
context (one line each, re-sent only when it changes), full descriptions of the variables a
turn names, the read-only data tools, and a ``run_python`` tool that asks the user first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .. import config
from .._memo import PrefixMemo
from ..context._resolved import remembered
from ..context.cells import cell_settings, cells_inventory
from ..context.settings import ContextSettings
from ..context.turn import inventory_context, mentioned_names, variables_context
from ..errors import ChatError
from ..secrets import known
from .cells import get_record

__all__ = [
    "attach_notebook_context",
    "context_settings",
    "describe_named",
    "expand_prompt",
    "export_session",
    "notebook_tools",
    "preview_prepared",
    "variable_lines",
    "visible_namespace",
]

CODE_SPAN = re.compile(r"(```.*?(?:```|\Z)|`[^`\n]*`)", re.DOTALL)
_BRACE_RE = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SIMPLE = (str, int, float, bool, type(None))
_INLINE_LIMIT = 400


def _inline(value: Any) -> str | None:
    """The text to insert for ``{name}``, or None when it should be described instead."""
    if isinstance(value, _SIMPLE):
        text = str(value)
    elif isinstance(value, (list, tuple, dict, set)) and len(value) <= 50:
        text = repr(value)
    else:
        return None
    return text if len(text) <= _INLINE_LIMIT else None


def expand_prompt(
    text: str, user_ns: dict[str, Any], explicit: list[str] | None = None
) -> tuple[str, list[str]]:
    """Apply ``{name}``/``@name`` syntax; returns the prompt and the names to describe."""
    names: list[str] = []
    for name in explicit or ():
        if name not in user_ns:
            raise ChatError(f"unknown variable {name!r} in --context; define it first")
        names.append(name)

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        name = match.group(1)
        if name not in user_ns:
            raise ChatError(
                f"unknown variable {{{name}}} in the prompt; define it, or write {{{{{name}}}}} "
                "for literal braces"
            )
        inline = _inline(user_ns[name])
        if inline is not None:
            return inline
        names.append(name)
        return f"`{name}`"

    pieces = []
    for i, piece in enumerate(CODE_SPAN.split(text)):
        if i % 2:  # code: left exactly as written
            pieces.append(piece)
            continue
        pieces.append(_BRACE_RE.sub(substitute, piece))
        names.extend(mentioned_names(piece, user_ns))
    return "".join(pieces), list(dict.fromkeys(names))


_IPYTHON_CACHE_RE = re.compile(r"_+|_i+|_i\d+|_\d+|_[iod]h|_ii+|_sh")


def check_assignable(shell: Any, name: str, option: str) -> None:
    """Raise a one-line ChatError unless ``name`` may receive a value from jupychat.

    Refused: non-identifiers, keywords, builtins, and the names IPython keeps for itself
    (``In``, ``Out``, ``get_ipython``, ``exit``, ``_``, ``_i3``, ``_oh``...), since replacing
    them breaks the kernel.
    """
    import builtins
    import keyword

    if not isinstance(name, str) or not name.isidentifier():
        raise ChatError(f"{option} needs a variable name; {name!r} is not one")
    hidden = getattr(shell, "user_ns_hidden", {}) or {}
    if (
        keyword.iskeyword(name)
        or name in hidden
        or name in ("In", "Out", "get_ipython", "exit", "quit")
        or hasattr(builtins, name)
        or _IPYTHON_CACHE_RE.fullmatch(name)
    ):
        raise ChatError(
            f"{option} {name} would replace a name Python or IPython relies on; "
            "choose another variable name"
        )


def export_session(session: Any, path: str, store: Any = None) -> Path:
    """Write ``session`` to ``path``; the format follows the suffix (.json, .md, .ipynb)."""
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    formats = {".json": "json", ".md": "markdown", ".markdown": "markdown", ".ipynb": "ipynb"}
    if suffix not in formats:
        raise ChatError(f"cannot export to {target.name!r}; end the path with .json, .md or .ipynb")
    if formats[suffix] != "json" and store is None:
        raise ChatError("Markdown and notebook exports need the session store; export to .json")
    try:
        if formats[suffix] == "json":
            return Path(session.save(target))
        store.export(session.id, target, format=formats[suffix])
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ChatError(f"cannot write {target}: {reason}; choose another path") from None
    return target


# --- variable context (backed by jupychat.context) -------------------------------------


def context_settings() -> Any:
    """The context settings as resolved now (``%config ChatMagics.*``, env, config file)."""
    return remembered("context", _resolve_settings)


def _resolve_settings() -> Any:
    overrides: dict[str, Any] = {}
    values = config.resolve("values")
    if values:
        overrides["values"] = values
    for name in ("exclude_vars", "exclude_columns"):
        value = config.resolve(name)
        if value:
            words = value.replace(",", " ").split() if isinstance(value, str) else value
            overrides[name] = tuple(words)
    sample_rows = config.resolve("sample_rows")
    if sample_rows is not None:
        overrides["sample_rows"] = int(sample_rows)
    engine_seconds = config.resolve("engine_seconds")
    if engine_seconds is not None:
        try:
            overrides["engine_seconds"] = float(engine_seconds)
        except (TypeError, ValueError):
            from ..errors import ConfigError

            raise ConfigError(
                f"engine_seconds must be a number of seconds, e.g. 5; got {engine_seconds!r}"
            ) from None
    global _last_settings
    last = _last_settings
    if last is not None and last[0] == overrides:
        return last[1]  # frozen: the same object as last time, when the values are the same
    made = ContextSettings(**overrides)
    _last_settings = (overrides, made)
    return made


_last_settings: tuple[dict[str, Any], Any] | None = None


def describe_named(
    user_ns: dict[str, Any], names: list[str], prompt: str | None = None
) -> dict[str, str]:
    """Full descriptions of ``names`` for one turn (``{key: text}``).

    ``prompt`` reaches the describers: columns of a wide frame that it names get full
    statistics even when the frame is otherwise described compactly.
    """
    try:
        return variables_context(user_ns, names, context_settings(), prompt=prompt)
    except ChatError:
        raise
    except Exception as exc:  # a describer must never break the user's turn
        raise ChatError(
            f"could not describe {', '.join(names)}: {type(exc).__name__}: {exc}"
        ) from exc


def visible_namespace(shell: Any) -> dict[str, Any]:
    """The user's namespace without what IPython put there itself (``user_ns_hidden``)."""
    hidden = getattr(shell, "user_ns_hidden", {})
    return {k: v for k, v in shell.user_ns.items() if k not in hidden or hidden[k] is not v}


def variable_lines(shell: Any, limit: int | None = None) -> dict[str, str]:
    """``{name: one-line description}`` of the user's variables (modules left out): the
    same variables, filtered by the same privacy settings, as the model's inventory."""
    from ..context.inventory import inventory_lines

    lines, _modules = inventory_lines(visible_namespace(shell), context_settings())
    out: dict[str, str] = {}
    for line in lines[:limit]:
        name, _, rest = line[2:].partition(":")
        out[name.strip()] = rest.strip()
    return out


RECENT_CELLS = 8  # cells listed in the standing inventory, one line each


def _inventory(shell: Any) -> dict[str, str]:
    """The standing context: the variables, and the recent cells, one line each."""
    settings, cells = _notebook_settings()
    blocks = inventory_context(visible_namespace(shell), settings)
    record = get_record(shell)
    if record is not None:
        lines = _cells_lines(record, cells)
        if lines:
            blocks["cells"] = lines
    return blocks


def _notebook_settings() -> tuple[Any, Any]:
    """(context settings, cell settings) as resolved now, made again only once a config
    source changed (one check of them, not one for each)."""

    def make() -> tuple[Any, Any]:
        settings = context_settings()
        return settings, cell_settings(settings)

    return remembered("notebook", make)


_cells_memo: list[tuple[Any, ...]] = [()]  # (record, settings, known secrets, cells, text)


def _cells_lines(record: Any, settings: Any) -> str:
    """The recent-cells inventory with the cell ``settings``, remembered while the record
    holds the same cells (a cell updated later, e.g. by ``update_display``, is a new
    object), the settings and the known secrets are the same. Holds the record's cells
    until the next turn, no more."""
    cells = record.cells(include_chat=True)  # a copy of the list: compared item by item
    secrets = known()
    memo = _cells_memo[0]  # one tuple, replaced whole: a panel thread sees one or the other
    same = memo and memo[0] is record and memo[1] is settings and memo[2] is secrets
    if same and memo[3] == cells:
        return str(memo[4])
    text = cells_inventory(_code_cells(cells), RECENT_CELLS, settings)
    _cells_memo[0] = (record, settings, secrets, cells, text)
    return text


def _code_cells(cells: list[Any]) -> list[Any]:
    """``cells`` without the chat cells, resumed from the last list when this one starts
    with it (see :class:`~jupychat._memo.PrefixMemo`; recorded cells are frozen): a
    turn looks at every recorded cell otherwise."""
    return _CODE_CELLS.filtered(cells, lambda c: not c.is_chat)


_CODE_CELLS: PrefixMemo[tuple[Any, ...]] = PrefixMemo()


def notebook_tools(shell: Any) -> list[Any]:
    """The read-only data tools over ``shell``'s namespace and its recorded cells, and
    ``run_python`` (asks first)."""
    from ..context import data_tools
    from ..context.celltools import cell_tools

    settings = context_settings()
    # the live namespace: run_python (after the user's yes) must change the user's variables
    tools = list(data_tools(lambda: shell.user_ns, settings, approve=_ask_user))
    tools += cell_tools(lambda: get_record(shell), cell_settings(settings))
    return tools


def attach_notebook_context(session: Any, shell: Any) -> None:
    """Give ``session`` the notebook's inventory (variables and recent cells), the
    read-only data and cell tools, and code approval.

    The tiny embedded model gets no standing inventory (only what a question names:
    ``@var``, ``--context``, ``@In[N]``, ``--cells``): a 135M model parrots a list of
    cells back instead of answering.
    """
    session.context = lambda: {} if getattr(session.provider, "tiny", False) else _inventory(shell)
    present = {t.name for t in session.tools}
    for tool in notebook_tools(shell):
        if tool.name not in present:
            session.add_tool(tool)


def _ask_user(code: str) -> bool:
    import threading

    if threading.current_thread() is not threading.main_thread():
        # a panel turn: stdin belongs to no cell here, and waiting for it could hang
        return False
    from ..approval import approval_prompt

    text, askable = approval_prompt(code)
    print(text)
    if not askable:
        return False
    try:
        answer = input("\nRun it? [y/N] ")
    except Exception:  # no stdin here (e.g. a panel turn on a background thread): refuse
        print("(no way to ask here: refused; ask in a %%chat cell to approve code)")
        return False
    return answer.strip().lower() in {"y", "yes"}


def preview_prepared(prepared: Any) -> str:
    """Exactly what a prepared turn would send besides its question (``%chat context``):
    every context block not already sent, and any image attached."""
    from ..context import estimate_tokens

    blocks = prepared.session.pending_context(prepared.options.get("context"))
    out = [
        f"--- {block.key} (~{estimate_tokens(block.text):,} tokens) ---\n{block.text}"
        for block in blocks
    ]
    for number, image in enumerate(prepared.images, 1):
        size = len(image.data) * 3 // 4
        out.append(f"--- image {number}: {image.media_type}, ~{size / 1024:,.0f} KiB ---")
    if not out:
        return "(nothing new to send: the model already has the current context)"
    return "\n\n".join(out)
