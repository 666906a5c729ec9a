"""A kernel-side record of execution: what each cell ran and showed, bounded in memory.

Design note: :meth:`CellRecord.install` hooks an IPython shell at the few places every
output passes through, as instance attributes so nothing global changes:

- ``pre_run_cell``/``post_run_cell`` events open and close a cell (code, cell id,
  execution count, timing; nested ``run_cell`` calls belong to the outer cell);
- ``display_formatter.format`` sees each displayed *object* next to the data it
  produced: a matplotlib ``Figure`` is described there, while it is alive (the inline
  backend, ``plt.show()``, ``display(fig)`` and a figure as the cell's value all go
  through it);
- ``display_pub.publish`` sees every display (``display()``, ``update_display``, raw
  bundles), ``displayhook.compute_format_data`` the ``Out[n]`` value (kept as a bounded
  safe preview, never the object), ``_showtraceback`` the traceback as the user saw it;
- ``sys.stdout.write``/``sys.stderr.write`` are wrapped for the duration of each cell
  only (as IPython itself does), and what the display machinery itself prints is not
  counted twice.

Everything kept is strings and image bytes (:mod:`jupychat.context.celldata`): no
reference to a result, a figure, an exception or a frame survives the cell. Memory is
bounded per stream (head and tail), per output, per cell, and overall (a ring buffer
evicting the oldest cells). Recording must never break a user's cell: every hook
swallows its own failures and logs them at debug level, and the original call always
runs exactly once.
"""

from __future__ import annotations

import functools
import logging
import re
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ..context._fmt import short, type_name
from ..context.bundles import bundle_output
from ..context.celldata import Cell, CellError, HeadTail, Output, collapse_cr, head_tail, strip_ansi
from ..context.figures import describe_figure, is_matplotlib_figure
from ..context.notebook_file import SavedNotebook, saved_notebook
from ..context.saferepr import bounded_repr
from .patching import Patch

__all__ = ["CellRecord", "get_record"]

log = logging.getLogger(__name__)
_records: dict[int, CellRecord] = {}
_GENERIC = re.compile(r"^<(?:[\w]+\.)+(\w+)>$")


def get_record(shell: Any = None) -> CellRecord | None:
    """The record installed on ``shell`` (default: the running IPython), or None."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
    return _records.get(id(shell)) if shell is not None else None


class _Pending:
    """The cell being run: what it has shown so far."""

    def __init__(
        self, record: CellRecord, code: str, cell_id: str | None, count: int | None, store: bool
    ) -> None:
        self.code = code
        self.cell_id = cell_id
        self.count = count
        self.store = store
        self.started = time.time()
        self.t0 = time.perf_counter()
        half = record.stream_chars // 2
        self.stdout = HeadTail(half, record.stream_chars - half)
        self.stderr = HeadTail(half, record.stream_chars - half)
        self.outputs: list[Output] = []
        self.formatted: deque[tuple[Any, str, str | None]] = deque(maxlen=16)
        self.tracebacks: list[tuple[str, str, str]] = []
        self.bytes = len(code)
        self.dropped = 0


def _safe_str(obj: Any, limit: int = 2_000) -> str:
    try:
        text = str(obj)
    except Exception:
        return f"<{type(obj).__name__}: str() failed>"
    return text[:limit]


class CellRecord:
    """A bounded record of the cells a shell ran (see the module note).

    Parameters
    ----------
    max_cells:
        Cells kept (oldest evicted first).
    max_bytes:
        Approximate bytes kept over all cells (code, text, image bytes).
    cell_bytes:
        Approximate bytes kept for one cell; images and outputs beyond it are dropped
        with a note.
    stream_chars:
        Characters of stdout (and of stderr) kept per cell: the first and last halves.
    text_chars:
        Characters kept of one output's text, and of the cell's code.
    max_outputs:
        Outputs kept per cell.
    """

    def __init__(
        self,
        *,
        max_cells: int = 1_000,
        max_bytes: int = 12_000_000,
        cell_bytes: int = 2_000_000,
        stream_chars: int = 20_000,
        text_chars: int = 8_000,
        max_outputs: int = 40,
    ) -> None:
        for name, value in (
            ("max_cells", max_cells),
            ("max_bytes", max_bytes),
            ("cell_bytes", cell_bytes),
            ("stream_chars", stream_chars),
            ("text_chars", text_chars),
            ("max_outputs", max_outputs),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        self.max_cells = max_cells
        self.max_bytes = max_bytes
        self.cell_bytes = cell_bytes
        self.stream_chars = stream_chars
        self.text_chars = text_chars
        self.max_outputs = max_outputs
        self.evicted = 0
        self._cells: deque[Cell] = deque()
        self._bytes = 0
        self._seq = 0
        self._lock = threading.RLock()
        self._pending: _Pending | None = None
        self._depth = 0
        self._quiet = 0
        self._active = False
        self._shell: Any = None
        self._patches: list[Patch] = []
        self._targets: list[tuple[Callable[[], Any], str, Callable[[Any], Any]]] = []
        self._stream_patches: list[Patch] = []
        self._display_ids: dict[str, int] = {}

    # -- installing -------------------------------------------------------------------
    @classmethod
    def install(cls, shell: Any, **caps: Any) -> CellRecord:
        """Start recording the cells ``shell`` runs; returns the (one) record of that shell.

        Installing twice returns the record already there (``caps`` are then ignored).
        """
        existing = _records.get(id(shell))
        if existing is not None and existing._shell is shell and existing._active:
            return existing
        record = cls(**caps)
        record._attach(shell)
        _records[id(shell)] = record
        return record

    def start_cell(self, info: Any = None) -> None:
        """Begin recording the cell now starting (for an install made from inside its
        ``pre_run_cell`` event, which no longer reaches a newly registered callback)."""
        self._pre_run_cell(info)

    def _attach(self, shell: Any) -> None:
        self._shell = shell
        self._active = True
        shell.events.register("pre_run_cell", self._pre_run_cell)
        shell.events.register("post_run_cell", self._post_run_cell)
        self._targets = [
            (lambda: shell.display_formatter, "format", self._wrap_format),
            (lambda: shell.display_pub, "publish", self._wrap_publish),
            (lambda: shell.displayhook, "compute_format_data", self._wrap_result),
            (lambda: shell.displayhook, "start_displayhook", self._wrap_quiet_on),
            (lambda: shell.displayhook, "finish_displayhook", self._wrap_quiet_off),
            (lambda: shell, "_showtraceback", self._wrap_traceback),
        ]
        self._ensure_patched()

    def _ensure_patched(self) -> None:
        """Wrap the shell's current display objects. They can be swapped while a cell runs
        (``capture_output``/``%%capture`` put their own publisher in place, then restore
        the shell's): checked before every cell, so a record installed during such a
        capture still wraps the real publisher afterwards."""
        patched = {(id(p.target), p.name) for p in self._patches}
        for get_target, name, make in self._targets:
            try:
                target = get_target()
                if (id(target), name) in patched:
                    continue
                stale = [p for p in self._patches if p.name == name and p.target is not target]
                for patch in stale:
                    patch.undo()
                    self._patches.remove(patch)
                self._patches.append(Patch(target, name, make))
            except Exception as exc:  # an unusual shell: record what we can
                log.debug("cell record: cannot wrap %s: %s", name, exc)

    def uninstall(self) -> None:
        """Stop recording; the cells recorded so far stay readable."""
        self._active = False
        self._unpatch_streams()
        for patch in reversed(self._patches):
            patch.undo()
        self._patches.clear()
        shell = self._shell
        if shell is not None:
            for event, callback in (
                ("pre_run_cell", self._pre_run_cell),
                ("post_run_cell", self._post_run_cell),
            ):
                try:
                    shell.events.unregister(event, callback)
                except ValueError:
                    pass
            if _records.get(id(shell)) is self:
                del _records[id(shell)]
        self._pending = None
        self._depth = 0

    # -- wrappers (each calls the original exactly once) --------------------------------
    def _notify(self, what: str, hook: Callable[..., None], *args: Any) -> None:
        """Tell ``hook`` about an output of the running cell; a failure is only logged."""
        pending = self._pending
        if pending is None or not self._active:
            return
        try:
            hook(pending, *args)
        except Exception as exc:
            log.debug("cell record: %s hook failed: %s", what, exc)

    def _wrap_format(self, previous: Any) -> Any:
        def format(obj: Any, *args: Any, **kwargs: Any) -> Any:
            result = previous(obj, *args, **kwargs)
            self._notify("format", self._on_format, obj, result)
            return result

        return format

    def _wrap_publish(self, previous: Any) -> Any:
        def publish(data: Any, *args: Any, **kwargs: Any) -> Any:
            self._quiet += 1
            try:
                out = previous(data, *args, **kwargs)
            finally:
                self._quiet = max(0, self._quiet - 1)
            self._notify("publish", self._on_publish, data, kwargs)
            return out

        return publish

    def _wrap_result(self, previous: Any) -> Any:
        def compute_format_data(result: Any, *args: Any, **kwargs: Any) -> Any:
            out = previous(result, *args, **kwargs)
            self._notify("result", self._on_result, result, out)
            return out

        return compute_format_data

    def _wrap_quiet_on(self, previous: Any) -> Any:
        def start_displayhook(*args: Any, **kwargs: Any) -> Any:
            self._quiet += 1
            return previous(*args, **kwargs)

        return start_displayhook

    def _wrap_quiet_off(self, previous: Any) -> Any:
        def finish_displayhook(*args: Any, **kwargs: Any) -> Any:
            try:
                return previous(*args, **kwargs)
            finally:
                self._quiet = max(0, self._quiet - 1)

        return finish_displayhook

    def _wrap_traceback(self, previous: Any) -> Any:
        def _showtraceback(etype: Any, evalue: Any, stb: Any, *args: Any, **kwargs: Any) -> Any:
            self._notify("traceback", self._on_traceback, etype, evalue, stb)
            self._quiet += 1
            try:
                return previous(etype, evalue, stb, *args, **kwargs)
            finally:
                self._quiet = max(0, self._quiet - 1)

        return _showtraceback

    def _wrap_write(self, previous: Any, which: str) -> Any:
        def write(data: Any, *args: Any, **kwargs: Any) -> Any:
            out = previous(data, *args, **kwargs)
            pending = self._pending
            if pending is not None and not self._quiet and isinstance(data, str):
                try:
                    (pending.stdout if which == "stdout" else pending.stderr).write(data)
                except Exception as exc:
                    log.debug("cell record: %s hook failed: %s", which, exc)
            return out

        return write

    def _patch_streams(self) -> None:
        for which in ("stdout", "stderr"):
            stream = getattr(sys, which, None)
            if stream is None:
                continue
            try:
                self._stream_patches.append(
                    Patch(stream, "write", functools.partial(self._wrap_write, which=which))
                )
            except Exception as exc:  # a stream that refuses attributes: no capture
                log.debug("cell record: cannot wrap sys.%s.write: %s", which, exc)

    def _unpatch_streams(self) -> None:
        for patch in reversed(self._stream_patches):
            patch.undo()
        self._stream_patches.clear()

    # -- events -------------------------------------------------------------------------
    def _pre_run_cell(self, info: Any = None) -> None:
        if not self._active:
            return
        try:
            if self._pending is not None:
                self._depth += 1  # a run_cell inside a cell: its output belongs to the outer
                return
            self._ensure_patched()
            code = getattr(info, "raw_cell", "") or ""
            store = bool(getattr(info, "store_history", False))
            count = getattr(self._shell, "execution_count", None)
            count = count - 1 if store and isinstance(count, int) else None
            cell_id = getattr(info, "cell_id", None)
            self._pending = _Pending(
                self,
                head_tail(str(code), self.text_chars * 4),
                str(cell_id) if cell_id else None,
                count,
                store,
            )
            self._quiet = 0
            self._patch_streams()
        except Exception as exc:
            log.debug("cell record: pre_run_cell failed: %s", exc)

    def _post_run_cell(self, result: Any = None) -> None:
        if self._depth > 0:
            self._depth -= 1
            return
        pending, self._pending = self._pending, None
        self._unpatch_streams()
        self._quiet = 0
        if pending is None or not self._active:
            return
        try:
            self._append(self._finish(pending, result))
        except Exception as exc:
            log.debug("cell record: post_run_cell failed: %s", exc)

    # -- building outputs -----------------------------------------------------------------
    def _on_traceback(self, pending: _Pending, etype: Any, evalue: Any, stb: Any) -> None:
        lines = stb if isinstance(stb, (list, tuple)) else [str(stb)]
        text = strip_ansi("\n".join(str(line) for line in lines))
        name = getattr(etype, "__name__", str(etype))
        pending.tracebacks.append((name, _safe_str(evalue), head_tail(text, self.stream_chars)))
        del pending.tracebacks[:-5]

    def _on_format(self, pending: _Pending, obj: Any, result: Any) -> None:
        data = result[0] if isinstance(result, tuple) else result
        account = describe_figure(obj) if is_matplotlib_figure(obj) else None
        pending.formatted.append((data, type_name(obj), account))

    def _formatted(self, pending: _Pending, data: Any) -> tuple[str, str | None]:
        for seen, name, account in reversed(pending.formatted):
            if seen is data:
                return name, account
        return "", None

    def _on_result(self, pending: _Pending, obj: Any, out: Any) -> None:
        data = out[0] if isinstance(out, tuple) else out
        if not isinstance(data, Mapping) or not data:
            return
        name, account = self._formatted(pending, data)
        summary = bounded_repr(obj, 160)
        generic = _GENERIC.match(summary)
        if generic:  # <matplotlib.axes._axes.Axes> → <Axes>
            summary = f"<{generic.group(1)}>"
        output = self._make_output(
            "result", data, summary=summary, type_name=name or type_name(obj), figure=account
        )
        self._add(pending, output)

    def _on_publish(self, pending: _Pending, data: Any, kwargs: Mapping[str, Any]) -> None:
        if not isinstance(data, Mapping):
            return
        transient = kwargs.get("transient") or {}
        display_id = transient.get("display_id") if isinstance(transient, Mapping) else None
        display_id = str(display_id) if display_id else None
        name, account = self._formatted(pending, data)
        output = self._make_output(
            "display", data, type_name=name, figure=account, display_id=display_id
        )
        if kwargs.get("update") and display_id:
            self._update(pending, output)
        else:
            self._add(pending, output)

    def _make_output(self, kind: Any, data: Mapping[str, Any], **fields: Any) -> Output:
        return bundle_output(
            kind, data, text_chars=self.text_chars, image_cap=self.cell_bytes // 2, **fields
        )

    def _add(self, pending: _Pending, output: Output) -> None:
        size = output.nbytes
        if len(pending.outputs) >= self.max_outputs:
            pending.dropped += 1
            return
        if pending.bytes + size > self.cell_bytes:
            if output.image is not None:
                output = replace(
                    output,
                    image=None,
                    image_type=None,
                    note="image not kept (over the per-cell cap)",
                )
                size = output.nbytes
            if pending.bytes + size > self.cell_bytes:
                pending.dropped += 1
                return
        pending.outputs.append(output)
        pending.bytes += size

    def _update(self, pending: _Pending, output: Output) -> None:
        """``update_display``: replace the output shown under the same display id."""
        for i in range(len(pending.outputs) - 1, -1, -1):
            if pending.outputs[i].display_id == output.display_id:
                pending.bytes += output.nbytes - pending.outputs[i].nbytes
                pending.outputs[i] = output
                return
        seq = self._display_ids.get(str(output.display_id))
        if seq is None:
            return
        with self._lock:
            for i, cell in enumerate(self._cells):
                if cell.seq != seq:
                    continue
                outputs = [output if o.display_id == output.display_id else o for o in cell.outputs]
                new = replace(cell, outputs=tuple(outputs))
                self._bytes += new.nbytes - cell.nbytes
                self._cells[i] = new
                return

    def _finish(self, pending: _Pending, result: Any) -> Cell:
        count = pending.count
        exc = None
        if result is not None:
            rc = getattr(result, "execution_count", None)
            if pending.store and isinstance(rc, int):
                count = rc
            exc = getattr(result, "error_in_exec", None) or getattr(
                result, "error_before_exec", None
            )
        error = None
        shown = list(pending.tracebacks)
        if exc is not None:
            ename = type(exc).__name__
            evalue = _safe_str(exc)
            match = next((i for i in range(len(shown) - 1, -1, -1) if shown[i][0] == ename), None)
            if match is not None:
                tb = shown.pop(match)[2]
            else:
                tb = "".join(traceback.format_exception_only(type(exc), exc))
            error = CellError(
                ename, head_tail(evalue, 2_000), head_tail(strip_ansi(tb), self.stream_chars)
            )
            del exc
        outputs = list(pending.outputs)
        for ename, evalue, tb in shown:  # tracebacks shown without ending the cell
            outputs.append(
                Output(
                    kind="error", mime=("error",), text=tb, summary=short(f"{ename}: {evalue}", 120)
                )
            )
        with self._lock:
            self._seq += 1
            seq = self._seq
        return Cell(
            seq=seq,
            execution_count=count,
            code=pending.code,
            cell_id=pending.cell_id,
            started=pending.started,
            duration=time.perf_counter() - pending.t0,
            outputs=tuple(outputs),
            stdout=collapse_cr(strip_ansi(pending.stdout.text())),
            stderr=collapse_cr(strip_ansi(pending.stderr.text())),
            stdout_chars=pending.stdout.total,
            stderr_chars=pending.stderr.total,
            error=error,
            dropped=pending.dropped,
        )

    def _append(self, cell: Cell) -> None:
        with self._lock:
            self._cells.append(cell)
            self._bytes += cell.nbytes
            for output in cell.outputs:
                if output.display_id:
                    self._display_ids[output.display_id] = cell.seq
            while len(self._cells) > 1 and (
                len(self._cells) > self.max_cells or self._bytes > self.max_bytes
            ):
                old = self._cells.popleft()
                self._bytes -= old.nbytes
                self.evicted += 1
                for output in old.outputs:
                    if output.display_id and self._display_ids.get(output.display_id) == old.seq:
                        del self._display_ids[output.display_id]

    # -- reading --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._cells)

    @property
    def nbytes(self) -> int:
        """Approximate bytes held by the recorded cells."""
        return self._bytes

    def cells(self, n: int | None = None, *, include_chat: bool = False) -> list[Cell]:
        """The recorded cells in execution order (oldest first); the last ``n`` when given.

        ``%%chat``/``%chat`` cells are left out unless ``include_chat`` (the conversation
        already holds what they said).
        """
        with self._lock:
            cells = list(self._cells)
        if not include_chat:
            cells = [c for c in cells if not c.is_chat]
        if n is not None:
            cells = cells[-n:] if n > 0 else []
        return cells

    def by_count(self, execution_count: int) -> Cell | None:
        """The latest recorded cell run as ``In [execution_count]``, or None."""
        with self._lock:
            for cell in reversed(self._cells):
                if cell.execution_count == execution_count:
                    return cell
        return None

    def last_error(self, *, include_chat: bool = False) -> Cell | None:
        """The latest cell that ended with an error, or None."""
        for cell in reversed(self.cells(include_chat=include_chat)):
            if cell.error is not None:
                return cell
        return None

    def last_figure(self, *, include_chat: bool = False) -> Cell | None:
        """The latest cell that showed a figure or chart (its ``figures[-1]``), or None."""
        for cell in reversed(self.cells(include_chat=include_chat)):
            if cell.figures:
                return cell
        return None

    def saved_notebook(self) -> SavedNotebook | None:
        """The notebook file as last saved (``JPY_SESSION_NAME``), or None."""
        return saved_notebook()

    def clear(self) -> None:
        """Forget every recorded cell."""
        with self._lock:
            self._cells.clear()
            self._display_ids.clear()
            self._bytes = 0

    def stats(self) -> dict[str, int]:
        """Counts for diagnostics: cells, bytes, evicted, and the caps."""
        return {
            "cells": len(self._cells),
            "bytes": self._bytes,
            "evicted": self.evicted,
            "max_cells": self.max_cells,
            "max_bytes": self.max_bytes,
        }
