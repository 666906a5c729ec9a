"""Before and after for ``bench_chat_cells.py`` in one command: this tree against a git ref.

Run: ``python benchmarks/ab_chat_cells.py [--against HEAD | --patch FILE] [--pairs 8]
[--cells 10]``

Why: a change worth 0.5 ms in a 15-20 ms cell is smaller than what a shared machine does
to one round (the floor cell has ranged from 14 to 46 ms within an hour). So the two
versions are measured in turns, one round each, the order swapped every pair, and each
figure is reported as the median over its rounds and as the median of the paired
differences (after minus before). The CPU ratios move less with the machine than the
wall ratio does.

``--against`` is any git ref (default ``HEAD``: the working tree against the last commit,
uncommitted changes included). Its tree is checked out in a temporary git worktree,
removed at the end; each round runs that tree's own ``bench_chat_cells.py``, whose kernel
imports that tree's ``src``.

``--patch FILE`` measures an idea before it is written: "before" is this tree, "after" is
this tree with the file's Python run in the kernel right after ``%load_ext jupychat``
(``bench_chat_cells.py --after-load``), e.g. a function of ours replaced by another.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FIGURES = ("ratio", "cpu_ratio", "thread_ratio", "chat_ms", "floor_ms")


def one_round(tree: Path, cells: int, tokens: int, patch: str | None = None) -> dict[str, Any]:
    """One round of ``tree``'s ``bench_chat_cells.py`` (``patch``: run after the load):
    the JSON figures it prints last."""
    done = subprocess.run(
        [
            sys.executable,
            str(tree / "benchmarks" / "bench_chat_cells.py"),
            "--rounds",
            "1",
            "--cells",
            str(cells),
            "--tokens",
            str(tokens),
            *(["--after-load", patch] if patch else []),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode or not lines:
        raise SystemExit(f"a round of {tree} failed:\n{done.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="git ref to compare with")
    parser.add_argument(
        "--patch", metavar="FILE", help="compare this tree with itself patched by FILE instead"
    )
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--cells", type=int, default=10)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args()
    patch = str(Path(args.patch).resolve()) if args.patch else None
    if patch is not None and not Path(patch).is_file():
        raise SystemExit(f"--patch {args.patch}: no such file; give a file of Python")

    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        if patch is None:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.against],
                check=True,
                capture_output=True,
            )
        try:
            trees = {"before": ROOT if patch else before, "after": ROOT}
            patches = {"before": None, "after": patch}
            runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
            for pair in range(args.pairs):
                order = ("before", "after") if pair % 2 == 0 else ("after", "before")
                for name in order:
                    figures = one_round(trees[name], args.cells, args.tokens, patches[name])
                    runs[name].append(figures)
                    print(
                        f"pair {pair + 1} {name:<6} wall {figures['ratio']:.3f}x  "
                        f"cpu {figures['cpu_ratio']:.3f}x  thread {figures['thread_ratio']:.3f}x"
                        f"  chat {figures['chat_ms']:.1f} ms  floor {figures['floor_ms']:.1f} ms",
                        flush=True,
                    )
        finally:
            if patch is None:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)],
                    capture_output=True,
                )

    print()
    print(f"{args.pairs} pairs, one round each, order swapped every pair; medians of the rounds")
    print(f"{'figure':<14}{'before':>9}{'after':>9}{'paired after-before':>22}{'after lower':>13}")
    for key in FIGURES:
        b = [r[key] for r in runs["before"]]
        a = [r[key] for r in runs["after"]]
        diffs = [y - x for x, y in zip(b, a, strict=True)]
        lower = sum(d < 0 for d in diffs)
        print(
            f"{key:<14}{statistics.median(b):>9.3f}{statistics.median(a):>9.3f}"
            f"{statistics.median(diffs):>+22.3f}{f'{lower}/{len(diffs)}':>13}"
        )
    print("target: wall ratio <= 1.25x (median of cells 2..N, kernel time - server time)")


if __name__ == "__main__":
    main()
