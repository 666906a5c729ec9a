"""Notebook-layer costs: `%load_ext jupychat` start-up, and client time per `%%chat` turn.

1. Whole-process time to start IPython and `%load_ext jupychat`, against IPython alone,
   in the same run (median of N fresh processes each). Target: under 50 ms added.
2. Client-side time from the start of a `%%chat` cell to the request being handed to the
   provider, with three 1,000,000-row DataFrames named in the prompt: first turn (cold:
   describing them) and second turn (cached: unchanged, nothing re-described). Target for
   the cached turn: under 10 ms.

    python benchmarks/bench_notebook.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

BASE = (
    "from IPython.core.interactiveshell import InteractiveShell; sh = InteractiveShell.instance()"
)
LOAD = (
    BASE + "; import time; t = time.perf_counter(); sh.run_line_magic('load_ext', 'jupychat'); "
    "print(time.perf_counter() - t)"
)


def process_time(code: str, runs: int, env: dict[str, str]) -> tuple[float, float | None]:
    """Median wall time of fresh processes, and the median of what they print (if any)."""
    times, printed = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True
        ).stdout.strip()
        times.append(time.perf_counter() - start)
        if out:
            printed.append(float(out.splitlines()[-1]))
    return statistics.median(times), statistics.median(printed) if printed else None


def turn_times(rows: int, turns: int) -> list[float]:
    import numpy as np
    import pandas as pd
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from jupychat.notebook import get_chat

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupychat")
    rng = np.random.default_rng(0)
    for name in ("orders", "customers", "events"):
        shell.user_ns[name] = pd.DataFrame(
            {
                "id": np.arange(rows),
                "value": rng.normal(size=rows),
                "group": pd.Categorical(rng.choice(list("abcde"), rows)),
                "label": rng.choice(["x", "y", "z"], rows).astype(object),
                "when": pd.date_range("2024-01-01", periods=rows, freq="min"),
            }
        )
    session = get_chat(shell).session()
    marks: list[float] = []
    session.hooks.add("request", lambda request: marks.append(time.perf_counter()))
    results = []
    for i in range(turns):
        with capture_output():
            start = time.perf_counter()
            shell.run_cell(f"%%chat\nCompare @orders, @customers and @events (turn {i}).")
        results.append(marks[-1] - start)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    env = {
        **os.environ,
        "JUPYCHAT_STORE": f"{tmp}/s.db",
        "JUPYCHAT_CONFIG": f"{tmp}/c.toml",
        "JUPYCHAT_MODEL": "fake",
        "IPYTHONDIR": f"{tmp}/ipython",
    }
    os.environ.update(
        {k: env[k] for k in ("JUPYCHAT_STORE", "JUPYCHAT_CONFIG", "JUPYCHAT_MODEL", "IPYTHONDIR")}
    )
    # As installed: bytecode cached (PYTHONDONTWRITEBYTECODE would make every run compile).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    process_time(BASE, 2, env)  # warm the file cache and write .pyc files
    process_time(LOAD, 2, env)
    bare, _ = process_time(BASE, args.runs, env)
    loaded, inside = process_time(LOAD, args.runs, env)
    turns = turn_times(args.rows, 4)
    print(f"{'measure':<52}{'value':>12}{'baseline':>12}{'ratio':>8}")
    label = f"IPython start (median of {args.runs} processes)"
    print(f"{label:<52}{bare * 1e3:>10.1f}ms")
    print(
        f"{'IPython start + %load_ext jupychat':<52}{loaded * 1e3:>10.1f}ms{bare * 1e3:>10.1f}ms{loaded / bare:>8.2f}"
    )
    added = (loaded - bare) * 1e3
    print(f"{'added by %load_ext jupychat (target < 50 ms)':<52}{added:>10.1f}ms")
    print(f"{'  the load_ext call itself, timed in-process':<52}{(inside or 0) * 1e3:>10.1f}ms")
    print(f"{'%%chat start→request, turn 1 (describe 3×1M rows)':<52}{turns[0] * 1e3:>10.1f}ms")
    cached = statistics.median(turns[1:])
    print(
        f"{'%%chat start→request, later turns (cached, < 10 ms)':<52}{cached * 1e3:>10.1f}ms{turns[0] * 1e3:>10.1f}ms{cached / turns[0]:>8.3f}"
    )


if __name__ == "__main__":
    main()
