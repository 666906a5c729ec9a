"""Run a documentation page's Python example as a reader would, for the docs tests.

Not a test module. :func:`run_example` runs the first fenced ``python`` block of a
Markdown text in a fresh interpreter (this checkout's ``src`` on the path, a temporary
store and config, no API keys in the environment) and returns what its ``# -> ...``
comments promise next to what it printed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

__all__ = ["REPO", "run_example"]

REPO = Path(__file__).resolve().parents[1]


def run_example(markdown: str, tmp_path: Path) -> tuple[list[str], subprocess.CompletedProcess]:
    """``(expected, finished)``: the ``# -> text`` comments of the first ``python`` block in
    ``markdown``, and the finished run of that block (``stdout``, ``stderr``, ``returncode``)."""
    match = re.search(r"```python\n(.*?)```", markdown, re.DOTALL)
    assert match, "no ```python block"
    code = match.group(1)
    expected = [m.group(1).strip() for m in re.finditer(r"#\s*->\s*(.*)$", code, re.MULTILINE)]
    finished = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={
            "JUPYCHAT_STORE": str(tmp_path / "s.db"),
            "JUPYCHAT_CONFIG": str(tmp_path / "c.toml"),
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO / "src"),
        },
    )
    return expected, finished
