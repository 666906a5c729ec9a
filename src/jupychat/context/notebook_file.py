"""The notebook file as last saved: markdown cells and cell order (read with nbformat).

Design note: the kernel knows what ran, in the order it ran; only the ``.ipynb`` file
knows the markdown between the cells and the order of cells on the page. Jupyter Server
puts the notebook's path in the kernel's ``JPY_SESSION_NAME``; when it is there, this
module reads that file with nbformat. It is the *saved* state: edits since the last
save, and cells run since, are not in it, and every text built from it says so. Outputs
are never read into the result (only counted), files over 50 MB are not read, and
nothing is cached: the file is read when asked.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from ._fmt import fmt_int, short
from .budget import cap_text

__all__ = ["SavedCell", "SavedNotebook", "notebook_path", "saved_notebook"]

log = logging.getLogger(__name__)
MAX_FILE_BYTES = 50_000_000
SAVED_STATE_NOTE = (
    "this is the notebook file as last saved: unsaved edits and cells run "
    "since the save are not in it"
)


@dataclass(frozen=True)
class SavedCell:
    """One cell of the saved notebook (outputs are counted, not kept)."""

    index: int
    cell_type: str
    source: str
    execution_count: int | None = None
    cell_id: str | None = None
    outputs: int = 0


@dataclass(frozen=True)
class SavedNotebook:
    """The saved ``.ipynb``: its path, when it was saved, and its cells in page order."""

    path: Path
    saved_at: str
    cells: tuple[SavedCell, ...]

    def find(
        self,
        cell_id: str | None = None,
        execution_count: int | None = None,
        code: str | None = None,
    ) -> SavedCell | None:
        """The saved code cell with this id, else this execution count and source."""
        if cell_id:
            for cell in self.cells:
                if cell.cell_id == cell_id:
                    return cell
        for cell in self.cells:
            if cell.cell_type != "code":
                continue
            if (
                execution_count is not None
                and cell.execution_count == execution_count
                and (code is None or cell.source.strip() == code.strip())
            ):
                return cell
        return None

    def markdown_before(self, cell: SavedCell, limit: int = 400) -> str:
        """The markdown cells right above ``cell`` (its section text), cut to ``limit``."""
        texts: list[str] = []
        for other in reversed(self.cells[: cell.index]):
            if other.cell_type != "markdown":
                break
            texts.insert(0, other.source.strip())
        text = "\n\n".join(t for t in texts if t)
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def outline(self, budget: int = 800) -> str:
        """One line per cell in page order, headed by the saved-state note, capped."""
        lines = [
            f"Notebook file {self.path.name} (saved {self.saved_at}; {SAVED_STATE_NOTE}), "
            f"{fmt_int(len(self.cells))} cells:"
        ]
        for cell in self.cells:
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            n_lines = cell.source.count("\n") + 1 if cell.source else 0
            if cell.cell_type == "markdown":
                lines.append(f"[{cell.index + 1}] markdown: {short(first, 90)}")
            elif cell.cell_type == "code":
                count = cell.execution_count if cell.execution_count is not None else " "
                more = f" ({n_lines} lines)" if n_lines > 1 else ""
                outs = f", {cell.outputs} outputs" if cell.outputs else ""
                lines.append(
                    f"[{cell.index + 1}] code In [{count}]: {short(first, 70)}{more}{outs}"
                )
            else:
                lines.append(f"[{cell.index + 1}] {cell.cell_type}: {short(first, 60)}")
        return cap_text("\n".join(lines), budget)


def notebook_path() -> Path | None:
    """The notebook file of this kernel (``JPY_SESSION_NAME``), when it names an .ipynb."""
    name = os.environ.get("JPY_SESSION_NAME")
    if not name or not name.endswith(".ipynb"):
        return None
    path = Path(name).expanduser()
    if not path.is_absolute() and not path.exists():
        candidate = Path.cwd() / path.name
        path = candidate if candidate.exists() else path
    return path


def saved_notebook(path: str | os.PathLike[str] | None = None) -> SavedNotebook | None:
    """Read the saved notebook (``path``, else ``JPY_SESSION_NAME``) with nbformat.

    Returns
    -------
    SavedNotebook or None
        None when no path is known, the file is missing, too large or unreadable (the
        reason is logged at debug level).
    """
    target = Path(path) if path is not None else notebook_path()
    if target is None:
        return None
    try:
        stat = target.stat()
        if stat.st_size > MAX_FILE_BYTES:
            log.debug("notebook %s is %d bytes: not read", target, stat.st_size)
            return None
        import nbformat

        with open(target, encoding="utf-8") as handle:
            nb = nbformat.read(handle, as_version=4)
    except Exception as exc:
        log.debug("cannot read notebook %s: %s", target, exc)
        return None
    cells = []
    for index, cell in enumerate(nb.get("cells", [])):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        count = cell.get("execution_count")
        cells.append(
            SavedCell(
                index=index,
                cell_type=str(cell.get("cell_type", "")),
                source=str(source),
                execution_count=count if isinstance(count, int) else None,
                cell_id=cell.get("id") if isinstance(cell.get("id"), str) else None,
                outputs=len(cell.get("outputs") or []),
            )
        )
    saved_at = datetime.fromtimestamp(stat.st_mtime, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return SavedNotebook(path=target, saved_at=saved_at, cells=tuple(cells))
