"""Hostile input at the notebook's edges: code shown for approval, names, paths, prompts,
session files. Each case ends in one clear line (or works), never in a traceback, and
leaves the session and the kernel as they were."""

from __future__ import annotations

import json
import string
import unicodedata
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.utils.capture import capture_output

from jupychat import ChatSession
from jupychat.approval import (
    MAX_APPROVAL_LINES,
    approval_prompt,
    decode_visible,
    visible_code,
)
from jupychat.context import data_tools, describe
from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake

# -- approval: what is shown is exactly what runs ---------------------------------------

# characters a terminal or a notebook stream output interprets instead of showing
_TRICKS = [
    "\r",
    "\x1b[2K",
    "\x1b[1A",
    "\x1b]52;c;ZXZpbA==\x07",
    "\x08",
    "\u202e",
    "\u2066",
    "\u2069",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\U000e0041",
    "\u0301",
    "\u20dd",
    "\x0c",
    "\x0b",
    "\x85",
    "\u2028",
    "\u2029",
    "\u00a0",
    "\u3000",
    "\x00",
    "\x7f",
    "\x9b",
    "⟨U+000D⟩",
    "⟨",
]
_code_text = st.lists(
    st.one_of(
        st.sampled_from(list(string.printable)),
        st.sampled_from(_TRICKS),
        st.characters(),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    ),
    max_size=120,
).map("".join)


def _shown_body(text: str) -> str:
    """The code part of an approval prompt (between the two rules)."""
    rule = "-" * 60
    return text.split(rule + "\n", 1)[1].rsplit("\n" + rule, 1)[0]


@settings(max_examples=600, deadline=None, derandomize=True)
@given(_code_text)
def test_approval_shows_every_character_and_decodes_to_exactly_the_code(code):
    shown = visible_code(code)
    assert decode_visible(shown) == code  # one displayed text, one program
    for char in shown:  # nothing the display would interpret instead of showing
        assert char in "\n\t " or (
            char.isprintable() and not unicodedata.category(char).startswith(("C", "Z", "M"))
        )
    text, askable = approval_prompt(code)
    assert askable and decode_visible(_shown_body(text)) == code


@pytest.mark.parametrize(
    "code",
    [
        "open('/tmp/x', 'w').write('pwned')  #\rprint('hello')",
        "import os\x1b[1A\x1b[2K\nprint('hello')",
        "print('hello')  # \u202e)'olleh'(tnirp ;)(metsys.so\u202c",
        "x = 1\u2028import os",
    ],
)
def test_the_review_spoofs_show_the_hidden_code(code, monkeypatch):
    from jupychat.notebook.namespace import notebook_tools

    user_ns: dict[str, object] = {}
    (run_python,) = [
        t for t in notebook_tools(SimpleNamespace(user_ns=user_ns)) if t.name == "run_python"
    ]
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or "n")
    with capture_output() as out:
        assert run_python.fn(code=code) == "refused: the user declined to run this code."
    assert asked, "the user was asked"
    assert user_ns == {}  # and nothing ran
    body = _shown_body(out.stdout.rstrip("\n"))
    assert decode_visible(body) == code
    assert "\r" not in out.stdout and "\x1b" not in out.stdout and "\u202e" not in out.stdout
    assert "markers" in out.stdout  # and the prompt says that characters were made visible


def test_long_code_is_refused_without_asking(monkeypatch):
    from jupychat.notebook import namespace

    monkeypatch.setattr("builtins.input", lambda *_: pytest.fail("asked about unreviewable code"))
    code = "x = 1\n" * (MAX_APPROVAL_LINES + 5)
    # The notebook's approval prompt itself, called directly: run_python (below) refuses
    # such code before asking, so no public path reaches the prompt's own refusal.
    with capture_output() as out:
        assert namespace._ask_user(code) is False
    assert "too long to review" in out.stdout
    ran: list[str] = []
    (run_python,) = [
        t
        for t in data_tools(dict, approve=lambda c: ran.append(c) or True)
        if t.name == "run_python"
    ]
    result = run_python.fn(code=code)
    assert result.startswith("refused") and ran == []


def test_approved_code_runs_exactly_as_approved():
    namespace: dict[str, object] = {}
    seen: list[str] = []

    def approve(code: str) -> bool:
        text, askable = approval_prompt(code)
        seen.append(decode_visible(_shown_body(text)))
        return askable

    (run_python,) = [
        t for t in data_tools(lambda: namespace, approve=approve) if t.name == "run_python"
    ]
    code = "a = 1  #\rb = 2"  # Python reads the lone CR as a line break: both lines run
    run_python.fn(code=code)
    assert seen == [code] and namespace["a"] == 1 and namespace["b"] == 2


# -- describing never evaluates ----------------------------------------------------------

_CALLS: list[str] = []


def _side_effect() -> type:
    _CALLS.append("evaluated")
    return int


def test_describing_a_function_never_evaluates_its_string_annotations():
    # defined without this module's `from __future__ import annotations`, as in a notebook
    scope = {"_side_effect": _side_effect}
    source = 'def f(x: "_side_effect()") -> "_side_effect()":\n    return x'
    exec(compile(source, "<cell>", "exec", dont_inherit=True), scope)
    _CALLS.clear()
    text = describe(scope["f"], "f")
    assert "_side_effect()" in text
    assert _CALLS == []


# -- the magics ----------------------------------------------------------------------------


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:safety", "/work/safety.ipynb")


def _run(shell, cell):
    with capture_output() as out:
        result = shell.run_cell(cell)
    return result, out


def _one_line_usage_error(result, out) -> str:
    assert not result.success
    assert type(result.error_in_exec).__name__ == "UsageError", result.error_in_exec
    message = str(result.error_in_exec)
    assert "\n" not in message and "Traceback" not in out.stdout + out.stderr
    return message


@pytest.mark.parametrize(
    "name",
    [
        "get_ipython",
        "In",
        "Out",
        "exit",
        "quit",
        "_",
        "__",
        "_i1",
        "_oh",
        "_dh",
        "print",
        "len",
        "class",
        "None",
        "9x",
        "a-b",
    ],
)
def test_out_never_replaces_names_python_or_ipython_rely_on(shell, name):
    get_fake("safety").enqueue("answer")
    before = shell.user_ns.get(name, "<absent>")
    message = _one_line_usage_error(*_run(shell, f"%%chat --out {name}\nhi"))
    assert "--out" in message
    assert shell.user_ns.get(name, "<absent>") is before
    assert get_chat(shell).session().history == []  # nothing was asked
    get_fake("safety").reset()
    get_fake("safety").enqueue("still fine")
    result, _ = _run(shell, "%%chat --out answer\nhello")
    assert result.success and shell.user_ns["answer"] == "still fine"


@pytest.mark.parametrize("path", ["/proc/x.json", "/proc/x.md", "/etc/hostname/inside/x.json"])
def test_export_to_an_unwritable_path_is_one_line(shell, path):
    get_fake("safety").enqueue("a")
    _run(shell, "%%chat\nq")
    _one_line_usage_error(*_run(shell, f"%chat export {json.dumps(path)}"))


def test_a_prompt_or_data_with_a_lone_surrogate_is_repaired_not_fatal(shell):
    shell.user_ns["bad"] = "x\ud800y"
    get_fake("safety").enqueue("first").enqueue("second")
    result, _ = _run(shell, "%chat ask hi \ud83d there")
    assert result.success, result.error_in_exec
    # data (not the prompt) holding one is repaired too, and later turns still work
    result, _ = _run(shell, "%%chat\nwhat is in @bad?")
    assert result.success, result.error_in_exec
    session = ChatSession.resume(get_chat(shell).session().id, store=get_chat(shell).store)
    assert [m.text for m in session.history] == [
        "hi \ufffd there",
        "first",
        "what is in @bad?",
        "second",
    ]


@pytest.mark.parametrize(
    "settings_value",
    [
        {"tools": []},
        {"store": "ELSEWHERE"},
        {"approve": "yes"},
        {"hooks": {}},
        {"api_key": "sk-planted"},
        {"extra": {"n": 50}},
        {"temperature": "hot"},
        {"max_tokens": -5},
        {"id": "other"},
        ["not", "a", "dict"],
        "text",
    ],
)
def test_a_crafted_session_file_cannot_reconfigure_the_program(shell, tmp_path, settings_value):
    record = {
        "schema": "jupychat.session",
        "version": 1,
        "id": "c" * 32,
        "model": "fake:safety",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
        "settings": settings_value,
    }
    path = tmp_path / "crafted.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    result, out = _run(shell, f"%chat import {path}")
    if not result.success:  # refused: in one line
        _one_line_usage_error(result, out)
        return
    session = get_chat(shell).session()
    assert "api_key" not in session.options and "tools" not in session.options
    assert not (tmp_path / "ELSEWHERE").exists()
    get_fake("safety").enqueue("works")
    result, out = _run(shell, "%%chat\nand now?")
    assert result.success, result.error_in_exec
    assert session.history[-1].text == "works"
    assert not any(p.name == "ELSEWHERE" for p in tmp_path.parent.rglob("ELSEWHERE"))


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
_session_like = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.sampled_from(["jupychat.session", "other"]) | _json,
        "version": st.sampled_from([1, 2, 0, "1"]) | _json,
        "id": st.text(max_size=40) | _json,
        "model": st.sampled_from(["fake:safety", "nope:x", ""]) | _json,
        "messages": st.lists(
            st.fixed_dictionaries(
                {},
                optional={
                    "role": st.sampled_from(["user", "assistant", "tool", "x"]) | _json,
                    "content": _json,
                    "text": _json,
                    "meta": _json,
                    "usage": _json,
                },
            )
            | _json,
            max_size=4,
        )
        | _json,
        "settings": _json,
        "memory": _json,
        "metadata": _json,
        "title": _json,
        "tools": _json,
        "max_steps": _json,
        "created_at": _json,
        "name": _json,
        "notebook": _json,
    },
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(record=_session_like | _json)
def test_importing_any_json_works_or_fails_in_one_line(shell, tmp_path, record):
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    current = get_chat(shell).session()
    before = [m.to_dict() for m in current.history]
    result, out = _run(shell, f"%chat import {path}")
    if not result.success:
        _one_line_usage_error(result, out)
        assert get_chat(shell).session() is current
        assert [m.to_dict() for m in current.history] == before
