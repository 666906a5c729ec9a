"""The magics in a real IPython shell (kernel tier, in-process) with the shipped fake provider."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys

import pytest
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from ipython_run import run_ipython
from jupychat.notebook import get_chat, unload_ipython_extension
from jupychat.providers.fake import get_fake


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:magics", "/work/analysis.ipynb")


@pytest.fixture
def fake():
    return get_fake("magics")


def run(shell, cell, **kwargs):
    """Run a cell; return (result, captured outputs)."""
    with capture_output() as captured:
        result = shell.run_cell(cell, **kwargs)
    return result, captured


def rendered(captured) -> str:
    """Every output the cell produced, text and HTML, joined (display updates included)."""
    texts = []
    for output in captured.outputs:
        data = output.data
        texts.append(data.get("text/plain", "") + "\n" + data.get("text/html", ""))
    return "\n".join(texts) + captured.stdout


def session(shell):
    return get_chat(shell).session()


def test_chat_cell_streams_answer_with_footer(shell, fake):
    fake.enqueue("**Four.**", usage=(10, 2))
    result, out = run(shell, "%%chat\nWhat is 2 + 2?")
    assert result.success, result.error_in_exec
    text = rendered(out)
    assert "**Four.**" in text
    assert "fake:magics" in text and "10 in / 2 out" in text
    assert [m.text for m in session(shell).history] == ["What is 2 + 2?", "**Four.**"]


def test_follow_up_remembers_and_session_is_notebook_scoped(shell, fake):
    fake.enqueue("A").enqueue("B")
    run(shell, "%%chat\nfirst")
    run(shell, "%%chat\nsecond")
    assert [m.text for m in fake.requests[-1].messages] == ["first", "A", "second"]
    assert session(shell).notebook == "/work/analysis.ipynb"


def test_rerunning_a_cell_replaces_its_turn(shell, fake):
    fake.enqueue("v1").enqueue("other").enqueue("v2")
    run(shell, "%%chat\nquestion v1", cell_id="cell-1")
    run(shell, "%%chat\nunrelated", cell_id="cell-2")
    run(shell, "%%chat\nquestion v2", cell_id="cell-1")
    texts = [m.text for m in session(shell).history]
    # issue 21: the re-run turn keeps its place and sees only the turns above it
    assert texts == ["question v2", "v2", "unrelated", "other"]
    stored = session(shell).store.load(session(shell).id)["messages"]
    assert [m["content"][-1]["text"] for m in stored] == texts  # the store was rewritten too
    assert [m.text for m in fake.requests[-1].messages] == ["question v2"]


def test_cell_options(shell, fake):
    fake.enqueue("Here:\n```python\nprint('hi')\n```\n", usage=(1, 1))
    result, _ = run(
        shell,
        "%%chat --format code --out answer --temperature 0.3 --max-tokens 50 --system 'Be terse.'\nwrite code",
    )
    assert result.success, result.error_in_exec
    request = fake.requests[-1]
    assert request.temperature == 0.3 and request.max_tokens == 50 and request.system == "Be terse."
    assert shell.user_ns["answer"].startswith("Here:")
    assert shell.rl_next_input == "print('hi')"
    other = get_fake("percell")
    other.enqueue("from the other model")
    run(shell, "%%chat -m fake:percell --no-stream\nq")
    assert other.requests and session(shell).model_id == "fake:magics"
    assert session(shell).history[-1].model == "fake:percell"


def test_a_repeated_options_line_parses_the_same_each_time(shell, fake):
    """Parsed options are remembered per line: the same line gives equal, separate
    options each time, and another line never inherits them."""
    magics = shell.magics_manager.registry["ChatMagics"]
    first = magics._parse_cell_args("--out a --context df,x --temperature 0.5")
    first.context.append("changed")  # a caller that changes what it got
    first.out = "b"
    again = magics._parse_cell_args("--out a --context df,x --temperature 0.5")
    assert (again.out, again.context, again.temperature) == ("a", ["df,x"], 0.5)
    plain = magics._parse_cell_args("")
    assert (plain.out, plain.context, plain.temperature) == (None, [], None)
    fake.enqueue("one")
    fake.enqueue("two")
    run(shell, "%%chat --temperature 0.2\nq1")
    run(shell, "%%chat\nq2")
    assert [r.temperature for r in fake.requests[-2:]] == [0.2, None]


def test_new_and_named_sessions(shell, fake):
    run(shell, "%%chat\nin main")
    main_id = session(shell).id
    run(shell, "%%chat --session side\nin side")
    assert session(shell).id == main_id  # --session is for that cell only (issue 14)
    side = get_chat(shell).session("side", switch=False)
    assert side.name == "side" and side.id != main_id
    assert side.history[0].text == "in side"
    run(shell, "%%chat --new\nfresh")
    assert session(shell).id not in (main_id, side.id)
    assert session(shell).history[0].text == "fresh"


def test_variables_as_context(shell, fake):
    pd = pytest.importorskip("pandas")
    shell.user_ns["sales"] = pd.DataFrame({"units": [1, 2, 3], "region": ["n", "s", "n"]})
    shell.user_ns["threshold"] = 10
    run(shell, "%%chat\nRows of @sales above {threshold}? Literal {{braces}} and `{code}` stay.")
    user = fake.requests[-1].messages[-1]
    assert user.text == "Rows of @sales above 10? Literal {braces} and `{code}` stay."
    keys = {b.key for b in user.context_blocks}
    assert "var:sales" in keys and "inventory" in keys
    inventory = next(b.text for b in user.context_blocks if b.key == "inventory")
    assert "threshold" in inventory and "open" not in inventory  # IPython's own names stay out
    sales_text = next(b.text for b in user.context_blocks if b.key == "var:sales")
    assert "units" in sales_text and "region" in sales_text
    # unchanged variables are not sent again
    run(shell, "%%chat\nand @sales again?")
    assert fake.requests[-1].messages[-1].context_blocks == []
    run(shell, "%%chat --context sales\nexplicit")
    assert fake.requests[-1].messages[-1].context_blocks == []


def test_chat_context_prints_what_would_be_sent(shell, fake):
    pd = pytest.importorskip("pandas")
    shell.user_ns["people"] = pd.DataFrame({"email": ["a@b.c", "d@e.f"], "age": [30, 40]})
    _, out = run(shell, "%chat context people")
    assert "var:people" in out.stdout and "withheld" in out.stdout
    assert "a@b.c" not in out.stdout


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%chat --bogus\nhi", "unrecognized arguments: --bogus"),
        ("%%chat\n{missing_var}", "unknown variable {missing_var}"),
        ("%%chat --context nothere\nhi", "unknown variable 'nothere'"),
        ("%%chat --max-tokens -5\nhi", "argument --max-tokens"),
        ("%%chat\n   ", "the cell is empty"),
        ("%chat frobnicate", "unknown %chat command 'frobnicate'"),
        ("%%chat -m nope:model\nhi", "unknown provider 'nope'"),
        ("%%chat -m openai:gpt-4o-mini\nhi", "OPENAI_API_KEY"),
        ("%%chat -m openai-compatible:m@http://127.0.0.1:9/v1\nhi", "127.0.0.1:9"),
    ],
)
def test_bad_input_is_one_line_and_leaves_session_unchanged(
    shell, fake, cell, message, monkeypatch
):
    monkeypatch.setenv("JUPYCHAT_MAX_RETRIES", "0")
    run(shell, "%%chat\nbefore")
    before = session(shell).history
    result, out = run(shell, cell)
    assert not result.success
    assert "Traceback" not in out.stdout + out.stderr
    error = str(result.error_in_exec or result.error_before_exec)
    assert message in error
    assert "\n" not in error.strip()
    assert type(result.error_in_exec or result.error_before_exec).__name__ == "UsageError"
    assert session(shell).history == before
    assert session(shell).model_id == "fake:magics"


def test_interrupt_keeps_partial_answer_and_next_cell_works(shell, fake):
    fake.enqueue("partial words here", chunk_size=4, error=KeyboardInterrupt(), error_after=2)
    result, out = run(shell, "%%chat\nlong answer please")
    assert result.success  # no traceback: the interruption is shown, not raised
    assert "stopped" in rendered(out)
    last = session(shell).history[-1]
    assert last.interrupted and last.text == "partial "
    fake.enqueue("normal")
    result, out = run(shell, "%%chat\nnext")
    assert result.success and "normal" in rendered(out)


def test_line_commands(shell, fake, tmp_path):
    fake.enqueue("answer one")
    run(shell, "%%chat\nquestion one")
    _, out = run(shell, "%chat history")
    assert "question one" in rendered(out) and "answer one" in rendered(out)
    _, out = run(shell, "%chat stats")
    assert "turns: 1" in out.stdout and "cost: $0" in out.stdout
    _, out = run(shell, "%chat model")
    assert "fake:magics" in out.stdout
    _, out = run(shell, "%chat model fake:switched")
    assert session(shell).model_id == "fake:switched"
    _, out = run(shell, "%chat models")
    assert "openai" in out.stdout and "local" in out.stdout
    _, out = run(shell, "%chat memory set goal churn analysis")
    assert "goal: 'churn analysis'" in out.stdout
    _, out = run(shell, "%chat help")
    assert "%%chat" in out.stdout and "%chat export" in out.stdout
    for suffix in ("json", "md", "ipynb"):
        target = tmp_path / f"chat.{suffix}"
        result, out = run(shell, f"%chat export {target}")
        assert result.success, result.error_in_exec
        assert target.exists() and "question one" in target.read_text()
    _, out = run(shell, "%chat clear")
    assert session(shell).history == []
    old = session(shell).id
    run(shell, "%chat new")
    assert session(shell).id != old
    _, out = run(shell, "%chat sessions")
    assert old[:8] in out.stdout
    run(shell, f"%chat use {old[:8]}")
    assert session(shell).id == old


def test_key_is_kept_in_memory_only(shell, fake, monkeypatch, tmp_path):
    secret = "sk-test-abcdefghijklmnop1234"
    monkeypatch.setattr("getpass.getpass", lambda prompt="": secret)
    _, out = run(shell, "%chat key openai")
    assert secret not in out.stdout and "openai key set" in out.stdout
    _, out = run(shell, "%chat config")
    assert "openai key: set" in out.stdout and secret not in out.stdout
    run(shell, "%%chat\nhello")
    run(shell, f"%chat export {tmp_path / 'x.json'}")
    assert secret not in (tmp_path / "x.json").read_text()
    db = os.environ["JUPYCHAT_STORE"]
    con = sqlite3.connect(db)
    dump = "\n".join(con.iterdump())
    assert secret not in dump


def test_chat_error_explains_last_exception(shell, fake):
    run(shell, "x = 1\ny = x / 0")
    fake.enqueue("Division by zero: check y.")
    result, out = run(shell, "%chat error")
    assert result.success, result.error_in_exec
    sent = fake.requests[-1].messages[-1]
    error = next(b.text for b in sent.context_blocks if b.key.startswith("error"))
    assert "ZeroDivisionError" in error and "y = x / 0" in error  # the cell and its traceback
    assert "@error" in sent.text
    assert "Division by zero" in rendered(out)


def test_config_traitlets_feed_the_resolver(shell, fake):
    run(shell, "%config ChatMagics.default_model = 'fake:configured'")
    run(shell, "%chat new")
    assert session(shell).model_id == "fake:configured"


def test_session_resumes_after_restart(shell, fake):
    fake.enqueue("remembered")
    run(shell, "%%chat\nbefore restart")
    first = session(shell)
    unload_ipython_extension(shell)
    InteractiveShell.clear_instance()
    restarted = InteractiveShell.instance()
    restarted.run_line_magic("load_ext", "jupychat")
    try:
        resumed = get_chat(restarted).session()
        assert resumed.id == first.id
        assert [m.text for m in resumed.history] == ["before restart", "remembered"]
    finally:
        unload_ipython_extension(restarted)


def _terminal_ipython(tmp_path, prelude: str) -> subprocess.CompletedProcess:
    return run_ipython(
        tmp_path,
        prelude + "get_ipython().run_line_magic('load_ext', 'jupychat'); "
        "get_ipython().run_cell_magic('chat', '', 'hello **terminal**')",
    )


def test_terminal_ipython_prints_plain_text_without_rich(tmp_path):
    out = _terminal_ipython(tmp_path, "import sys; sys.modules['rich'] = None; ")
    assert out.returncode == 0, out.stderr
    assert "(fake model) You said: hello **terminal**" in out.stdout
    assert "<IPython.core.display" not in out.stdout
    assert "fake:default" in out.stdout


def test_terminal_ipython_renders_markdown_with_rich(tmp_path):
    pytest.importorskip("rich")
    out = _terminal_ipython(tmp_path, "")
    assert out.returncode == 0, out.stderr
    assert "You said: hello terminal" in out.stdout  # ** markers rendered away, not printed
    assert "**" not in out.stdout and "<IPython.core.display" not in out.stdout
    assert "fake:default" in out.stdout


def test_load_ext_is_cheap_and_lazy():
    code = (
        "import sys, time; from IPython.core.interactiveshell import InteractiveShell; "
        "sh = InteractiveShell.instance(); before = set(sys.modules); "
        "sh.run_line_magic('load_ext', 'jupychat'); "
        "heavy = ('pandas', 'numpy', 'ipywidgets', 'httpx', 'sqlite3', 'xllamacpp', 'asyncio', 'jupychat.session', 'jupychat.store', 'jupychat.context', 'jupychat.markdown', 'jupychat.notebook.engine', 'jupychat.notebook.events', 'jupychat.notebook.cells', 'markdown_it', 'html.parser'); "
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules and m not in before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_footer_shortens_endpoint_urls():
    from jupychat.notebook.engine import short_model

    assert (
        short_model("openai-compatible:m@http://127.0.0.1:8000/v1")
        == "openai-compatible:m@127.0.0.1:8000"
    )
    assert short_model("openai:gpt-4o-mini") == "openai:gpt-4o-mini"
    assert short_model(None) == "?"


def test_session_management_commands(shell, fake, tmp_path):
    fake.enqueue("about churn").enqueue("about revenue").enqueue("more")
    run(shell, "%%chat\nLet us study churn in detail")
    first = session(shell)
    # search across stored sessions
    _, out = run(shell, "%chat sessions churn")
    assert first.id[:8] in out.stdout and "**churn**" in out.stdout
    _, out = run(shell, "%chat sessions zebra")
    assert "(no stored sessions)" in out.stdout
    # rename
    run(shell, "%chat rename Churn study")
    assert session(shell).title == "Churn study"
    assert first.store.summary(first.id)["title"] == "Churn study"
    # fork: continue in a copy; the original is untouched
    run(shell, "%%chat\nnow revenue")
    result, out = run(shell, "%chat fork 2")
    assert result.success, result.error_in_exec
    fork = session(shell)
    assert fork.id != first.id and len(fork.history) == 2 and "now using the fork" in out.stdout
    assert len(first.store.load(first.id)["messages"]) == 4
    # merge the fork back with the original: chronological, provenance recorded
    result, out = run(shell, f"%chat merge {first.id[:8]}")
    assert result.success, result.error_in_exec
    merged = session(shell)
    assert set(merged.get_metadata("merged_from")) == {fork.id, first.id}
    # export then import as a new session
    target = tmp_path / "export.json"
    run(shell, f"%chat export {target}")
    result, out = run(shell, f"%chat import {target}")
    assert result.success, result.error_in_exec
    assert session(shell).id != merged.id and session(shell).history == merged.history
    # bad input stays one line
    for cell, message in (
        ("%chat fork many", "number of messages"),
        ("%chat merge", "needs the ids"),
        ("%chat merge zzzzzzzz", "no session zzzzzzzz"),
        (f"%chat import {tmp_path / 'missing.json'}", "missing.json"),
    ):
        result, _ = run(shell, cell)
        assert not result.success and message in str(result.error_in_exec), (
            cell,
            result.error_in_exec,
        )


def test_project_context_is_opt_in(shell, fake, tmp_path, monkeypatch):
    (tmp_path / "README.md").write_text("# Churn model\nPredicts churn.\n")
    monkeypatch.chdir(tmp_path)
    run(shell, "%%chat\nwithout project")
    assert "project" not in {b.key for b in fake.requests[-1].messages[-1].context_blocks}
    run(shell, "%%chat --project\nwith project")
    blocks = {b.key: b.text for b in fake.requests[-1].messages[-1].context_blocks}
    assert "Churn model" in blocks["project"] and str(tmp_path) in blocks["project"]


def test_failed_rerun_keeps_the_earlier_turn(shell, fake):
    fake.enqueue("v1")
    run(shell, "%%chat\nquestion v1", cell_id="cell-1")
    before = session(shell).history
    from jupychat.errors import ProviderUnavailable

    fake.enqueue("", error=ProviderUnavailable("network down; check your connection"))
    result, _ = run(shell, "%%chat\nquestion v2", cell_id="cell-1")
    assert not result.success and "network down" in str(result.error_in_exec)
    assert session(shell).history == before


def test_privacy_settings_through_config(shell, fake, monkeypatch):
    pd = pytest.importorskip("pandas")
    shell.user_ns["df"] = pd.DataFrame(
        # a free-text column: example rows show text that is not listed in full
        {"revenue": [1.5, 2.5, 3.5] * 20, "internal_code": [f"c-{i}" for i in range(60)]}
    )
    _, out = run(shell, "%chat context df")
    assert "internal_code" in out.stdout and "Random example rows" in out.stdout
    run(shell, "%config ChatMagics.exclude_columns = ['internal_*']")
    run(shell, "%config ChatMagics.sample_rows = 0")
    _, out = run(shell, "%chat context df")
    assert "internal_code" not in out.stdout and "revenue" in out.stdout
    assert "example rows" not in out.stdout.lower()
    run(shell, "%config ChatMagics.values = 'schema'")
    _, out = run(shell, "%chat context df")
    assert "1.5" not in out.stdout and "revenue" in out.stdout
    monkeypatch.setenv("JUPYCHAT_EXCLUDE_VARS", "df, other")
    run(shell, "%config ChatMagics.exclude_vars = []")
    shell.user_ns["kept"] = 1
    _, out = run(shell, "%chat context")
    assert "--- inventory" in out.stdout and "- kept:" in out.stdout
    assert "- df:" not in out.stdout


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # IPython's complete() API
def test_tab_completion(shell, fake):
    _, matches = shell.complete("", "%chat mo")
    assert {"model", "models"} <= set(matches)
    _, matches = shell.complete("", "%chat model openai:gpt-4o")
    assert "openai:gpt-4o-mini" in matches
    run(shell, "%%chat\nhello")
    _, matches = shell.complete("", "%chat use ")
    assert session(shell).id[:8] in matches


def test_restart_resumes_the_unnamed_session_not_the_last_named_one(shell, fake):
    run(shell, "%%chat\nmain thread")
    main_id = session(shell).id
    run(shell, "%%chat --session scratch\nside thread")  # the most recently updated one
    unload_ipython_extension(shell)
    InteractiveShell.clear_instance()
    restarted = InteractiveShell.instance()
    restarted.run_line_magic("load_ext", "jupychat")
    try:
        assert get_chat(restarted).session().id == main_id
        assert get_chat(restarted).session("scratch").history[0].text == "side thread"
    finally:
        unload_ipython_extension(restarted)


def test_run_python_asks_first_and_runs_in_the_users_namespace(shell, fake, monkeypatch):
    answers = iter(["n", "y"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    shell.user_ns["base"] = 41
    fake.enqueue("", tool_calls=[("run_python", {"code": "answer = base + 1"})]).enqueue("declined")
    _, out = run(shell, "%%chat\nplease compute")
    assert "answer" not in shell.user_ns and "answer = base + 1" in out.stdout
    assert "declined" in session(shell).history[2].tool_results[0].content
    fake.enqueue("", tool_calls=[("run_python", {"code": "answer = base + 1"})]).enqueue("done")
    run(shell, "%%chat\nplease compute, I will approve")
    assert shell.user_ns["answer"] == 42


def test_run_python_is_refused_off_the_main_thread(shell, fake, monkeypatch):
    import threading

    def no_input(prompt=""):
        raise AssertionError("input() must not be called from a background thread")

    monkeypatch.setattr("builtins.input", no_input)
    fake.enqueue("", tool_calls=[("run_python", {"code": "x = 1"})]).enqueue("ok")
    worker = threading.Thread(target=lambda: session(shell).send("compute"))
    worker.start()
    worker.join(10)
    assert "x" not in shell.user_ns
    assert "declined" in session(shell).history[2].tool_results[0].content
