"""Project context (opt-in): where the notebook runs, what the project is, its git state.

Design note: modelled on cassidyr's ``cassidy_context_project`` but bounded: the working
directory, a few top-level entries, the first lines of the README, the git branch, the
last commit and a *summary* of ``git status`` (counts, a few paths), the Python version
and the versions of key packages read from installed metadata (nothing is imported).
git runs as a subprocess with a timeout and no prompts; any failure leaves its section
out. The text is capped at ``budget`` tokens and passed through the secret redactor.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

from .budget import cap_text
from .privacy import redact_secrets

__all__ = ["project_context"]

KEY_PACKAGES = (
    "jupychat",
    "numpy",
    "pandas",
    "polars",
    "pyarrow",
    "scipy",
    "scikit-learn",
    "matplotlib",
    "torch",
    "ipython",
    "jupyterlab",
)
README_NAMES = ("README.md", "README.rst", "README.txt", "README")


def _git(args: list[str], cwd: Path, timeout: float) -> str | None:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_OPTIONAL_LOCKS": "0", "LC_ALL": "C"}
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def _git_lines(cwd: Path, timeout: float) -> list[str]:
    status = _git(
        ["status", "--porcelain=v1", "--branch", "--untracked-files=normal"], cwd, timeout
    )
    if status is None:
        return []
    rows = status.splitlines()
    branch = rows[0][3:] if rows and rows[0].startswith("## ") else "?"
    changes = rows[1:] if rows and rows[0].startswith("## ") else rows
    staged = sum(1 for r in changes if r[:1] not in (" ", "?"))
    modified = sum(1 for r in changes if r[1:2] not in (" ", "?") and r[:2] != "??")
    untracked = sum(1 for r in changes if r.startswith("??"))
    lines = [f"git: branch {branch}"]
    last = _git(["log", "-1", "--format=%h %s (%cr)"], cwd, timeout)
    if last:
        lines.append(f"last commit: {last.strip()[:120]}")
    if changes:
        lines.append(f"working tree: {staged} staged, {modified} modified, {untracked} untracked")
        for r in changes[:8]:
            lines.append(f"  {r[:100]}")
        if len(changes) > 8:
            lines.append(f"  … {len(changes) - 8} more")
    else:
        lines.append("working tree: clean")
    return lines


def _versions() -> str:
    from importlib import metadata

    found = []
    for name in KEY_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except Exception:
            continue
    return ", ".join(found)


def project_context(
    path: str | os.PathLike[str] | None = None,
    *,
    budget: int = 800,
    readme_lines: int = 30,
    git_timeout: float = 2.0,
) -> str:
    """A short description of the project around ``path`` (default: the working directory).

    Parameters
    ----------
    path:
        The project directory.
    budget:
        Token cap of the result.
    readme_lines:
        How many README lines to include.
    git_timeout:
        Seconds each git command may take.
    """
    root = Path(path) if path is not None else Path.cwd()
    lines = [f"### Project: {root.name or root}", f"directory: {root}"]
    try:
        entries = sorted(
            p.name + ("/" if p.is_dir() else "")
            for p in root.iterdir()
            if not p.name.startswith(".")
        )
        if entries:
            shown = ", ".join(entries[:30]) + (
                f", … ({len(entries)} entries)" if len(entries) > 30 else ""
            )
            lines.append(f"contents: {shown}")
    except OSError as exc:
        lines.append(f"contents: unreadable ({type(exc).__name__})")
    lines.extend(_git_lines(root, git_timeout))
    lines.append(f"python: {platform.python_version()} ({sys.platform})")
    versions = _versions()
    if versions:
        lines.append(f"packages: {versions}")
    for name in README_NAMES:
        readme = root / name
        if readme.is_file():
            try:
                with readme.open(encoding="utf-8", errors="replace") as fh:
                    head = [next(fh, "") for _ in range(readme_lines)]
            except OSError:
                break
            text = "".join(head).rstrip()
            if text:
                lines.append(f"{name} (first {readme_lines} lines):")
                lines.append(text[:3000])
            break
    return cap_text(redact_secrets("\n".join(lines)), budget)
