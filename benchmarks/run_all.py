"""Run every benchmark in this folder, one after another (`make bench`).

Each script prints its own table with ratios against a baseline measured in the same run.
Pass script names to run only some: `python benchmarks/run_all.py notebook store`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failed = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)])
        failed += result.returncode != 0
        print(
            f"({script.stem}: {time.perf_counter() - start:.0f}s, exit {result.returncode})",
            flush=True,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
