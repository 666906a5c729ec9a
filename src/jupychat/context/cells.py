"""Executed cells as context: ``--cells N``, ``@error``, ``@fig`` and the cell inventory.

Design note: the texts follow the variable context's rules (``docs/context.md``). One
block per cell under a stable key (``cell:7``, ``error:7``, ``figure:7``), deterministic
for an unchanged cell, so the session re-sends a block only when the cell changed (its
``fingerprint``). Privacy comes from :class:`ContextSettings`: ``cell_outputs=False``
sends code only; ``values="aggregates"`` withholds printed text, result values, error
messages and images but keeps figure accounts (counts and ranges); ``"schema"`` withholds
figure accounts too; ``cell_images=False`` never attaches images; secret-looking strings
are redacted everywhere. Over budget, cells degrade oldest first, one step at a time for
all of them: drop images → shorten outputs to head and tail → drop outputs (one-line
summaries stay) → code only → leave the cell out ("N more cells (ask with get_cell)").
Outputs are untrusted data; this module only produces plain text, the provider layer
fences it. Images are returned beside the text (:class:`CellContext` ``.images``),
downscaled to the settings' size cap, and the text says which image is which.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .._memo import IdentityMemo
from ._cell_text import (
    CODE_CHARS,
    SHORT_CODE_CHARS,
    Policy,
    cell_text,
    error_lines,
    fence,
    figure_line,
    key_of,
)
from ._fmt import fmt_int, short
from .budget import cap_text, chars_for_tokens, estimate_tokens
from .celldata import Cell, Output, head_tail
from .images import downscale_png, image_tokens, media_type_of
from .privacy import redact_secrets
from .settings import ContextSettings

__all__ = [
    "Attachment",
    "CellContext",
    "cell_settings",
    "cell_text",
    "cells_context",
    "cells_inventory",
    "error_context",
    "figure_context",
]

MAX_IMAGES = 4
_STEPS = 5  # 0 full · 1 no images · 2 short outputs · 3 no outputs · 4 code only · 5 left out


@dataclass(frozen=True)
class Attachment:
    """An image to send with the context (already downscaled).

    Parameters
    ----------
    key:
        Which block it belongs to (``cell:7``, ``figure:7``).
    label:
        How the text refers to it (``image 1: In [7], figure 1``).
    media_type:
        ``image/png`` or ``image/jpeg``.
    data:
        The image bytes.
    """

    key: str
    label: str
    media_type: str
    data: bytes

    def part(self) -> Any:
        """The image as a :class:`jupychat.types.Image` message part (base64)."""
        from jupychat.types import Image

        return Image(base64.b64encode(self.data).decode("ascii"), self.media_type)


class CellContext(dict[str, str]):
    """``{key: text}`` context blocks, with the images that go with them in ``images``."""

    def __init__(
        self, blocks: Iterable[tuple[str, str]] = (), images: Iterable[Attachment] = ()
    ) -> None:
        super().__init__(blocks)
        self.images: list[Attachment] = list(images)


def cell_settings(settings: ContextSettings | None = None, **explicit: Any) -> ContextSettings:
    """``settings`` with the cell settings resolved through the config chain.

    ``cell_outputs``, ``cell_images``, ``cell_stream_chars`` and ``cells_budget`` come
    from (first found) ``explicit`` > ``%config ChatMagics.*`` > ``JUPYCHAT_*`` > the
    config file > the dataclass default.
    """
    from jupychat import config

    from ._resolved import remembered

    base = settings or ContextSettings()

    def resolve() -> ContextSettings:
        changes = {}
        for name in ("cell_outputs", "cell_images", "cell_stream_chars", "cells_budget"):
            value = config.resolve(name, explicit.get(name), default=getattr(base, name))
            if isinstance(getattr(base, name), bool) and isinstance(value, str):
                value = value.strip().lower() in ("1", "true", "yes", "on")
            elif isinstance(getattr(base, name), int) and isinstance(value, str):
                value = int(value)
            changes[name] = value
        return base.with_(**changes)

    if explicit:
        return resolve()
    return remembered(("cells", id(base)), resolve, held=base)  # asked a few times a turn


# ------------------------------------------------------------------------------ images


@functools.lru_cache(maxsize=16)
def _downscaled(data: bytes, max_side: int, max_bytes: int) -> bytes | None:
    return downscale_png(data, max_side=max_side, max_bytes=max_bytes)


def _attach(
    cell: Cell, index: int, output: Output, number: int, key: str, settings: ContextSettings
) -> Attachment | None:
    if output.image is None:
        return None
    data = _downscaled(output.image, settings.image_max_side, settings.image_max_bytes)
    kind = media_type_of(data) if data else None
    if data is None or kind is None:
        return None
    label = f"image {number}"
    return Attachment(key, f"{label}: {cell.label}, figure {index}", kind, data)


# ---------------------------------------------------------------------------- builders


def cells_context(
    cells: Sequence[Cell],
    settings: ContextSettings | None = None,
    *,
    budget: int | None = None,
    images: bool = False,
) -> CellContext:
    """Context blocks for ``--cells N``: each cell's code and outputs, within a budget.

    Parameters
    ----------
    cells:
        The cells, oldest first (e.g. ``record.cells(3)``).
    settings:
        Privacy and size settings (see :func:`cell_settings`).
    budget:
        Tokens for all of it, images included (default ``settings.cells_budget``).
    images:
        The model accepts images (see :func:`jupychat.capabilities.supports_images`);
        figures are then attached, newest first, at most four.

    Returns
    -------
    CellContext
        ``{"cell:7": text, …, "cells:more": text}`` in cell order, and ``.images``.
    """
    settings = settings or ContextSettings()
    budget = budget or settings.cells_budget
    policy = Policy.of(settings)
    cells = list(cells)
    reason = "" if images else "the model does not take images"
    if not settings.cell_images:
        reason = "images are turned off (cell_images)"
    attach: dict[int, list[Attachment]] = {}
    labels: dict[int, dict[int, str]] = {}
    if images and policy.images:
        number = 0
        for ci in range(len(cells) - 1, -1, -1):
            for oi, output in enumerate(cells[ci].outputs):
                if number >= MAX_IMAGES or output.image is None:
                    continue
                figure_no = sum(1 for o in cells[ci].outputs[: oi + 1] if o.is_figure)
                att = _attach(cells[ci], figure_no, output, number + 1, key_of(cells[ci]), settings)
                if att is not None:
                    number += 1
                    attach.setdefault(ci, []).append(att)
                    labels.setdefault(ci, {})[oi] = att.label.split(":")[0]
    levels = [0] * len(cells)
    cache: dict[tuple[int, int], tuple[str, int]] = {}

    def render(ci: int, level: int) -> tuple[str, int]:
        if (ci, level) not in cache:
            if level >= _STEPS:
                cache[(ci, level)] = ("", 0)
            else:
                text = cell_text(
                    cells[ci], settings, level, image_labels=labels.get(ci), image_reason=reason
                )
                tokens = estimate_tokens(text)
                if level == 0:
                    tokens += sum(image_tokens(a.data) for a in attach.get(ci, []))
                cache[(ci, level)] = (text, tokens)
        return cache[(ci, level)]

    def total() -> int:
        left_out = sum(1 for lv in levels if lv >= _STEPS)
        return sum(render(i, lv)[1] for i, lv in enumerate(levels)) + (30 if left_out else 0)

    for step in range(1, _STEPS + 1):
        if total() <= budget:
            break
        for ci in range(len(cells)):
            if step == _STEPS and ci == len(cells) - 1:
                break  # the newest cell stays, at least as code
            if levels[ci] < step:
                levels[ci] = step
                if total() <= budget:
                    break
    out = CellContext()
    omitted = [c for c, lv in zip(cells, levels, strict=True) if lv >= _STEPS]
    for ci, cell in enumerate(cells):
        if levels[ci] >= _STEPS:
            continue
        text = render(ci, levels[ci])[0]
        if ci == len(cells) - 1 and levels[ci] >= 4:
            text = cap_text(text, max(60, budget - 40))
        out[key_of(cell)] = text
        if levels[ci] == 0:
            out.images.extend(attach.get(ci, []))
    if omitted:
        names = ", ".join(c.label for c in omitted[:12])
        more = f" … ({len(omitted)})" if len(omitted) > 12 else ""
        out["cells:more"] = (
            f"{len(omitted)} more cell{'s' if len(omitted) != 1 else ''} "
            f"not included to fit the context budget: {names}{more} "
            "(ask with get_cell)."
        )
    return out


def error_context(
    cell: Cell | None, settings: ContextSettings | None = None, *, budget: int | None = None
) -> CellContext:
    """``{"error:7": text}``: the last error with its cell's code and traceback.

    ``cell`` is e.g. ``record.last_error()``; None gives a block saying no cell failed.
    """
    settings = settings or ContextSettings()
    budget = budget or settings.cells_budget
    if cell is None:
        return CellContext([("error", "No recorded cell has raised an error.")])
    if cell.error is None:
        return CellContext([(key_of(cell, "error"), f"{cell.label} did not raise an error.")])
    policy = Policy.of(settings)
    chars = settings.cell_stream_chars
    head = f"The error raised by {cell.label}:"
    code = head_tail(cell.code, CODE_CHARS)
    text = ""
    while True:
        lines = [head, fence(code, "python"), *error_lines(cell, policy, chars, settings)]
        text = redact_secrets("\n".join(lines))
        if (
            estimate_tokens(text) <= budget and len(text) <= chars_for_tokens(budget)
        ) or chars <= 50:
            break
        chars = max(50, chars // 2)
        code = head_tail(cell.code, max(SHORT_CODE_CHARS, len(code) // 2))
    return CellContext([(key_of(cell, "error"), cap_text(text, budget))])


def figure_context(
    cell_or_figure: Cell | Output | None,
    settings: ContextSettings | None = None,
    *,
    index: int = -1,
    images: bool = False,
    budget: int | None = None,
) -> CellContext:
    """``{"figure:7": text}``: a figure's text account, which image goes with it, its code.

    Parameters
    ----------
    cell_or_figure:
        A cell (its ``figures[index]``, default the last) or one figure output; None gives
        a block saying no figure was shown.
    settings:
        Privacy and size settings.
    index:
        Which figure of the cell.
    images:
        The model accepts images: the figure's image is attached (downscaled).
    budget:
        Tokens for the text (default ``settings.cells_budget``).
    """
    settings = settings or ContextSettings()
    budget = budget or settings.cells_budget
    policy = Policy.of(settings)
    if cell_or_figure is None:
        return CellContext([("figure", "No recorded cell has shown a figure.")])
    cell = cell_or_figure if isinstance(cell_or_figure, Cell) else None
    if cell is not None:
        figures = cell.figures
        if not figures:
            return CellContext([(key_of(cell, "figure"), f"{cell.label} showed no figure.")])
        try:
            output = figures[index]
        except IndexError:
            return CellContext(
                [
                    (
                        key_of(cell, "figure"),
                        f"{cell.label} showed "
                        f"{len(figures)} figure(s); there is no figure {index}.",
                    )
                ]
            )
        number = (index % len(figures)) + 1
        key = key_of(cell, "figure") + (f".{number}" if len(figures) > 1 else "")
        where = f"{cell.label}, figure {number} of {len(figures)}"
    else:
        assert isinstance(cell_or_figure, Output)
        output, number, key, where = cell_or_figure, 1, "figure", "a figure"
    attachment = None
    if images and policy.images and output.image is not None:
        data = _downscaled(output.image, settings.image_max_side, settings.image_max_bytes)
        kind = media_type_of(data) if data else None
        if data is not None and kind is not None:
            attachment = Attachment(key, f"image 1: {where}", kind, data)
    reason = (
        ""
        if attachment
        else "the model does not take images"
        if not images
        else "the image could not be downscaled to the size cap"
        if policy.images
        else policy.why_not(settings)
        if settings.cell_images
        else "images are turned off"
    )
    lines = [f"The figure from {where}."]
    lines.append(figure_line(output, number, "image 1" if attachment else None, reason))
    if policy.accounts:
        lines.append(
            output.figure
            or "(no text account: shown as an image only, with no live figure or spec)"
        )
    else:
        lines.append(f"(account {policy.why_not(settings)})")
    if cell is not None:
        lines += [f"Code of {cell.label}:", fence(head_tail(cell.code, CODE_CHARS), "python")]
    text = cap_text(redact_secrets("\n".join(lines)), budget)
    return CellContext([(key, text)], [attachment] if attachment else [])


def cells_inventory(record: Any, k: int = 10, settings: ContextSettings | None = None) -> str:
    """The recent cells, one line each, oldest first ("" when none).

    Parameters
    ----------
    record:
        A :class:`~jupychat.notebook.cells.CellRecord` (its ``cells()``) or a list of cells.
    k:
        How many recent cells to list.
    settings:
        Privacy settings; the text is capped at ``settings.inventory_budget``.
    """
    settings = settings or ContextSettings()
    policy = Policy.of(settings)
    cells = list(record.cells() if hasattr(record, "cells") else record)
    recent = cells[-k:] if k > 0 else []
    if not recent:
        return ""
    lines = [
        f"Recent cells (oldest first; {len(cells)} recorded; get_cell(n) returns one "
        "with its outputs):"
    ]
    lines.extend(_LINES.get(cell, lambda c: _inventory_line(c, policy), policy) for cell in recent)
    text = redact_secrets("\n".join(lines))
    return (
        cap_text(text, settings.inventory_budget)
        if len(text) > chars_for_tokens(settings.inventory_budget)
        or estimate_tokens(text) > settings.inventory_budget
        else text
    )


_LINES: IdentityMemo[str] = IdentityMemo(64)  # (cell, policy) -> its line; holds <= 64 cells


def _inventory_line(cell: Cell, policy: Policy) -> str:
    """One cell's line of :func:`cells_inventory`, remembered per cell and policy by the
    caller: a recorded cell is frozen (a cell updated later is a new object), and each
    turn lists the same recent cells again."""
    first = next((ln.strip() for ln in cell.code.splitlines() if ln.strip()), "")
    line = f"{cell.label} `{short(first, 60).replace('`', chr(39))}`"
    if cell.lines > 1:
        line += f" ({cell.lines} lines)"
    results = []
    for output in cell.outputs:
        if output.is_figure:
            account = output.figure or ""
            first_line = account.splitlines()[0] if account else ""
            if policy.accounts and first_line.startswith("Summary: "):
                results.append("figure: " + short(first_line[len("Summary: ") :], 90))
            else:
                results.append("figure")
        elif output.kind == "result":
            results.append(
                short(output.summary, 60)
                if policy.text
                else short(output.type_name or "a value", 40)
            )
    if cell.error is not None:
        results.append(short(cell.error.line, 100) if policy.text else cell.error.ename)
    elif cell.stdout_chars and not results:
        results.append(f"printed {fmt_int(cell.stdout_chars)} chars")
    if results:
        line += " → " + "; ".join(results[:3])
    return line
