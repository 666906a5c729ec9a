"""``%chat tokens``, ``compact``, ``pin``/``unpin``, ``continue`` and the window in ``stats``
and the footer, in a real IPython shell with the shipped fake provider."""

from __future__ import annotations

import pytest
from IPython.utils.capture import capture_output

from jupychat._compaction import is_summary
from jupychat.notebook import get_chat
from jupychat.providers.fake import get_fake


@pytest.fixture
def shell(notebook_shell):
    return notebook_shell("fake:longmagics", "/work/long.ipynb")


@pytest.fixture
def fake():
    return get_fake("longmagics")


def run(shell, cell):
    with capture_output() as captured:
        result = shell.run_cell(cell)
    texts = [o.data.get("text/plain", "") + o.data.get("text/html", "") for o in captured.outputs]
    return result, "\n".join(texts) + captured.stdout


def test_tokens_preview_stats_and_footer(shell, fake):
    result, out = run(shell, "%%chat\nWhat is a p-value?")
    assert result.success, result.error_in_exec
    assert "window " in out  # the footer says how full the window was
    result, out = run(shell, "%chat tokens and what about medians")
    assert result.success, result.error_in_exec
    for label in ("system prompt", "history", "context", "tools", "total", "context window"):
        assert label in out
    result, out = run(shell, "%chat stats")
    assert "context window:" in out and "of 131,072 tokens" in out


def test_continue_streams_the_rest_into_the_same_answer(shell, fake):
    fake.enqueue("First half of the ans", finish_reason="length")
    result, out = run(shell, "%%chat\nExplain")
    assert "%chat continue" in out
    fake.enqueue("wer, and the rest.")
    result, out = run(shell, "%chat continue")
    assert result.success, result.error_in_exec
    assert "First half of the answer, and the rest." in out
    history = get_chat(shell).session().history
    assert [m.text for m in history] == ["Explain", "First half of the answer, and the rest."]
    result, out = run(shell, "%chat continue")
    assert not result.success and "nothing to continue" in str(result.error_in_exec)


def test_pin_unpin_and_compact(shell, fake):
    for n in range(3):
        run(shell, f"%%chat\nquestion {n}")
    result, out = run(shell, "%chat pin 1")
    assert "pinned turns: 1" in out
    result, out = run(shell, "%chat pin 9")
    assert not result.success and "no turn 9" in str(result.error_in_exec)
    result, out = run(shell, "%chat pin x")
    assert not result.success and "turn number" in str(result.error_in_exec)
    result, out = run(shell, "%chat unpin")
    assert "pinned turns: none" in out
    fake.enqueue("They asked three questions.")
    result, out = run(shell, "%chat compact")
    assert result.success, result.error_in_exec
    assert "summarised 2 turns" in out and "They asked three questions." in out
    history = get_chat(shell).session().history
    assert sum(is_summary(m) for m in history) == 1 and len(history) == 7


def test_the_panel_continue_button(shell, notebook_shell):
    from jupychat.notebook.panel import ChatPanel

    fake = get_fake("longmagics")
    chat = get_chat(shell)
    panel = ChatPanel(chat, interval=0.05)
    try:
        assert panel.continue_button.disabled
        fake.enqueue("Cut in the mid", finish_reason="length")
        panel.send("Explain").join(5)
        assert not panel.continue_button.disabled
        fake.enqueue("dle, and done.")
        panel.continue_button.click()
        panel._worker_thread.join(5)
        assert [m.text for m in chat.session().history] == [
            "Explain",
            "Cut in the middle, and done.",
        ]
        assert panel.continue_button.disabled
    finally:
        panel.close()


def test_stats_while_answering_uses_the_last_answers_window(shell, fake):
    from jupychat.notebook.longcmds import window_line

    run(shell, "%%chat\nhello")
    session = get_chat(shell).session()
    assert session._busy.acquire(blocking=False)  # as while a panel turn runs
    try:
        assert window_line(session).startswith("context window at the last answer:")
    finally:
        session._busy.release()
