"""Run a line of code in terminal IPython (``python -m IPython -c``), for the tests that
check what jupychat prints outside a notebook.

Not a test module. :func:`run_ipython` gives the child a temporary store, config and
IPython folder, the model ``model``, no notebook name, plain colours and a 60 s limit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["run_ipython"]


def run_ipython(
    tmp_path: Path, code: str, model: str = "fake", *, text: bool = True, **env: str
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh terminal IPython; ``env`` adds environment variables.

    Returns the finished process (``stdout``/``stderr`` as text, or bytes when ``text``
    is false).
    """
    full = {
        **os.environ,
        "JUPYCHAT_MODEL": model,
        "JUPYCHAT_STORE": str(tmp_path / "s.db"),
        "JUPYCHAT_CONFIG": str(tmp_path / "c.toml"),
        "IPYTHONDIR": str(tmp_path / "ipy"),
        **env,
    }
    full.pop("JPY_SESSION_NAME", None)
    argv = [sys.executable, "-m", "IPython", "--no-banner", "--colors=NoColor", "--quick"]
    return subprocess.run([*argv, "-c", code], capture_output=True, text=text, env=full, timeout=60)
