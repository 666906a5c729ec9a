"""``make lab`` serves the project folder and opens the quickstart (issue 14).

Runs the exact ``jupyter lab`` arguments the Makefile uses (``make -n lab`` prints them),
on a free loopback port, and checks that ``/`` leads to
``/lab/tree/notebooks/quickstart.ipynb``, that the page and the file are served, and that the
project root (README.md) is visible to the file browser.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.kernel


def lab_arguments() -> list[str]:
    make = shutil.which("make")
    if make is None:
        pytest.skip("needs make")
    printed = subprocess.run(
        [make, "-n", "-W", "pyproject.toml", "lab", "STAMP=/dev/null"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in printed.splitlines() if "jupyter lab" in x)
    words = shlex.split(line)
    return words[words.index("lab") + 1 :]


def test_make_lab_serves_the_project_and_opens_the_quickstart(tmp_path):
    args = [a for a in lab_arguments() if a != "--allow-root"]
    assert any(a.startswith("--ServerApp.root_dir=") for a in args)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "rt")
    command = [sys.executable, "-m", "jupyterlab", *args, "--no-browser", "--ip=127.0.0.1"]
    command += [f"--port={port}", "--IdentityProvider.token=t", "--allow-root"]
    lab = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": "token t"}
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                httpx.get(base + "/api/status", headers=headers, timeout=2)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "JupyterLab did not start"
                time.sleep(0.5)
        first = httpx.get(base + "/", headers=headers, follow_redirects=False)
        location = first.headers["location"].rstrip("?")
        assert location.endswith("/lab/tree/notebooks/quickstart.ipynb")
        page = httpx.get(base + "/lab/tree/notebooks/quickstart.ipynb", headers=headers)
        assert page.status_code == 200
        for path in ("notebooks/quickstart.ipynb", "README.md"):
            got = httpx.get(f"{base}/api/contents/{path}?content=0", headers=headers)
            assert got.status_code == 200, path
    finally:
        lab.terminate()
        lab.wait(timeout=30)
