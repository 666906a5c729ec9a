"""Run one cell in an in-process IPython shell (``notebook_shell``) and check it worked.

Not a test module. :func:`run` captures what the cell shows and fails the test, with the
cell's error, when the cell did not succeed.
"""

from __future__ import annotations

from typing import Any

from IPython.utils.capture import CapturedIO, capture_output

__all__ = ["run"]


def run(shell: Any, cell: str) -> CapturedIO:
    """Run ``cell`` in ``shell``; its captured outputs (the test fails if the cell did)."""
    with capture_output() as captured:
        result = shell.run_cell(cell)
    assert result.success, result.error_in_exec or result.error_before_exec
    return captured
