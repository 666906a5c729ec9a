"""The README's Python example runs as printed and prints what its comments say."""

from __future__ import annotations

from doc_examples import REPO, run_example

README = REPO / "README.md"


def test_readme_python_example_runs_as_printed(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text.split("## From Python", 1)[1]
    expected, out = run_example(section, tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == expected[0] == "Paris."
    assert lines[1] == "(fake model) You said: And of Italy?"
    assert lines[2] == expected[1] == "2 4"
