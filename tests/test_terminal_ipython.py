"""jupychat in terminal IPython: a real ``ipython`` process fed through its stdin.

Each test starts ``ipython --simple-prompt`` (the terminal front end, not a kernel) with
this checkout on ``PYTHONPATH``, a temporary store and config, and the model pointed at
``tests/fakeserver.py`` (a subprocess on 127.0.0.1). What the tests read is what a user
sees in the terminal.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from fixtures_server import script

pytestmark = pytest.mark.timeout(120)

REPO = Path(__file__).resolve().parent.parent
IPYTHON = Path(sys.executable).with_name("ipython")


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]|\r")


def _controlling_tty() -> None:
    """In the child: make the pseudo-terminal its controlling terminal (Ctrl-C works)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """A running ``ipython --simple-prompt`` on a pseudo-terminal: type lines (Ctrl-C
    too, through the terminal's line discipline), read what it printed."""

    def __init__(self, tmp_path: Path, url: str) -> None:
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO / "src"),
            "IPYTHONDIR": str(tmp_path / "ipython"),
            "JUPYCHAT_STORE": str(tmp_path / "sessions.db"),
            "JUPYCHAT_CONFIG": str(tmp_path / "config.toml"),
            "JUPYCHAT_MODEL": f"openai-compatible:fake@{url}/v1",
            "TERM": "xterm",
            "NO_COLOR": "1",
        }
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
        cmd = [str(IPYTHON), "--simple-prompt", "--no-banner", "--colors=nocolor"]
        self.proc = subprocess.Popen(
            cmd,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
            preexec_fn=_controlling_tty,
        )
        os.close(slave)
        self.out = b""

    def type(self, line: str) -> None:
        os.write(self.master, line.encode() + b"\n")

    def interrupt(self) -> None:
        """Ctrl-C, as a user presses it."""
        os.write(self.master, b"\x03")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # the process ended and closed the terminal
            return False
        self.out += chunk
        return bool(chunk)

    def read_until(self, pattern: str, timeout: float = 30.0) -> str:
        """Read output until ``pattern`` (a regex) matches what was printed so far."""
        deadline = time.time() + timeout
        while not re.search(pattern, self.text):
            left = deadline - time.time()
            assert left > 0, f"no {pattern!r} in:\n{self.text}"
            assert self._read(left), f"ipython ended before {pattern!r}:\n{self.text}"
        return self.text

    @property
    def text(self) -> str:
        return ANSI.sub("", self.out.decode("utf-8", "replace"))

    def close(self) -> str:
        self.type("print('--bye--')")
        # the line's end too: "exit" typed before it is echoed onto the marker's line
        self.read_until(r"\]: --bye--\r?\n")
        self.type("exit")
        deadline = time.time() + 30
        while self.proc.poll() is None and time.time() < deadline:
            self._read(0.2)
        while self._read(0.1) and select.select([self.master], [], [], 0)[0]:
            pass
        os.close(self.master)
        return self.text


@pytest.fixture
def term(tmp_path, model_server):
    terminal = Terminal(tmp_path, model_server)
    yield terminal
    if terminal.proc.poll() is None:
        terminal.proc.kill()
        terminal.proc.wait(10)


def run(term: Terminal, *lines: str) -> str:
    """Type ``lines``, exit, and return everything ipython printed."""
    for line in lines:
        term.type(line)
    return term.close()


def between(text: str, start: str, end: str) -> str:
    """The output after the prompt that ran ``start`` up to the next prompt."""
    lines = text.splitlines()

    def printed(marker: str, after: int = 0) -> int:
        # a line where the print() ran (the typed command was echoed before: skip it)
        for i in range(after, len(lines)):
            if re.fullmatch(r"(In \[\d+\]: )?" + re.escape(marker) + r"\s*", lines[i]):
                return i
        raise AssertionError(f"{marker!r} was never printed:\n{text}")

    first = printed(start)
    return "\n".join(lines[first + 1 : printed(end, first + 1)])


def test_history_prints_the_conversation_as_text(term):
    out = run(
        term,
        "%load_ext jupychat",
        "%chat ask What is 2 + 2?",
        "print('--history--')",
        "%chat history",
        "print('--end--')",
    )
    shown = between(out, "--history--", "--end--")
    assert "object>" not in out, out
    assert "You:\nWhat is 2 + 2?" in shown
    assert "You said: What is 2 + 2?" in shown


def test_no_command_prints_an_object_repr(term, model_server):
    """Every read-only %chat command prints readable text in a terminal."""
    commands = [
        "%chat help",
        "%chat history",
        "%chat history 1",
        "%chat sessions",
        "%chat context x",
        "%chat cells",
        "%chat config",
        "%chat memory",
        "%chat model",
        "%chat models",
        "%chat stats",
    ]
    out = run(
        term,
        "%load_ext jupychat",
        "x = 41",
        'get_ipython().run_cell_magic("chat", "", "Hello from a cell")',
        *commands,
    )
    assert not re.search(r"<[\w.]+ object( at 0x[0-9a-f]+)?>", out), out
    assert "Traceback" not in out, out


def test_help_starts_with_a_whole_sentence(term):
    out = run(term, "%load_ext jupychat", "print('--help--')", "%chat help")
    lines = [ln for ln in between(out, "--help--", "--bye--").splitlines() if ln.strip()]
    first = re.sub(r"^In \[\d+\]: ", "", lines[0]).strip()
    assert first.endswith("."), first
    assert len(first) <= 79, first  # one line in an 80-column terminal
    assert first[0].isupper() or first.startswith("%"), first


def test_stats_after_an_interrupted_turn_count_tokens(term, model_server):
    words = " ".join(f"word{i}" for i in range(400))
    script(model_server, text=words, chunk_size=6, chunk_delay=0.05)
    term.type("%load_ext jupychat")
    term.type("%chat ask Please write four hundred words about tokens.")
    term.read_until(r"word1\d")  # the answer is streaming
    term.interrupt()
    term.read_until(r"interrupted|stopped")
    term.type("print('--stats--')")
    term.type("%chat stats")
    out = term.close()
    stats = between(out, "--stats--", "--bye--")
    match = re.search(r"tokens: ~?([\d,]+) in .*?/ ~?([\d,]+) out(.*)", stats)
    assert match, stats
    tokens_in, tokens_out = (int(g.replace(",", "")) for g in match.group(1, 2))
    assert tokens_in > 5 and tokens_out > 5, stats
    assert "estimate" in stats, stats  # an estimate says it is one
