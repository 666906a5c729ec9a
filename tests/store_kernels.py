"""Helpers for the store safety tests: kernels in child processes and store readers.

``Kernel`` runs a real IPython shell with jupychat loaded in a child process, driven
line by line over stdin/stdout (one ``%%chat`` cell with a cell id per line, exactly as a
notebook runs them), so a test can interleave two kernels on one store. ``read_only``
makes files and folders read-only for a while, even for root.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from jupychat.store import SessionStore

NOTEBOOK = "/work/shared.ipynb"


KERNEL = textwrap.dedent(
    r"""
    import json, random, sys, time, warnings
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "jupychat")
    from jupychat.notebook import get_chat
    from jupychat.providers.fake import get_fake

    pause = float(sys.argv[1])
    rng = random.Random(sys.argv[2])
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with capture_output():
                result = shell.run_cell("%%chat\n" + cmd["prompt"], cell_id=cmd["cell_id"])
        session = get_chat(shell).session(switch=False)
        sent = get_fake("echo").requests[-1].messages if get_fake("echo").requests else []
        print(json.dumps({
            "ok": bool(result.success),
            "error": repr(result.error_in_exec or result.error_before_exec),
            "id": session.id,
            "title": session.title,
            "history": [m.text for m in session.history if m.role == "user"],
            "sent": [m.text for m in sent if m.role == "user"],
            "warnings": [str(w.message) for w in caught],
        }), flush=True)
        if pause:
            time.sleep(rng.uniform(0, pause))
    """
)


class Kernel:
    """A child process running a real IPython shell with jupychat loaded."""

    def __init__(self, store: Path, tag: str, pause: float = 0.0) -> None:
        env = {
            **os.environ,
            "JUPYCHAT_STORE": str(store),
            "JUPYCHAT_MODEL": "fake:echo",
            "JPY_SESSION_NAME": NOTEBOOK,
            "PYTHONWARNINGS": "default",
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-c", KERNEL, str(pause), tag],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert json.loads(self.readline()) == {"ready": True}

    def readline(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"kernel exited: {err[-3000:]}")
        return line

    def send(self, cell_id: str, prompt: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"op": "cell", "cell_id": cell_id, "prompt": prompt}))
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()

    def run(self, cell_id: str, prompt: str) -> dict:
        self.send(cell_id, prompt)
        reply = json.loads(self.readline())
        assert reply["ok"], reply
        return reply

    def close(self) -> str:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        self.proc.wait(60)
        return self.proc.stderr.read() if self.proc.stderr else ""


def active_turns(store: SessionStore, sid: str) -> list[tuple[str, str]]:
    """(prompt, answer) pairs of the stored session, checking each prompt has its answer."""
    messages = store.load(sid)["messages"]
    pairs = []
    for i in range(0, len(messages), 2):
        user, answer = messages[i], messages[i + 1]
        assert user["role"] == "user" and answer["role"] == "assistant", messages[i : i + 2]
        prompt = user["content"][-1]["text"]
        assert answer["content"][0]["text"] == f"(fake model) You said: {prompt}"
        pairs.append((prompt, answer["content"][0]["text"]))
    return pairs


def texts(messages) -> list[str]:
    return [m["content"][-1]["text"] if isinstance(m, dict) else m.text for m in messages]


def integrity(path: Path) -> None:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')")
    finally:
        conn.close()


def prompts_of(session_or_store, sid=None) -> list[str]:
    if sid is None:
        return [m.text for m in session_or_store.history if m.role == "user"]
    return [
        m["content"][-1]["text"]
        for m in session_or_store.load(sid)["messages"]
        if m["role"] == "user"
    ]


@contextmanager
def read_only(*paths: Path) -> Iterator[None]:
    """Make paths read-only even for root (chattr +i), or by mode for other users."""
    if os.geteuid() != 0:
        modes = [p.stat().st_mode for p in paths]
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, mode in zip(paths, modes, strict=True):
                p.chmod(mode)
        return
    if not shutil.which("chattr"):
        pytest.skip("running as root without chattr: cannot make files read-only")
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i not permitted here: {done.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
