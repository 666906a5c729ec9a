"""The chat panel's logic, driven from Python (no browser).

The panel runs against a real ``InteractiveShell`` and the notebook's real
``NotebookChat``; models are the scripted fake provider (``fake``) and, for the Stop test
over HTTP, the loopback fake server through the OpenAI-compatible provider. Button
clicks and front-end messages are simulated by calling the same handlers the widgets
call (``button.click()``, ``widget.dispatch({...})``).
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from IPython.core.interactiveshell import InteractiveShell

from fixtures_server import fake_server  # noqa: F401  (pytest fixture)
from ipython_run import run_ipython
from jupychat.errors import ProviderUnavailable
from jupychat.notebook import get_chat, unload_ipython_extension
from jupychat.notebook.events import Delta, Failed, Started
from jupychat.notebook.panel import ChatPanel, close_panel, get_panel, open_panel
from jupychat.notebook.panel_place import detect
from jupychat.notebook.panel_render import render_markdown
from jupychat.providers.fake import get_fake

LONG = " ".join(f"word{i}" for i in range(60))


@pytest.fixture
def shell():
    return InteractiveShell.instance()


@pytest.fixture
def chat(shell, monkeypatch):
    monkeypatch.setenv("JUPYCHAT_MODEL", "fake")
    unload_ipython_extension(shell)
    chat = get_chat(shell)
    yield chat
    close_panel(chat)
    unload_ipython_extension(shell)
    for name in ("df", "numbers", "answer"):
        shell.user_ns.pop(name, None)


@pytest.fixture
def panel(chat):
    panel = ChatPanel(chat, interval=0.05)
    yield panel
    panel.stop()
    panel.wait(5)
    panel.close()


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def roles(panel):
    return [m["role"] for m in panel.view.messages]


def test_send_streams_into_the_view_and_history(panel):
    fake = get_fake()
    text = "Hello **world**, here is code:\n\n```python\nx = 1\nprint(x)\n```\nDone."
    fake.enqueue(text, chunk_size=3, delay=0.01, usage=(20, 9))
    lives = []
    panel.view.observe(lambda c: lives.append(dict(c["new"])), names="live")

    thread = panel.send("say hello")
    assert thread is not None
    assert panel.busy and panel.stop_button.disabled is False
    assert panel.wait(5)

    history = panel.session.history
    assert [m.role for m in history] == ["user", "assistant"]
    assert history[1].text == text
    streamed = [live["html"] for live in lives if live.get("streaming")]
    assert len(streamed) >= 3, "the answer should show while it streams"
    assert any("Hello" in html and "Done" not in html for html in streamed)
    assert roles(panel) == ["user", "assistant"]
    answer = panel.view.messages[-1]
    assert "<strong>world</strong>" in answer["html"]
    assert 'class="jc-codeblock"' in answer["html"] and "Insert below" in answer["html"]
    assert panel.code_of(answer["id"], 0) == "x = 1\nprint(x)"
    assert "fake:default" in answer["footer"] and "20 in / 9 out" in answer["footer"]
    assert panel.view.live == {}
    assert panel.send_button.disabled is False and panel.stop_button.disabled is True


def test_streaming_updates_are_throttled(panel):
    get_fake().enqueue("x" * 400, chunk_size=1, delay=0.002)
    pushes = []
    panel.view.observe(lambda c: pushes.append(time.monotonic()), names="live")
    started = time.monotonic()
    panel.send("go")
    assert panel.wait(10)
    elapsed = time.monotonic() - started
    # 400 deltas; at most one push per interval (0.05 s), plus start/flush/end.
    assert len(pushes) <= elapsed / panel.interval + 4
    assert len(pushes) >= 3
    assert panel.session.history[-1].text == "x" * 400


def test_enter_in_the_input_box_sends(panel):
    panel.input.value = "from the box"
    panel.input.dispatch({"event": "submit", "text": "from the box"})
    assert panel.wait(5)
    assert panel.session.history[0].text == "from the box"
    assert panel.input.value == ""


def test_panel_turns_emit_events_for_other_listeners(chat, panel):
    seen = []
    chat.subscribe(lambda event: seen.append((type(event).__name__, event.source)))
    get_fake().enqueue("one two three", chunk_size=4)
    panel.send("hi")
    assert panel.wait(5)
    events = [e for e, _ in seen]
    assert events[0] == "Started" and events[-1] == "Finished"
    assert "Delta" in events
    assert {s for _, s in seen} == {"panel"}


def test_stop_mid_stream_keeps_the_partial_answer(panel):
    get_fake().enqueue(LONG, chunk_size=5, delay=0.1)
    panel.send("long please")
    assert wait_for(lambda: len(panel.view.live.get("html", "")) > 20)
    started = time.monotonic()
    panel.stop_button.click()
    assert panel.wait(2)
    assert time.monotonic() - started < 0.5
    last = panel.session.history[-1]
    assert last.role == "assistant" and last.interrupted
    assert 0 < len(last.text) < len(LONG) and LONG.startswith(last.text)
    assert panel.view.messages[-1]["role"] == "assistant"
    assert "interrupted" in panel.view.messages[-1]["footer"]
    assert "stopped" in panel.status.value
    # still usable
    get_fake().enqueue("after")
    panel.send("again")
    assert panel.wait(5)
    assert panel.session.history[-1].text == "after"


def test_stop_closes_a_silent_http_stream_at_once(chat, panel, fake_server):  # noqa: F811
    """The server pauses 1.5 s between chunks; Stop must not wait for the next one."""
    model = f"openai-compatible:fake@{fake_server.openai_base_url}"
    panel.session.switch_model(model)
    fake_server.enqueue("alpha beta gamma delta epsilon", chunk_size=6, chunk_delay=1.5)
    panel.send("slow one")
    assert wait_for(lambda: "alpha" in panel.view.live.get("html", ""), timeout=10)
    started = time.monotonic()
    panel.stop()
    assert panel.wait(3)
    assert time.monotonic() - started < 1.0  # the next chunk would come at 1.5 s
    last = panel.session.history[-1]
    assert last.interrupted and last.text.startswith("alpha")
    assert "epsilon" not in last.text
    assert not panel.busy


def test_stop_before_any_text_shows_one_line_and_keeps_nothing(chat, panel, fake_server):  # noqa: F811
    panel.session.switch_model(f"openai-compatible:fake@{fake_server.openai_base_url}")
    fake_server.enqueue("never seen", chunk_size=50, chunk_delay=3.0)
    panel.send("silent")
    assert wait_for(lambda: len(fake_server.requests) == 1, timeout=5)
    started = time.monotonic()
    panel.stop()
    assert panel.wait(3)
    assert time.monotonic() - started < 1.0  # the first chunk would come at 3 s
    assert panel.session.history == []
    assert roles(panel) == ["user", "error"]
    assert "stopped before any answer" in panel.view.messages[-1]["text"]


def test_a_chat_cell_turn_appears_in_the_panel(shell, chat, panel):
    get_fake().enqueue("cell answer with `code`", chunk_size=4)
    lives = []
    panel.view.observe(lambda c: lives.append(c["new"]), names="live")
    shell.run_cell("%%chat\nasked in a cell")
    assert roles(panel) == ["user", "assistant"]
    user, answer = panel.view.messages
    assert user["label"] == "You · cell" and "asked in a cell" in user["html"]
    assert "<code>code</code>" in answer["html"]
    assert any(live.get("streaming") for live in lives)


def test_a_failing_chat_cell_shows_one_error_line_in_the_panel(shell, chat, panel):
    get_fake().enqueue("", error=ProviderUnavailable("no route to the model"))
    result = shell.run_cell("%%chat\nthis will fail")
    assert not result.success
    assert roles(panel) == ["user", "error"]
    assert "no route to the model" in panel.view.messages[-1]["text"]
    assert panel.view.live == {}


def test_panel_and_cells_share_one_conversation(shell, chat, panel):
    fake = get_fake()
    fake.enqueue("first")
    panel.send("from the panel")
    assert panel.wait(5)
    fake.enqueue("second")
    shell.run_cell("%%chat\nfrom a cell")
    request = fake.requests[-1]
    assert [m.text.strip() for m in request.messages if m.role == "user"] == [
        "from the panel",
        "from a cell",
    ]
    assert roles(panel) == ["user", "assistant", "user", "assistant"]


def test_new_session_and_switching_back(chat, panel):
    get_fake().enqueue("kept")
    panel.send("remember me")
    assert panel.wait(5)
    first = panel.session
    panel.new_button.click()
    assert panel.session.id != first.id
    assert panel.view.messages == []
    ids = [value for _label, value in panel.session_picker.options]
    assert first.id in ids and panel.session.id in ids
    panel.session_picker.value = first.id
    assert panel.session.id == first.id
    assert roles(panel) == ["user", "assistant"]
    assert "remember me" in panel.view.messages[0]["html"]
    assert chat.session(switch=False).id == first.id


def test_switching_in_a_cell_moves_the_panel_too(shell, chat, panel):
    before = panel.session.id
    shell.run_cell("%chat new")
    assert panel.session.id != before
    assert panel.session.id == chat.session(switch=False).id


def test_export_to_markdown_json_and_a_bad_suffix(panel, tmp_path):
    get_fake().enqueue("exported answer")
    panel.send("export me")
    assert panel.wait(5)
    md = panel.export(str(tmp_path / "chat.md"))
    assert md is not None and "export me" in md.read_text()
    panel.export_path.value = str(tmp_path / "chat.json")
    panel.export_button.click()
    data = json.loads((tmp_path / "chat.json").read_text())
    assert [m["role"] for m in data["messages"]] == ["user", "assistant"]
    assert "exported to" in panel.status.value
    assert panel.export(str(tmp_path / "chat.txt")) is None
    assert ".md" in panel.status.value and "jc-status" in panel.status.value
    assert not (tmp_path / "chat.txt").exists()


def test_a_provider_error_is_one_line_and_the_panel_stays_usable(panel):
    fake = get_fake()
    fake.enqueue(
        "partial text",
        error=ProviderUnavailable("the model server went away"),
        error_after=1,
        chunk_size=4,
    )
    panel.send("fail please")
    assert panel.wait(5)
    assert roles(panel)[-1] == "error"
    line = panel.view.messages[-1]["text"]
    assert "went away" in line and "\n" not in line
    assert panel.session.history == []  # a failed turn adds nothing
    fake.enqueue("fine now")
    panel.send("retry")
    assert panel.wait(5)
    assert panel.session.history[-1].text == "fine now"


def test_second_send_while_busy_is_refused(panel):
    get_fake().enqueue(LONG, chunk_size=5, delay=0.05)
    panel.send("one")
    assert panel.send("two") is None
    assert "still answering" in panel.status.value
    panel.stop()
    assert panel.wait(2)


def test_model_picker_switches_and_rejects_unknown_models(chat, panel):
    assert panel.model_picker.value == "fake:default"
    assert "local" in panel.model_picker.options
    panel.model_picker.value = "fake:other"
    assert panel.session.model_id == "fake:other"
    assert chat.model_override == "fake:other"
    panel.model_picker.value = "nosuchprovider:x"
    assert panel.session.model_id == "fake:other"
    assert panel.model_picker.value == "fake:other"
    assert "unknown provider" in panel.status.value


def test_selected_variables_are_sent_as_context(shell, panel):
    pd = pytest.importorskip("pandas")
    shell.user_ns["df"] = pd.DataFrame({"price": [1.5, 2.5, 4.0], "city": ["a", "b", "c"]})
    shell.user_ns["numbers"] = [1, 2, 3]
    panel.refresh_variables()
    labels = {value: label for label, value in panel.vars_picker.options}
    assert "df" in labels and "3×2" in labels["df"]
    assert "numbers" in labels
    assert "open" not in labels and "In" not in labels
    panel.vars_picker.value = ("df",)
    assert "1 attached" in panel.extras.get_title(0)
    fake = get_fake()
    panel.send("what is in the table?")
    assert panel.wait(5)
    blocks = fake.requests[-1].messages[-1].context_blocks
    described = [b for b in blocks if "df" in b.key]
    assert described and "price" in described[0].text


def test_unknown_variable_in_the_prompt_is_a_status_line(panel):
    assert panel.send("look at {nosuchvar}") is None
    assert "nosuchvar" in panel.status.value
    assert panel.session.history == []


def test_variables_refresh_after_each_cell(shell, panel):
    shell.run_cell("answer = 42")
    labels = {value: label for label, value in panel.vars_picker.options}
    assert "answer" in labels and "42" in labels["answer"]


def test_insert_without_a_front_end_says_so(panel):
    get_fake().enqueue("```python\nprint('hi')\n```")
    panel.send("code please")
    assert panel.wait(5)
    answer = panel.view.messages[-1]
    assert panel.code_of(answer["id"], 0) == "print('hi')"
    assert panel.code_of(answer["id"], 5) is None
    panel.view.dispatch({"event": "insert", "id": answer["id"], "index": 0})
    assert "Copy" in panel.status.value
    assert panel.view.can_insert is False


def test_listener_updates_from_a_thread_do_not_race(chat, panel):
    """Events from several threads at once leave one consistent transcript."""
    session = panel.session

    def turn(i):
        chat.emit(Started(session, 1000 + i, f"s{i}", f"q{i}"))
        for _ in range(20):
            chat.emit(Delta(session, 1000 + i, f"s{i}", "x"))
        chat.emit(Failed(session, 1000 + i, f"s{i}", f"e{i}"))

    threads = [threading.Thread(target=turn, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert roles(panel).count("user") == 4 and roles(panel).count("error") == 4
    assert panel.view.live == {}


def test_open_panel_inline_reuses_one_panel(chat, capsys):
    open_panel(chat, where="inline")
    first = get_panel(chat)
    open_panel(chat, where="inline")
    assert get_panel(chat) is first
    assert first.holder is not None
    with pytest.raises(ValueError, match="where must be one of"):
        open_panel(chat, where="left")


def test_auto_placement_is_inline_without_a_kernel(shell):
    assert detect(shell) == "inline"
    assert detect(shell, "sidecar") == "sidecar"


def test_chat_panel_magic_opens_the_panel(shell, chat):
    shell.run_cell("%chat panel")
    assert get_panel(chat).holder is not None


def test_markdown_is_rendered_safely():
    out = render_markdown(
        "<script>alert(1)</script> [x](javascript:alert(1)) **b**\n\n"
        "```python\ndef f():\n    return 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        actions=True,
    )
    assert "<script>" not in out.html and "&lt;script&gt;" in out.html
    assert 'href="javascript' not in out.html
    assert "<strong>b</strong>" in out.html and "<table>" in out.html
    assert out.codes == ["def f():\n    return 1"] and out.languages == ["python"]
    assert '<span class="k">def</span>' in out.html
    assert render_markdown("```\nplain\n```").codes == ["plain"]


def test_the_panel_in_a_terminal_is_a_one_line_error(tmp_path):
    out = run_ipython(
        tmp_path,
        "get_ipython().run_line_magic('load_ext', 'jupychat'); "
        "get_ipython().run_line_magic('chat', 'panel')",
    )
    text = out.stdout + out.stderr
    assert "UsageError: the chat panel needs a notebook front end" in text
    assert "Traceback" not in text


def test_session_picker_labels_put_the_count_first(chat, panel):
    from jupychat.notebook.panel_layout import session_label

    label = session_label(
        {"title": "What is 2 + 2? " * 5, "message_count": 12, "updated_at": "2026-12-02T01:52:00"}
    )
    assert label.startswith("12 msgs · What is 2 + 2?") and label.endswith("12-02 01:52")
    assert session_label({"title": "", "message_count": 1}) == "1 msg · (new session)"
    panel.send("hello")
    assert panel.wait(5)
    (shown, _id), *_ = panel.session_picker.options
    assert shown.startswith("2 msgs · ")
    assert panel.session_picker.tooltip == shown


def test_a_long_model_name_is_written_out_under_the_picker(chat, panel):
    line = panel.model_line
    assert line in panel.widget.children and line.layout.display == "none"
    long_name = "openai-compatible:qwen2.5-coder-32b@http://127.0.0.1:8000/v1"
    panel.show_session(panel.session)
    from jupychat.notebook.panel_layout import show_model

    show_model(panel, long_name)
    assert line.layout.display is None and long_name in line.value
    assert panel.model_picker.tooltip == long_name
    show_model(panel, "fake:other")
    assert line.layout.display == "none" and line.value == ""
    show_model(panel, "<b>x</b>:" + "y" * 30)
    assert "<b>" not in line.value and "&lt;b&gt;" in line.value
