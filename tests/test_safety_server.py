"""Hostile requests to the sessions API answer 400 with one line, never 500."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("jupyter_server")

from jupychat.store import SessionStore
from jupychat_server_helpers import make_session, run_jupyter


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with run_jupyter(tmp_path_factory.mktemp("jupyter")) as srv:
        yield srv


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


@pytest.fixture(scope="module")
def session_id(server):
    with SessionStore(server.store_path) as store:
        return make_session(store, [("the first prompt", "reply")], notebook="work/s.ipynb")


@pytest.mark.parametrize(
    "body",
    [
        b'{"title": ' * 100_000 + b"1" + b"}" * 100_000,  # nested 100,000 deep
        b"[" * 100_000 + b"]" * 100_000,
        b'{"title": "\\ud800"}',  # a lone surrogate: valid JSON, not text
        b'{"title": "ok \\udfff ok"}',
        b'{"title": "' + b"x" * 200_000 + b'"}',
        b'{"title": "\xff\xfe"}',  # not UTF-8
        b'{"title": 1e999}',
        b'{"title": ["x"]}',
        b'{"title": null, "title": {"a": 1}}',
    ],
)
def test_hostile_patch_bodies_get_a_400(server, http, session_id, body):
    response = http.patch(server.api(f"sessions/{session_id}"), content=body)
    assert response.status_code == 400, (body[:40], response.status_code, response.text[:200])
    message = response.json()["message"]
    assert message and "\n" not in message and "Traceback" not in message
    with SessionStore(server.store_path) as store:
        assert store.summary(session_id)["title"] == "the first prompt"


def test_the_server_still_answers_after_them(server, http, session_id):
    ok = http.patch(server.api(f"sessions/{session_id}"), json={"title": "renamed"})
    assert ok.status_code == 200 and json.loads(ok.text)["title"] == "renamed"
