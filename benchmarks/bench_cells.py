"""The cell record's cost: time added per executed cell, and memory after 1,000 cells.

1. Per-cell time in one IPython shell, with and without the record installed, in
   interleaved blocks of the same run (so drift hits both): a cell with no output
   (target: ≤ 1 ms added, median) and a cell that shows a matplotlib figure through the
   inline backend (target: ≤ 5 ms added, median). A figure cell costs hundreds of ms, so
   the difference of medians is within noise there; the time spent inside the record's
   own hooks is also timed directly.
2. Memory held by the record after 1,000 cells (a mix: assignments, prints with a
   result, a matplotlib figure every 20th cell), measured with tracemalloc as what
   clearing the record frees (target: ≤ 20 MB); and after 1,000 cells that each show a
   PNG of a real figure (rendered once), where the record's byte cap (12 MB) holds.

    python benchmarks/bench_cells.py [--cells 300] [--figures 40] [--blocks 6]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import time
import tracemalloc


def make_shell():
    os.environ.setdefault("MPLBACKEND", "Agg")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None
    shell.displayhook.cache_size = 0
    shell.run_cell("%matplotlib inline", store_history=True)
    select_figure_formats(shell, {"png"})
    shell.run_cell("import matplotlib.pyplot as plt", store_history=True)
    return shell


def time_cells(shell, code: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        shell.run_cell(code, store_history=True)
        times.append(time.perf_counter() - start)
    return times


def interleaved(shell, code: str, n: int, blocks: int) -> tuple[list[float], list[float]]:
    from jupychat.notebook.cells import CellRecord

    without: list[float] = []
    with_record: list[float] = []
    time_cells(shell, code, max(3, n // 10))  # warm up
    for _ in range(blocks):
        without += time_cells(shell, code, n)
        record = CellRecord.install(shell)
        with_record += time_cells(shell, code, n)
        record.uninstall()
    return without, with_record


def hook_time(shell, code: str, n: int) -> float:
    """Seconds per cell spent inside the record's own work (timed directly, not by diff)."""
    from jupychat.notebook.cells import CellRecord

    record = CellRecord.install(shell)
    spent = [0.0]

    def timed(method):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    for name in (
        "_on_format",
        "_on_publish",
        "_on_result",
        "_finish",
        "_append",
        "_patch_streams",
        "_unpatch_streams",
    ):
        setattr(record, name, timed(getattr(record, name)))
    time_cells(shell, code, n)
    record.uninstall()
    return spent[0] / n


def memory_after(shell, cells: int, setup: str, cell_code) -> tuple[int, int, int]:
    """(bytes freed by clearing the record, the record's own count, cells kept)."""
    from jupychat.notebook.cells import CellRecord

    shell.run_cell(setup, store_history=True)
    record = CellRecord.install(shell)
    gc.collect()
    tracemalloc.start()
    for i in range(cells):
        shell.run_cell(cell_code(i), store_history=True)
    gc.collect()
    held, kept, before = record.nbytes, len(record), tracemalloc.get_traced_memory()[0]
    record.clear()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    record.uninstall()
    return before - after, held, kept


def mixed_cell(i: int) -> str:
    """Assignments, prints with a result, and a matplotlib figure every 20th cell."""
    if i % 20 == 0:
        return "fig, ax = plt.subplots(); ax.plot([1, 3, 2], label='s'); ax.legend();"
    if i % 2:
        return f"print('row', {i}, 'of the report'); {i} * 2"
    return f"value_{i % 50} = {i}"


FIGURE_PNG = """
import base64, io
fig, ax = plt.subplots(); ax.plot(range(100), [v * v for v in range(100)], label='squares')
ax.legend(); buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
PNG64 = base64.b64encode(buf.getvalue()).decode()  # as the inline backend sends it
from IPython.display import display
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=300, help="no-output cells per block")
    parser.add_argument("--figures", type=int, default=40, help="figure cells per block")
    parser.add_argument("--blocks", type=int, default=6)
    args = parser.parse_args()
    # the plain shell prints Out[] and figure reprs: send them nowhere
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        shell = make_shell()
        plain = interleaved(shell, "x = 1", args.cells, args.blocks)
        figure = interleaved(
            shell, "fig, ax = plt.subplots(); ax.plot([1, 2, 3]);", args.figures, args.blocks
        )
        direct_plain = hook_time(shell, "x = 1", args.cells)
        direct_figure = hook_time(
            shell, "fig, ax = plt.subplots(); ax.plot([1, 2, 3]);", args.figures
        )
        import matplotlib.pyplot as plt

        from jupychat.context.figures import describe_figure

        fig, ax = plt.subplots()
        ax.plot([1, 2, 3])
        start = time.perf_counter()
        for _ in range(200):
            describe_figure(fig)
        describe_ms = (time.perf_counter() - start) / 200 * 1e3
        plt.close(fig)
        mixed = memory_after(shell, 1_000, "pass", mixed_cell)
        # a figure PNG in every cell (rendered once: matplotlib under tracemalloc is slow)
        figures_only = memory_after(
            shell,
            1_000,
            FIGURE_PNG,
            lambda i: f"display({{'image/png': PNG64, 'text/plain': 'fig {i}'}}, raw=True)",
        )

    print(f"{'measure':<52}{'without':>10}{'with':>10}{'added':>10}{'ratio':>8}")
    for label, (off, on), target in (
        (f"cell with no output (median of {len(plain[0])})", plain, 1.0),
        (f"cell that shows a figure (median of {len(figure[0])})", figure, 5.0),
    ):
        a, b = statistics.median(off) * 1e3, statistics.median(on) * 1e3
        verdict = "ok" if b - a <= target else "OVER"
        print(
            f"{label:<52}{a:>8.3f}ms{b:>8.3f}ms{b - a:>8.3f}ms{b / a:>8.2f}"
            f"  (target ≤ {target:g} ms added: {verdict})"
        )
    print(
        f"{'time inside the record, cell with no output':<52}{'':>10}{'':>10}"
        f"{direct_plain * 1e3:>8.3f}ms  (timed directly)"
    )
    print(
        f"{'time inside the record, cell with a figure':<52}{'':>10}{'':>10}"
        f"{direct_figure * 1e3:>8.3f}ms  (timed directly)"
    )
    print(
        f"{'  of which describe_figure on a 1-line figure':<52}{'':>10}{'':>10}"
        f"{describe_ms:>8.3f}ms"
    )
    for label, (freed, held, kept) in (
        ("memory after 1,000 mixed cells (1 in 20 a figure)", mixed),
        ("memory after 1,000 cells each showing a PNG", figures_only),
    ):
        verdict = "ok" if freed <= 20e6 else "OVER"
        print(
            f"{label:<52}{freed / 1e6:>8.2f}MB  (record's count {held / 1e6:.2f} MB, "
            f"{kept} cells kept; target ≤ 20 MB: {verdict})"
        )


if __name__ == "__main__":
    main()
