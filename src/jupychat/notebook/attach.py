"""What a turn attaches from the notebook itself: cells, the last error, figures.

Design note: the kernel records every executed cell (:mod:`.cells`); a question reaches
that record through a few words in the prompt and one option, all resolved here for the
engine (:func:`.engine.prepare`), so a cell, the panel and ``%chat context`` attach the
same things:

- ``--cells N`` (``Ask.cells``): the last N executed cells with their outputs;
- ``@error``: the last error with its cell and traceback;
- ``@fig``: the latest figure (a live matplotlib ``Figure`` in a variable named ``fig``
  wins, described from the object itself);
- ``@In[7]``: cell 7 (its code and outputs).

Every block goes through the same settings as variables (``cell_outputs``,
``cell_images``, ``cell_stream_chars``, ``cells_budget``). Figures are sent as image parts
to models that take images (:func:`jupychat.capabilities.supports_images`), and always as
a text account, so a text-only model can still answer "why is this plot empty".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ChatError
from .cells import get_record
from .namespace import CODE_SPAN, context_settings

__all__ = ["NOTEBOOK_MENTION", "Attached", "attach", "notebook_mentions"]

# @error, @fig, @In[7] (outside code spans; not part of an e-mail address)
NOTEBOOK_MENTION = re.compile(r"(?<![\w.@`])@(?:(error|fig)\b|In\[(\d+)\])")


@dataclass
class Attached:
    """What the notebook adds to one turn."""

    context: dict[str, str] = field(default_factory=dict)
    images: list[Any] = field(default_factory=list)  # jupychat.types.Image parts
    names: set[str] = field(default_factory=set)  # @words taken here, not as variables
    cell: Any = None  # the cell the question is about (for "Replace cell"), if one


def notebook_mentions(prompt: str) -> list[tuple[str, int | None]]:
    """``[("error", None), ("fig", None), ("cell", 7)]`` for the mentions in ``prompt``."""
    found: list[tuple[str, int | None]] = []
    for i, piece in enumerate(CODE_SPAN.split(prompt or "")):
        if i % 2:
            continue  # code is left alone
        for match in NOTEBOOK_MENTION.finditer(piece):
            item = (match.group(1), None) if match.group(1) else ("cell", int(match.group(2)))
            if item not in found:
                found.append(item)
    return found


def attach(
    shell: Any,
    prompt: str,
    *,
    cells: int | None = None,
    model_id: str | None = None,
    user_ns: Mapping[str, Any] | None = None,
) -> Attached:
    """Resolve ``--cells N`` and the notebook mentions of ``prompt`` into context blocks.

    Raises a one-line :class:`ChatError` for a mention that names nothing (``@In[99]``
    before cell 99 ran) or a bad ``cells`` count.
    """
    mentions = notebook_mentions(prompt)
    out = Attached()
    if not mentions and not cells:
        return out
    if cells is not None and cells < 1:
        raise ChatError("--cells needs a positive number of cells, e.g. --cells 3")
    from ..capabilities import supports_images
    from ..context.cells import cell_settings, cells_context, error_context, figure_context

    record = get_record(shell)
    if record is None:
        raise ChatError(
            "no cells are recorded yet: run a cell after %load_ext jupychat, then ask again"
        )
    settings = cell_settings(context_settings())
    images = bool(model_id) and supports_images(model_id)
    ns = user_ns if user_ns is not None else getattr(shell, "user_ns", {})
    if cells:
        _add(out, cells_context(record.cells(cells), settings, images=images))
    for kind, number in mentions:
        if kind == "error":
            failed = record.last_error()
            _add(out, error_context(failed, settings))
            out.cell = out.cell or failed
            out.names.add("error")
        elif kind == "fig":
            live = ns.get("fig")
            if live is not None and _is_figure(live):
                _add(out, figure_context(_live_figure(live), settings, images=images))
            else:
                last = record.last_figure()
                _add(out, figure_context(last, settings, images=images))
                out.cell = out.cell or last
            out.names.add("fig")
        elif number is not None:  # ("cell", n): the one kind that carries a number
            cell = record.by_count(number)
            if cell is None:
                raise ChatError(
                    f"no recorded cell In[{number}]; list them with %chat cells, "
                    "or run the cell again"
                )
            _add(out, cells_context([cell], settings, images=images))
            out.cell = out.cell or cell
            out.names.add("In")
    return out


def _add(out: Attached, block: Any) -> None:
    out.context.update(block)
    out.images.extend(a.part() for a in getattr(block, "images", ()))


def _is_figure(obj: Any) -> bool:
    from ..context.figures import is_matplotlib_figure

    return is_matplotlib_figure(obj)


def _live_figure(fig: Any) -> Any:
    """A live matplotlib figure as a recorded output: its account and a PNG of it."""
    import io

    from ..context.celldata import Output
    from ..context.figures import describe_figure

    image = None
    try:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=72)
        image = buffer.getvalue()
    except Exception:  # a figure that cannot draw itself still has an account
        image = None
    return Output(
        "display",
        mime=("image/png",) if image else (),
        summary="matplotlib Figure (the variable fig)",
        type_name="matplotlib.figure.Figure",
        figure=describe_figure(fig),
        image=image,
        image_type="image/png" if image else None,
    )
