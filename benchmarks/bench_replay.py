"""Replay cost: time to replay a notebook of 50 ``%%chat`` cells (target: < 50 ms a cell).

Records 50 ``%%chat`` cells (each naming one of five 2,000-row DataFrames) against the
in-process ``fake`` provider, saves them as an ``.ipynb`` whose answer outputs carry
their recordings, then, in a fresh shell with a fresh empty store and
``JUPYCHAT_REPLAY=strict``, runs the same cells again from that file. Prints the time
per cell of both passes (the live pass, with a provider that answers at once, is the
same-run baseline), their ratio, and checks that the replay made no model call and
showed the same answers.

    python benchmarks/bench_replay.py [--cells 50] [--rows 2000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 50.0


def make_shell(store: Path) -> object:
    from IPython.core.interactiveshell import InteractiveShell

    os.environ["JUPYCHAT_STORE"] = str(store)
    InteractiveShell.clear_instance()
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupychat")
    return shell


def add_frames(shell: object, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    for n in range(5):
        shell.user_ns[f"df{n}"] = pd.DataFrame(  # type: ignore[attr-defined]
            {
                "id": np.arange(rows),
                "amount": rng.normal(100, 15, rows).round(2),
                "region": rng.choice(["north", "south", "east", "west"], rows),
            }
        )


def run_cells(shell: object, cells: list[str]) -> tuple[list[float], list[object]]:
    """Seconds per cell, and each cell's final answer output."""
    from IPython.utils.capture import capture_output

    times, answers = [], []
    for source in cells:
        with capture_output() as captured:
            start = time.perf_counter()
            result = shell.run_cell(source)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - start)
        if not result.success:
            raise SystemExit(f"cell failed: {result.error_in_exec}")
        answers.append(
            [o for o in captured.outputs if "jc-answer" in o.data.get("text/html", "")][-1]
        )
    return times, answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=50)
    parser.add_argument("--rows", type=int, default=2000)
    args = parser.parse_args()

    import nbformat

    from jupychat.notebook import unload_ipython_extension
    from jupychat.providers.fake import get_fake

    tmp = Path(tempfile.mkdtemp(prefix="jupychat-bench-replay-"))
    path = tmp / "bench.ipynb"
    os.environ.update(
        JUPYCHAT_CONFIG=str(tmp / "config.toml"),
        JUPYCHAT_MODEL="fake:bench",
        JPY_SESSION_NAME=str(path),
    )
    os.environ.pop("JUPYCHAT_REPLAY", None)
    cells = [
        f"%%chat\nQuestion {i}: what stands out in @df{i % 5}, by region?"
        for i in range(args.cells)
    ]
    fake = get_fake("bench")

    shell = make_shell(tmp / "record.db")
    add_frames(shell, args.rows)
    live, recorded = run_cells(shell, cells)
    calls = len(fake.requests)
    unload_ipython_extension(shell)
    nb = nbformat.v4.new_notebook()
    for source, answer in zip(cells, recorded, strict=True):
        cell = nbformat.v4.new_code_cell(source)
        cell.outputs = [
            nbformat.v4.new_output(
                "display_data", data=dict(answer.data), metadata=dict(answer.metadata)
            )
        ]
        nb.cells.append(cell)
    nbformat.write(nb, path)

    os.environ["JUPYCHAT_REPLAY"] = "strict"
    shell = make_shell(tmp / "fresh" / "replay.db")
    add_frames(shell, args.rows)
    replay, replayed = run_cells(shell, cells)
    unload_ipython_extension(shell)

    same = all(
        a.data["text/plain"] == b.data["text/plain"]
        for a, b in zip(recorded, replayed, strict=True)
    )
    model_calls = len(fake.requests) - calls
    ms = [t * 1000 for t in replay]
    live_ms = [t * 1000 for t in live]
    print(f"notebook of {args.cells} %%chat cells, DataFrames of {args.rows:,} rows")
    print(
        f"live (in-process fake model, baseline): median {statistics.median(live_ms):.1f} ms "
        f"a cell, total {sum(live_ms):.0f} ms"
    )
    print(
        f"replay (strict, fresh store, from the .ipynb): median {statistics.median(ms):.1f} ms, "
        f"mean {statistics.mean(ms):.1f} ms, max {max(ms):.1f} ms a cell, total {sum(ms):.0f} ms"
    )
    print(f"ratio replay/live (median): {statistics.median(ms) / statistics.median(live_ms):.2f}")
    print(f"model calls during replay: {model_calls}; answers identical: {same}")
    ok = statistics.mean(ms) < TARGET_MS and model_calls == 0 and same
    print(f"target < {TARGET_MS:.0f} ms a cell, no model call: {'met' if ok else 'NOT met'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
