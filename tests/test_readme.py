"""The README's Python example runs as printed and prints what its comments say."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs_as_printed(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    expected = [m.group(1).strip() for m in re.finditer(r"#\s*->\s*(.*)$", code, re.MULTILINE)]
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        env={
            "JUPYCHAT_STORE": str(tmp_path / "s.db"),
            "JUPYCHAT_CONFIG": str(tmp_path / "c.toml"),
            "PATH": "/usr/bin:/bin",
        },
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == expected[0] == "Paris."
    assert lines[1] == "(fake model) You said: And of Italy?"
    assert lines[2] == expected[1] == "2 4"
