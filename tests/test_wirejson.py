"""The request body's JSON with remembered history entries (providers/_wirejson.py).

The body must be byte for byte what ``json.dumps(payload, ensure_ascii=False)`` gives,
whatever the payload holds; a remembered entry must refuse changes (its text would lie).
"""

from __future__ import annotations

import copy
import json
import pickle

import pytest

from jupychat.providers._wirejson import Entry, dumps_utf8
from jupychat.providers.base import ChatRequest
from jupychat.providers.chat_payload import build_payload
from jupychat.types import Message, Text, ToolCall, ToolResult

ODD = 'quote " backslash \\ tab \t newline \n nul \x00 é 中 😀 \u2028'


def _history() -> list[Message]:
    call = ToolCall(id="c1", name="peek", arguments={"n": 3, "what": ODD})
    return [
        Message(role="user", content=(Text("first " + ODD),)),
        Message(role="assistant", content=(Text("answer"), call)),
        Message(
            role="tool",
            content=(ToolResult(tool_call_id="c1", name="peek", content="rows: 3 " + ODD),),
        ),
        Message(role="assistant", content=(Text(ODD),)),
        Message(role="user", content=(Text("again"),)),
    ]


@pytest.mark.parametrize("extra", [{}, {"top_p": 0.5, "stop": ["x"]}, {"messages_note": [1, 2]}])
def test_body_is_exactly_what_json_dumps_writes(extra):
    request = ChatRequest(
        messages=_history(), system="sys " + ODD, temperature=0.2, max_tokens=9, extra=extra
    )
    for _ in range(2):  # the second time from the entries' remembered text
        payload = build_payload("m", request)
        assert any(type(e) is Entry for e in payload["messages"])
        assert dumps_utf8(payload)[0] == json.dumps(payload, ensure_ascii=False)


def test_payloads_without_entries_and_odd_keys_are_plain_json_dumps():
    for payload in ({"a": [1, {"b": float("inf")}]}, {1: [Entry({"x": 1})]}, {}):
        assert dumps_utf8(payload)[0] == json.dumps(payload, ensure_ascii=False)


def test_an_entry_refuses_changes_and_its_copies_are_plain_dicts():
    entry = Entry({"role": "user", "content": "hi"})
    assert entry.json() == '{"role": "user", "content": "hi"}'
    for change in (
        lambda: entry.__setitem__("content", "bye"),
        lambda: entry.update(content="bye"),
        lambda: entry.pop("role"),
        lambda: entry.setdefault("name", "x"),
        lambda: entry.clear(),
        lambda: entry.__delitem__("role"),
    ):
        with pytest.raises(TypeError, match="cannot change"):
            change()
    assert entry == {"role": "user", "content": "hi"}
    for twin in (copy.copy(entry), copy.deepcopy(entry), pickle.loads(pickle.dumps(entry))):
        assert type(twin) is dict and twin == entry
        twin["content"] = "changed"  # a copy is free to change
    assert entry.json() == '{"role": "user", "content": "hi"}'


# -- the body's bytes: spliced from each entry's remembered UTF-8 ----------------------------


def test_body_bytes_are_what_json_dumps_writes_in_utf8():
    from jupychat.providers._stream import _request_body

    request = ChatRequest(messages=_history(), system="sys " + ODD, max_tokens=9)
    for _ in range(2):  # the second time from the entries' remembered bytes
        payload = build_payload("m", request)
        expected = json.dumps(payload, ensure_ascii=False)
        assert dumps_utf8(payload) == (expected, expected.encode("utf-8"))
        assert _request_body(payload) == expected.encode("utf-8")
    for plain in ({"a": [1, "é"]}, {1: [Entry({"x": "中"})]}):
        text = json.dumps(plain, ensure_ascii=False)
        assert dumps_utf8(plain) == (text, text.encode("utf-8"))


def test_body_with_a_lone_surrogate_or_a_secret_is_made_from_the_text():
    from jupychat import secrets
    from jupychat.providers._stream import _request_body

    lone = [Message(role="user", content=(Text("half \ud800 pair"),)), *_history()]
    payload = build_payload("m", ChatRequest(messages=lone))
    assert dumps_utf8(payload)[1] is None
    body = _request_body(payload)
    assert json.loads(body)["messages"][0]["content"] == "half \ufffd pair"

    key = "sk-test-" + "k" * 40
    secrets.register(key)
    said = [Message(role="user", content=(Text(f"my key is {key}"),)), *_history()]
    request = ChatRequest(messages=said)
    build_payload("m", request)  # its entries remembered before: the bytes hold the key
    body = _request_body(build_payload("m", request))
    assert key.encode() not in body and b"[redacted]" in body
