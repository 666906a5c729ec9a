"""A newcomer's first minutes (issue 14): which model answers and why, the system prompts,
the tiny model's stable answers and hint, and ``%%chat --session`` for one cell only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from cell_run import run
from fakeserver import FakeServer
from jupychat import ChatSession
from jupychat.notebook import get_chat
from jupychat.prompts import NOTEBOOK_SYSTEM, TINY_HINT, TINY_SYSTEM
from jupychat.providers import discover
from jupychat.providers.fake import get_fake
from llama_fixtures import needs_llama


def rendered(captured) -> str:
    parts = [
        o.data.get("text/plain", "") + "\n" + o.data.get("text/html", "") for o in captured.outputs
    ]
    return "\n".join(parts) + captured.stdout


# -- the notebook system prompt ------------------------------------------------------------


def test_notebook_turns_carry_the_notebook_system_prompt(notebook_shell):
    shell = notebook_shell("fake:sys")
    fake = get_fake("sys")
    run(shell, "%%chat\nhi")
    system = fake.requests[-1].system
    assert system is not None
    assert NOTEBOOK_SYSTEM.splitlines()[1] in system  # context blocks
    assert "runnable Python" in system and "variable" in system
    assert f"Python {sys.version_info[0]}.{sys.version_info[1]}" in system
    assert get_chat(shell).session().system_prompt is None  # never stored with the session


def test_notebook_system_prompt_is_configurable_and_shown(notebook_shell):
    shell = notebook_shell("fake:sys2")
    fake = get_fake("sys2")
    shell.run_line_magic("config", "ChatMagics.notebook_system_prompt = 'Answer in haiku.'")
    run(shell, "%%chat\nhi")
    assert fake.requests[-1].system == "Answer in haiku."
    shown = run(shell, "%chat config").stdout
    assert "notebook_system_prompt" in shown and "Answer in haiku." in shown
    shell.run_line_magic("config", "ChatMagics.notebook_system_prompt = ''")
    run(shell, "%%chat\nhi")
    assert fake.requests[-1].system is None
    run(shell, "%%chat --system 'You are a pirate.'\nhi")  # the user's own wins
    assert fake.requests[-1].system == "You are a pirate."


def test_default_notebook_prompt_is_shown_by_chat_config(notebook_shell):
    shell = notebook_shell("fake:sys3")
    shown = run(shell, "%chat config").stdout
    assert "variables, cells, errors and figures arrive in <context> blocks" in shown


def test_a_plain_session_gets_no_system_prompt():
    session = ChatSession("fake:plain")
    session.send("hi")
    assert get_fake("plain").requests[-1].system is None


# -- which model and why ----------------------------------------------------------------


@pytest.fixture
def ollama_only(monkeypatch, tmp_path):
    """Discovery on; a fake Ollama on loopback; everything else closed or empty."""
    with FakeServer(models=["llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("JUPYCHAT_DISCOVER", "1")
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{srv.port}")
        monkeypatch.setenv("JUPYCHAT_LMSTUDIO_URL", "off")
        monkeypatch.setenv("JUPYCHAT_LLAMACPP_URL", "off")
        monkeypatch.setenv("JUPYCHAT_GGUF_DIRS", str(tmp_path / "no-models"))
        discover.reset()
        yield srv
        discover.reset()


def test_chat_model_models_and_the_footer_say_what_was_found(
    notebook_shell, ollama_only, monkeypatch
):
    shell = notebook_shell("fake:unused")
    monkeypatch.delenv("JUPYCHAT_MODEL")
    assert run(shell, "%chat model").stdout.strip() == (
        "model: ollama:llama3.2 — found a running Ollama"
    )
    listing = run(shell, "%chat models").stdout
    assert f"Ollama at http://127.0.0.1:{ollama_only.port}: ollama:llama3.2" in listing
    ollama_only.enqueue("Four.")
    first = rendered(run(shell, "%%chat\nWhat is 2 + 2?"))
    assert "Four." in first and "found a running Ollama" in first
    ollama_only.enqueue("Forty.")
    second = rendered(run(shell, "%%chat\nTimes ten?"))
    assert "Forty." in second and "found a running Ollama" not in second  # once a session


def test_an_explicit_setting_is_not_second_guessed(notebook_shell, ollama_only):
    shell = notebook_shell("fake:mine")
    assert run(shell, "%chat model").stdout.strip() == "model: fake:mine — your model setting"
    assert ollama_only.listings == []


# -- %%chat --session applies to one cell ---------------------------------------------------


def test_session_option_is_for_that_cell_only(notebook_shell):
    shell = notebook_shell("fake:scratch")
    run(shell, "%%chat\nmain question")
    run(shell, "%%chat --session scratch\nscratch question")
    run(shell, "%%chat\nmain again")
    chat = get_chat(shell)
    assert [m.text for m in chat.session().history if m.role == "user"] == [
        "main question",
        "main again",
    ]
    scratch = chat.session("scratch", switch=False)
    assert [m.text for m in scratch.history if m.role == "user"] == ["scratch question"]
    out = run(shell, "%chat use scratch").stdout
    assert "scratch" in out
    run(shell, "%%chat\nnow in scratch")
    assert [m.text for m in chat.session().history if m.role == "user"][-1] == "now in scratch"
    assert chat.session() is scratch


# -- the embedded model: stable, honest ------------------------------------------------------


def test_tiny_model_requests_are_greedy_with_the_short_prompt():
    pytest.importorskip("xllamacpp")
    from jupychat.providers.base import ChatRequest
    from jupychat.providers.registry import resolve_model
    from jupychat.types import Message

    try:
        provider = resolve_model("local")
    except Exception as exc:  # the bundled model is not installed
        pytest.skip(str(exc))
    assert provider.tiny
    payload = provider.payload(ChatRequest(messages=[Message.of("user", "hi")]))
    assert payload["temperature"] == 0.0 and payload["seed"] == 0
    chosen = provider.payload(
        ChatRequest(messages=[Message.of("user", "hi")], temperature=0.7, seed=5)
    )
    assert chosen["temperature"] == 0.7 and chosen["seed"] == 5
    from jupychat.prompts import default_system

    assert default_system(provider, notebook=True) == TINY_SYSTEM
    assert len(TINY_SYSTEM) < 200


_SAME_TWICE = textwrap.dedent(
    """
    from jupychat import ChatSession
    print(ChatSession().send("What is the capital of France?", max_tokens=40).text)
    """
)


@needs_llama
@pytest.mark.llama
def test_the_embedded_model_gives_the_same_answer_in_two_fresh_processes(tmp_path):
    env = {**os.environ, "JUPYCHAT_STORE": str(tmp_path / "s.db")}
    env.pop("JUPYCHAT_MODEL", None)
    answers = [
        subprocess.run(
            [sys.executable, "-c", _SAME_TWICE],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout.strip()
        for _ in range(2)
    ]
    assert answers[0] == answers[1]
    assert "Paris" in answers[0]


@needs_llama
@pytest.mark.llama
def test_the_tiny_models_first_answer_carries_the_hint(notebook_shell):
    shell = notebook_shell("local")
    first = rendered(run(shell, "%%chat --max-tokens 12\nWhat is 2 + 2?"))
    assert TINY_HINT in first.replace("&#x27;", "'")
    second = rendered(run(shell, "%%chat --max-tokens 12\nAnd 3 + 3?"))
    assert "%chat model NAME" not in second
    answers = [m.text for m in get_chat(shell).session().history if m.role == "assistant"]
    assert all(TINY_HINT not in a for a in answers)  # the hint is never part of the answer


def test_chat_use_default_returns_to_the_notebooks_own_session(notebook_shell):
    shell = notebook_shell("fake:back")
    run(shell, "%%chat\nmain")
    run(shell, "%%chat --session side\nside question")
    run(shell, "%chat use side")
    run(shell, "%%chat\nin side")
    run(shell, "%chat use default")
    run(shell, "%%chat\nback in main")
    users = [m.text for m in get_chat(shell).session().history if m.role == "user"]
    assert users == ["main", "back in main"]


def test_chat_use_an_unknown_name_is_one_line(notebook_shell):
    shell = notebook_shell("fake:unknown")
    result = shell.run_cell("%chat use nosuchname")
    assert not result.success
    assert "no session nosuchname" in str(result.error_in_exec)


@needs_llama
def test_the_tiny_model_gets_no_standing_inventory(notebook_shell):
    shell = notebook_shell("local")
    run(shell, "threshold = 3")
    tiny = run(shell, "%chat context").stdout
    assert "inventory" not in tiny and "threshold" not in tiny
    named = run(shell, "%chat context threshold").stdout  # what a question names still goes
    assert "threshold" in named
    run(shell, "%chat model fake:big")
    assert "inventory" in run(shell, "%chat context").stdout


def test_a_resumed_session_gets_todays_choice_unless_its_model_was_named(
    notebook_shell, monkeypatch, tmp_path
):
    """Monday: only an OpenAI key, so OpenAI answers. Tuesday: no key, Ollama runs: after a
    kernel restart the resumed conversation goes on with Ollama. A model the user named
    (a named session here) keeps its model."""
    from jupychat.notebook import unload_ipython_extension

    monkeypatch.setenv("JUPYCHAT_DISCOVER", "1")
    monkeypatch.setenv("JUPYCHAT_GGUF_DIRS", str(tmp_path / "none"))
    monkeypatch.setenv("JUPYCHAT_LMSTUDIO_URL", "off")
    monkeypatch.setenv("JUPYCHAT_LLAMACPP_URL", "off")
    with FakeServer(models=["llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-monday")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.openai_base_url)
        shell = notebook_shell("fake:named")
        run(shell, "%%chat --session pinned\nkeep me on fake")  # named via JUPYCHAT_MODEL
        monkeypatch.delenv("JUPYCHAT_MODEL")
        run(shell, "%%chat\nhello on monday")
        monday = get_chat(shell).session()
        assert monday.model_id == "openai:gpt-4o-mini"
        unload_ipython_extension(shell)

        monkeypatch.delenv("OPENAI_API_KEY")
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{srv.port}")
        discover.reset()  # a new kernel process looks again
        shell = notebook_shell("fake:unused")
        monkeypatch.delenv("JUPYCHAT_MODEL")
        tuesday = get_chat(shell).session()
        assert tuesday.id == monday.id
        assert tuesday.model_id == "ollama:llama3.2"
        pinned = get_chat(shell).session("pinned", switch=False)
        assert pinned.model_id == "fake:named"
