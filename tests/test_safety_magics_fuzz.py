"""Fuzzing the magics' argument parsing: any option line and any ``%chat`` command line
either works or fails with one UsageError line; the session is left consistent."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from jupychat.notebook import get_chat, unload_ipython_extension

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_FLAGS = [
    "-m",
    "--model",
    "--new",
    "--session",
    "--system",
    "--context",
    "--project",
    "--no-stream",
    "--format",
    "--out",
    "--temperature",
    "--max-tokens",
    "--",
    "-x",
    "--bogus",
    "-",
    "--model=",
    "--format=code",
]
_VALUES = st.one_of(
    st.sampled_from(
        [
            "fake:fuzz",
            "fake",
            "nope:model",
            "local:/nonexistent.gguf",
            "code",
            "text",
            "markdown",
            "html",
            "0",
            "-1",
            "2.5",
            "nan",
            "inf",
            "1e999",
            "answer",
            "get_ipython",
            "In",
            "a,b",
            "df",
            "'",
            '"',
            "\\",
            "{x}",
            "@x",
            "",
            " ",
            "\u202e",
            "\x00",
            "²",
            "٣",
            "ｘ",
        ]
    ),
    st.text(max_size=12),
    st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=3),
)
_TOKEN = st.one_of(st.sampled_from(_FLAGS), _VALUES)
_COMMANDS = [
    "model",
    "models",
    "history",
    "clear",
    "new",
    "sessions",
    "use",
    "fork",
    "merge",
    "rename",
    "import",
    "export",
    "context",
    "stats",
    "memory",
    "config",
    "error",
    "ask",
    "help",
    "nope",
    "",
    "HISTORY",
    "memory set",
    "memory clear",
]


@pytest.fixture
def shell(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # exports and imports with relative paths land here
    monkeypatch.setenv("JUPYCHAT_MODEL", "fake:fuzz")
    monkeypatch.setenv("JPY_SESSION_NAME", str(tmp_path / "fuzz.ipynb"))
    InteractiveShell.clear_instance()
    sh = InteractiveShell.instance()
    sh.run_line_magic("load_ext", "jupychat")
    sh.user_ns["x"] = 3
    yield sh
    unload_ipython_extension(sh)
    InteractiveShell.clear_instance()


def _line(tokens: list[str]) -> str:
    # half the time quoted properly, half raw (unbalanced quotes included)
    return " ".join(tokens)


def _check(shell, cell: str) -> None:
    chat = get_chat(shell)
    before = chat.session(switch=False)
    n_before = len(before)
    with capture_output() as out:
        result = shell.run_cell(cell)
    if not result.success:
        exc = result.error_in_exec or result.error_before_exec
        assert type(exc).__name__ == "UsageError", (cell, repr(exc))
        assert "\n" not in str(exc).strip(), (cell, str(exc))
        assert "Traceback" not in out.stdout + out.stderr, cell
        # a refused cell leaves the session it would have used as it was
        assert len(before) == n_before, cell
    # whatever happened, the current session's history is a valid sequence of turns
    history = chat.session(switch=False).history
    assert all(m.role in ("system", "user", "assistant", "tool") for m in history)
    assert not history or history[0].role in ("system", "user"), cell


@FUZZ
@given(
    tokens=st.lists(_TOKEN, max_size=6),
    quote=st.booleans(),
    body=st.sampled_from(
        ["What is 2 + 2?", "", "   ", "{x} and @x", "{missing}", "{{x}}", "`{x}`", "@nope"]
    ),
)
def test_chat_cell_option_lines(shell, tokens, quote, body):
    line = " ".join(shlex.quote(t) for t in tokens) if quote else _line(tokens)
    if len(f"{line}x".splitlines()) > 1:
        return  # the first line of a cell cannot hold a line break (IPython splits it)
    _check(shell, f"%%chat {line}\n{body}")


@pytest.mark.parametrize("command", _COMMANDS)
@settings(FUZZ, max_examples=60)
@given(args=st.lists(_VALUES, max_size=4), quote=st.booleans())
def test_chat_line_commands(shell, command, args, quote):
    words = [shlex.quote(a) for a in args] if quote else list(args)
    line = f"{command} {' '.join(words)}".strip()
    if len(f"{line}x".splitlines()) > 1:
        return  # IPython splits the cell there: not one magic line
    _check(shell, f"%chat {line}")
