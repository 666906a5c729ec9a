"""One recorded cell as context text, at each degradation level, under the privacy rules.

Design note: :func:`cell_text` is the single renderer of a cell for the model (the
``--cells`` blocks, ``get_cell`` and the error and figure blocks use its pieces). What
may be shown comes from one :class:`Policy` derived from the settings: printed text and
values, figure accounts, images. Code and text are fenced with a backtick run longer than
any inside them, so content cannot close its fence. Levels: 0 full, 1 the same without
images, 2 outputs cut to head and tail, 3 a one-line summary of the outputs, 4 code only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._fmt import fmt_int, short
from .celldata import Cell, Output, head_tail
from .privacy import WITHHELD, redact_secrets
from .settings import ContextSettings

__all__ = [
    "CODE_CHARS",
    "SHORT_CODE_CHARS",
    "Policy",
    "cell_text",
    "error_lines",
    "fence",
    "figure_line",
    "key_of",
]

CODE_CHARS = 6_000
SHORT_CODE_CHARS = 1_500


@dataclass(frozen=True)
class Policy:
    text: bool  # printed text, result text, error messages
    accounts: bool  # figure and chart accounts
    images: bool  # image parts

    @classmethod
    def of(cls, settings: ContextSettings) -> Policy:
        out = settings.cell_outputs
        full = settings.values == "full"
        return cls(
            text=out and full,
            accounts=out and settings.values != "schema",
            images=out and full and settings.cell_images,
        )

    def image_why_not(self, settings: ContextSettings) -> str:
        if settings.cell_outputs and settings.values == "full" and not settings.cell_images:
            return "images are turned off (cell_images)"
        return self.why_not(settings)

    def why_not(self, settings: ContextSettings) -> str:
        if not settings.cell_outputs:
            return "not shared: cell_outputs is off"
        return f"withheld: the values setting is {settings.values!r}"


def fence(text: str, lang: str = "") -> str:
    run, longest = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def key_of(cell: Cell, kind: str = "cell") -> str:
    return (
        f"{kind}:{cell.execution_count}"
        if cell.execution_count is not None
        else f"{kind}:#{cell.seq}"
    )


def _header(cell: Cell) -> str:
    parts = [f"{fmt_int(cell.lines)} line{'s' if cell.lines != 1 else ''}"]
    if cell.error is not None:
        parts.append(f"raised {cell.error.ename}")
    if cell.duration >= 1:
        parts.append(f"ran {cell.duration:.1f} s")
    return f"### {cell.label} ({', '.join(parts)})"


def _account(output: Output, level: int) -> str:
    text = output.figure or ""
    if level >= 2:
        lines = text.splitlines()
        text = "\n".join(lines[:2]) + ("\n…" if len(lines) > 2 else "")
    return text


def figure_line(output: Output, number: int, image_label: str | None, reason: str) -> str:
    kind = (
        "chart"
        if output.figure and not output.figure.startswith(("Summary", "Figure"))
        else "figure"
    )
    what = output.type_name or output.summary or kind
    dims = output.image_dims
    image = (
        f"{output.image_type.split('/')[-1].upper()} {dims[0]}×{dims[1]}"
        if (dims and output.image_type)
        else ""
    )
    line = f"{kind.capitalize()} {number} ({short(what, 40)}"
    line += f", {image})" if image else ")"
    if image_label:
        line += f"; attached as {image_label}"
    elif image and reason:
        line += f"; image not attached: {reason}"
    return line + ":"


def _output_block(
    output: Output, level: int, policy: Policy, chars: int, settings: ContextSettings
) -> list[str]:
    """Lines for one non-figure output at ``level`` (0-2)."""
    kind = {"result": "Out", "display": "Displayed", "error": "Traceback shown"}[output.kind]
    if output.kind == "error":
        if not policy.text:
            name = short(output.summary.split(":")[0], 60)
            return [f"{kind}: {name} ({policy.why_not(settings)})"]
        return [f"{kind}:", fence(head_tail(output.text, chars), "text")]
    if not policy.text:  # a result's summary is its value: name the type only
        what = output.type_name or ("a value" if output.kind == "result" else output.summary)
        return [f"{kind}: {short(what, 60)} ({policy.why_not(settings)})"]
    head = f"{kind}: {short(output.summary, 80)}" if output.summary else f"{kind}:"
    text = output.text.strip()
    if not text or text == output.summary:
        return [head]
    if "\n" not in text and len(text) <= 100:
        return [f"{kind}: {text}"]
    return [head, fence(head_tail(text, chars), "text")]


def _outputs_summary(cell: Cell, policy: Policy) -> str:
    parts = []
    for output in cell.outputs:
        if output.is_figure:
            parts.append("a figure")
        elif output.kind == "result":
            parts.append(f"Out {short(output.summary, 40) if policy.text else output.type_name}")
        elif output.kind == "error":
            parts.append("a traceback")
        else:
            parts.append(short(output.type_name or output.summary or "a display", 40))
    if cell.stdout_chars:
        parts.append(f"stdout {fmt_int(cell.stdout_chars)} chars")
    if cell.stderr_chars:
        parts.append(f"stderr {fmt_int(cell.stderr_chars)} chars")
    return ", ".join(parts)


def cell_text(
    cell: Cell,
    settings: ContextSettings | None = None,
    level: int = 0,
    *,
    image_labels: dict[int, str] | None = None,
    image_reason: str = "",
) -> str:
    """One cell as context text at a degradation ``level``.

    Parameters
    ----------
    cell:
        A recorded cell.
    settings:
        Privacy and size settings.
    level:
        0 full, 1 the same without images, 2 outputs shortened to head and tail,
        3 outputs as one summary line, 4 code only (shortened).
    image_labels:
        ``{output index: "image 1"}`` for the figures whose image is attached.
    image_reason:
        Why images are not attached (shown next to figures that have one).
    """
    settings = settings or ContextSettings()
    policy = Policy.of(settings)
    labels = image_labels or {}
    chars = settings.cell_stream_chars if level < 2 else max(200, settings.cell_stream_chars // 4)
    code = head_tail(cell.code, SHORT_CODE_CHARS if level >= 4 else CODE_CHARS)
    lines = [_header(cell), fence(code, "python")]
    if level >= 3:
        summary = _outputs_summary(cell, policy)
        if cell.error is not None:
            err = cell.error.line if policy.text else cell.error.ename
            lines.append(f"Error: {short(err, 160)}")
        if summary and level == 3:
            lines.append(f"Outputs not included (ask with get_cell): {summary}")
        elif summary or cell.error is not None:
            lines.append("Outputs not included (ask with get_cell).")
        return redact_secrets("\n".join(lines))
    figures = 0
    for index, output in enumerate(cell.outputs):
        if output.is_figure:
            figures += 1
            reason = image_reason if policy.images else policy.image_why_not(settings)
            if not policy.accounts:
                lines.append(
                    figure_line(output, figures, None, "") + f" account {policy.why_not(settings)}"
                )
                continue
            lines.append(
                figure_line(
                    output,
                    figures,
                    labels.get(index) if level == 0 else None,
                    reason if level == 0 else "context budget",
                )
            )
            account = _account(output, level)
            lines.append(
                account
                if account
                else "(no text account: shown as an image only, with no live figure or spec)"
            )
            continue
        lines.extend(_output_block(output, level, policy, chars, settings))
    for name, text, total in (
        ("stdout", cell.stdout, cell.stdout_chars),
        ("stderr", cell.stderr, cell.stderr_chars),
    ):
        if not total:
            continue
        if not policy.text:
            lines.append(f"{name}: {fmt_int(total)} characters ({policy.why_not(settings)})")
            continue
        shown = head_tail(text, chars)
        note = f" ({fmt_int(total)} characters; head and tail)" if len(shown) < total else ""
        lines.append(f"{name}{note}:")
        lines.append(fence(shown, "text"))
    if cell.error is not None:
        lines.extend(error_lines(cell, policy, chars, settings))
    if cell.dropped:
        lines.append(f"({cell.dropped} more outputs were not recorded: over the per-cell cap)")
    return redact_secrets("\n".join(lines))


_EXC_LINE = re.compile(
    r"^(?!File |Cell |Input |During |The above )([A-Za-z_][\w.]*): .*$", re.MULTILINE
)


def _without_messages(traceback_text: str) -> str:
    """A traceback with the exception messages withheld (the code lines are kept)."""
    return _EXC_LINE.sub(lambda m: f"{m.group(1)}: {WITHHELD}", traceback_text)


def error_lines(cell: Cell, policy: Policy, chars: int, settings: ContextSettings) -> list[str]:
    error = cell.error
    assert error is not None
    if not settings.cell_outputs:
        return [f"Error: {error.ename} (message and traceback {policy.why_not(settings)})"]
    if not policy.text:
        return [
            f"Error: {error.ename} (message {policy.why_not(settings)})",
            "Traceback:",
            fence(head_tail(_without_messages(error.traceback), chars), "text"),
        ]
    return [
        f"Error: {short(error.line, 300)}",
        "Traceback:",
        fence(head_tail(error.traceback, chars), "text"),
    ]
