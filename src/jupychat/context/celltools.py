"""Read-only tools over the record of executed cells: list, get one, get a figure.

Design note: like the data tools (``datatools.py``), each tool is bound to a getter (so
it sees the record as it is when the model calls) and to the session's
:class:`ContextSettings` (so results obey the same privacy rules as the context: outputs
off, values withheld, secrets redacted), never raises (a problem comes back as one line
saying what to do), and is capped at ``settings.tool_budget`` tokens. ``get_figure``
returns the text account; attaching the image itself is the caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .cells import cell_text, cells_inventory, figure_context
from .datatools import Refusal, read_only_tool
from .settings import ContextSettings

__all__ = ["CellTools", "cell_tools"]

RecordGetter = Callable[[], Any]


class CellTools:
    """The cell tools over one record (see the module note).

    Parameters
    ----------
    record_getter:
        Returns the :class:`~jupychat.notebook.cells.CellRecord` (or None when cells are
        not recorded).
    settings:
        Privacy and budget settings.
    """

    def __init__(
        self, record_getter: RecordGetter, settings: ContextSettings | None = None
    ) -> None:
        self.record_getter = record_getter
        self.settings = settings or ContextSettings()

    def _record(self) -> Any:
        record = self.record_getter()
        if record is None:
            raise Refusal(
                "Executed cells are not being recorded in this kernel; ask the "
                "user to paste the code and output instead."
            )
        return record

    def _cell(self, execution_count: Any) -> Any:
        try:
            count = int(execution_count)
        except (TypeError, ValueError):
            raise Refusal(
                "error: give the cell's execution count as an integer, e.g. "
                "execution_count=7 for In [7]"
            ) from None
        cell = self._record().by_count(count)
        if cell is None:
            known = [
                c.execution_count
                for c in self._record().cells(include_chat=True)
                if c.execution_count is not None
            ][-10:]
            raise Refusal(
                f"error: no recorded cell In [{count}]; call list_cells to see "
                f"what ran (recent: {', '.join(map(str, known)) or 'none'})."
            )
        return cell

    @read_only_tool
    def list_cells(self, limit: int = 20) -> str:
        """List the recently executed notebook cells, one line each (oldest first).

        Parameters
        ----------
        limit:
            How many recent cells to list (1-100).
        """
        limit = max(1, min(int(limit), 100))
        text = cells_inventory(
            self._record(), limit, self.settings.with_(inventory_budget=self.settings.tool_budget)
        )
        return text or "No cells have been executed since jupychat was loaded."

    @read_only_tool
    def get_cell(self, execution_count: int, include_outputs: bool = True) -> str:
        """Return the code of one executed cell and what it showed (outputs, prints, errors).

        Parameters
        ----------
        execution_count:
            The cell's number n as in In [n].
        include_outputs:
            Include its outputs (false: code and a one-line summary of the outputs).
        """
        cell = self._cell(execution_count)
        return cell_text(
            cell,
            self.settings,
            1 if include_outputs else 3,
            image_reason="tool results carry text only",
        )

    @read_only_tool
    def get_figure(self, execution_count: int, index: int = -1) -> str:
        """Describe a figure an executed cell showed: axes, labels, scales, data ranges.

        Parameters
        ----------
        execution_count:
            The cell's number n as in In [n].
        index:
            Which figure of the cell (0 the first, -1 the last).
        """
        cell = self._cell(execution_count)
        block = figure_context(
            cell, self.settings, index=int(index), budget=self.settings.tool_budget
        )
        return next(iter(block.values()))

    def tools(self) -> list[Any]:
        """The tools as :class:`jupychat.tools.Tool` objects."""
        from jupychat.tools import Tool

        return [Tool.from_function(m) for m in (self.list_cells, self.get_cell, self.get_figure)]


def cell_tools(record_getter: RecordGetter, settings: ContextSettings | None = None) -> list[Any]:
    """``list_cells``, ``get_cell`` and ``get_figure`` as :class:`jupychat.tools.Tool` objects.

    Parameters
    ----------
    record_getter:
        Returns the record each time a tool runs (e.g. ``lambda: get_record(shell)``).
    settings:
        The same settings as the session's context.
    """
    return CellTools(record_getter, settings).tools()
