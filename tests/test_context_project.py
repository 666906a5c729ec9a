"""Project context: directory, README head, git summary, versions; bounded and offline."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from jupychat.context import estimate_tokens, project_context

git = shutil.which("git")


def _git(path, *args):
    subprocess.run(
        ["git", *args],
        cwd=path,
        check=True,
        capture_output=True,
        env={
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.com",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.com",
            "HOME": str(path),
            "PATH": "/usr/bin:/bin",
        },
    )


@pytest.mark.skipif(git is None, reason="git is not installed")
def test_git_project(tmp_path):
    (tmp_path / "README.md").write_text(
        "# Sales analysis\n\nKey: sk-abcdefghijklmnopqrstuvwx\n"
        + "".join(f"line {i}\n" for i in range(100))
    )
    (tmp_path / "data").mkdir()
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "README.md")
    _git(tmp_path, "commit", "-q", "-m", "first commit")
    (tmp_path / "new.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("# Sales analysis\nchanged\n")
    text = project_context(tmp_path)
    assert f"directory: {tmp_path}" in text
    assert "contents: README.md, data/, new.py" in text
    assert "git: branch main" in text and "first commit" in text
    assert "0 staged, 1 modified, 1 untracked" in text
    assert "README.md (first 30 lines):\n# Sales analysis" in text
    assert "python: 3." in text and "pandas" in text
    assert "sk-abc" not in project_context(tmp_path)


def test_plain_directory_and_caps(tmp_path):
    for i in range(100):
        (tmp_path / f"file_{i:03}.csv").write_text("a,b\n")
    text = project_context(tmp_path, budget=120)
    assert "git:" not in text
    assert estimate_tokens(text) <= 120
    full = project_context(tmp_path)
    assert "(100 entries)" in full and "file_029.csv" in full and "file_030.csv" not in full


def test_missing_directory_is_described_not_raised(tmp_path):
    text = project_context(tmp_path / "nowhere")
    assert "contents: unreadable (FileNotFoundError)" in text
