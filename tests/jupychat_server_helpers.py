"""Start a real Jupyter Server (or JupyterLab) on 127.0.0.1 for the server-extension tests.

The server runs in a subprocess with temporary config, data and runtime folders, a random
token, and ``JUPYCHAT_STORE`` pointing at a temporary store. No ``jpserver_extensions``
flag is passed: the jupychat extension must load because the installed
``etc/jupyter/jupyter_server_config.d/jupychat.json`` enables it, as it does for a user.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jupychat.store import SessionStore


@dataclass
class JupyterServer:
    url: str
    token: str
    root: Path
    store_path: Path
    log: Path
    argv: list[str] = field(default_factory=list)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def api(self, path: str = "") -> str:
        return f"{self.url}/jupychat/api/{path}"

    def client(self, **kwargs: Any) -> httpx.Client:
        """A client that sends the token (pass ``headers={}`` for an anonymous one)."""
        kwargs.setdefault("headers", self.auth)
        return httpx.Client(timeout=20, follow_redirects=False, **kwargs)

    def store(self) -> SessionStore:
        return SessionStore(self.store_path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def run_jupyter(
    base: Path,
    *,
    app: str = "jupyter_server",
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    store_path: Path | None = None,
    base_url: str = "/",
) -> Iterator[JupyterServer]:
    """Run ``python -m <app>`` until the context exits; wait until jupychat answers.

    ``JupyterServer.url`` includes ``base_url`` (without the trailing slash).
    """
    root = base / "root"
    root.mkdir(parents=True, exist_ok=True)
    store = store_path or base / "store" / "sessions.db"
    port, token = free_port(), secrets.token_hex(16)
    url = f"http://127.0.0.1:{port}" + base_url.rstrip("/")
    argv = [
        sys.executable,
        "-m",
        app,
        "--no-browser",
        "--allow-root",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--ServerApp.base_url={base_url}",
        *extra_args,
    ]
    full_env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "lab-user-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "lab-workspaces"),
        "JUPYCHAT_STORE": str(store),
        "JUPYCHAT_CONFIG": str(base / "jupychat-config.toml"),
        **(env or {}),
    }
    log = base / f"server-{uuid.uuid4().hex[:6]}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=full_env, stdout=out, stderr=subprocess.STDOUT)
    server = JupyterServer(url, token, root, store, log, argv)
    try:
        _wait_ready(proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_ready(proc: subprocess.Popen[bytes], server: JupyterServer) -> None:
    deadline = time.monotonic() + 90
    with httpx.Client(timeout=2, headers=server.auth) as client:
        while True:
            if proc.poll() is not None:
                raise AssertionError("Jupyter Server exited:\n" + server.log.read_text())
            if time.monotonic() > deadline:
                raise AssertionError("Jupyter Server did not start:\n" + server.log.read_text())
            try:
                status = client.get(f"{server.url}/api/status")
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if status.status_code == 200:
                break
            time.sleep(0.1)
        answer = client.get(server.api("sessions"))
    assert answer.status_code == 200, (
        f"the jupychat server extension did not load from the installed config "
        f"(GET jupychat/api/sessions -> {answer.status_code}); reinstall with "
        f"`pip install -e .` so etc/jupyter/jupyter_server_config.d/jupychat.json exists.\n"
        + server.log.read_text()[-4000:]
    )


def text_message(role: str, text: str, **fields: Any) -> dict[str, Any]:
    return {"role": role, "content": [{"type": "text", "text": text}], **fields}


def make_session(
    store: SessionStore,
    turns: Sequence[tuple[str, str]],
    *,
    usage: tuple[int, int] = (10, 20),
    **fields: Any,
) -> str:
    """A stored session from (prompt, reply) pairs; each reply carries ``usage``."""
    messages = []
    for prompt, reply in turns:
        messages.append(text_message("user", prompt))
        messages.append(
            text_message(
                "assistant",
                reply,
                model=fields.get("model", "fake:echo"),
                usage={"input_tokens": usage[0], "output_tokens": usage[1]},
            )
        )
    fields.setdefault("model", "fake:echo")
    return store.create(messages=messages, **fields)
