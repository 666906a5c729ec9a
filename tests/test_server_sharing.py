"""Two users on one PostgreSQL store, each through their own real Jupyter Server.

As on JupyterHub, each user has a server of their own (here: two ``jupyter_server``
processes on 127.0.0.1, each with ``JUPYTERHUB_USER`` set and ``JUPYCHAT_STORE`` pointing
at the same database). Each sees only their own sessions and those shared with them,
through the REST API and the pages; changing a session you may only read is a 403, and
one you may not see is a 404, whatever the request.
"""

from __future__ import annotations

import urllib.parse

import pytest

pytest.importorskip("jupyter_server")

from jupychat.store.postgres import PostgresStore
from jupychat_server_helpers import make_session, run_jupyter


@pytest.fixture(scope="module")
def hub(tmp_path_factory, pg_server):
    from pg_server import fresh_database

    url = fresh_database(pg_server, "hub")
    with PostgresStore(url, user="admin") as setup:
        setup.sessions()  # the schema, as the hub's admin would create it, before the servers
    servers = {}
    with run_jupyter(
        tmp_path_factory.mktemp("alice"),
        env={"JUPYCHAT_STORE": url, "JUPYTERHUB_USER": "alice"},
    ) as alice:
        servers["alice"] = alice
        with run_jupyter(
            tmp_path_factory.mktemp("bob"),
            env={"JUPYCHAT_STORE": url, "JUPYTERHUB_USER": "bob"},
        ) as bob:
            servers["bob"] = bob
            yield url, servers


@pytest.fixture(scope="module")
def sessions(hub):
    url, _ = hub
    with PostgresStore(url, user="alice") as alice, PostgresStore(url, user="bob") as bob:
        a = make_session(alice, [("alice asks about the narwhal budget", "noted")])
        b = make_session(bob, [("bob asks about the narwhal roadmap", "ok")])
        yield alice, bob, a, b


def _client(hub, who):
    return hub[1][who].client()


def _api(hub, who, path=""):
    return hub[1][who].api(path)


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["sessions"]]


def test_each_user_lists_and_searches_only_their_own(hub, sessions):
    _, _, a, b = sessions
    with _client(hub, "alice") as alice, _client(hub, "bob") as bob:
        assert _ids(alice.get(_api(hub, "alice", "sessions"))) == [a]
        assert _ids(bob.get(_api(hub, "bob", "sessions"))) == [b]
        assert _ids(bob.get(_api(hub, "bob", "sessions"), params={"q": "narwhal"})) == [b]
        assert _ids(bob.get(_api(hub, "bob", "sessions"), params={"q": "budget"})) == []
        page = bob.get(hub[1]["bob"].url + "/jupychat/")
        assert page.status_code == 200 and "budget" not in page.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "sessions/{}"),
        ("PATCH", "sessions/{}"),
        ("DELETE", "sessions/{}"),
        ("GET", "sessions/{}/export"),
        ("GET", "sessions/{}/shares"),
        ("POST", "sessions/{}/shares"),
        ("DELETE", "sessions/{}/shares"),
    ],
)
def test_a_session_not_shared_with_you_is_a_404(hub, sessions, method, path):
    alice_store, _, a, _ = sessions
    with _client(hub, "bob") as bob:
        body = {"title": "x"} if method == "PATCH" else {"users": ["bob"]}
        response = bob.request(
            method,
            _api(hub, "bob", path.format(a)),
            json=body if method in ("PATCH", "POST") else None,
        )
        assert response.status_code == 404, response.text
        assert "Traceback" not in response.text
        page = bob.get(f"{hub[1]['bob'].url}/jupychat/sessions/{a}")
        assert page.status_code == 404
    assert alice_store.load(a)["title"] == "alice asks about the narwhal budget"


def test_sharing_opens_the_transcript_read_only_and_revoking_closes_it(hub, sessions):
    alice_store, _, a, b = sessions
    with _client(hub, "alice") as alice, _client(hub, "bob") as bob:
        shares = _api(hub, "alice", f"sessions/{a}/shares")
        answer = alice.post(shares, json={"users": ["bob"]})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["shared_with"] == ["bob"]
        assert body["link"].endswith(f"/jupychat/sessions/{a}") and "user-redirect" in body["link"]
        assert alice.get(shares).json()["shared_with"] == ["bob"]
        # bob reads it through his own server: list, search, API, page, export
        listed = bob.get(_api(hub, "bob", "sessions")).json()["sessions"]
        assert {s["id"]: s["owner"] for s in listed} == {a: "alice", b: "bob"}
        assert _ids(bob.get(_api(hub, "bob", "sessions"), params={"q": "budget"})) == [a]
        record = bob.get(_api(hub, "bob", f"sessions/{a}"))
        assert record.status_code == 200
        assert record.json()["messages"][0]["content"][0]["text"].endswith("budget")
        page = bob.get(f"{hub[1]['bob'].url}/jupychat/sessions/{urllib.parse.quote(a)}")
        assert page.status_code == 200 and "narwhal budget" in page.text
        assert (
            "alice" in page.text and "jc-delete" not in page.text and "jc-rename" not in page.text
        )
        export = bob.get(_api(hub, "bob", f"sessions/{a}/export"), params={"format": "md"})
        assert export.status_code == 200 and "narwhal budget" in export.text
        # ... but cannot change it, or pass it on
        for method, path, body in [
            ("PATCH", f"sessions/{a}", {"title": "bob's now"}),
            ("DELETE", f"sessions/{a}", None),
            ("POST", f"sessions/{a}/shares", {"users": ["carol"]}),
            ("DELETE", f"sessions/{a}/shares", None),
            ("GET", f"sessions/{a}/shares", None),
        ]:
            response = bob.request(method, _api(hub, "bob", path), json=body)
            assert response.status_code == 403, (method, path, response.text)
            assert "alice" in response.json()["message"]
        assert alice_store.load(a)["title"] == "alice asks about the narwhal budget"
        # the owner's page offers sharing; bob's own session page offers it to him
        mine = alice.get(f"{hub[1]['alice'].url}/jupychat/sessions/{a}")
        assert "jc-share" in mine.text and "jc-delete" in mine.text
        # revoke: gone for bob at once
        revoked = alice.delete(shares, params={"user": "bob"})
        assert revoked.status_code == 200 and revoked.json()["shared_with"] == []
        assert bob.get(_api(hub, "bob", f"sessions/{a}")).status_code == 404
        assert _ids(bob.get(_api(hub, "bob", "sessions"))) == [b]
        # everyone on the hub, then nobody
        assert alice.post(shares, json={"everyone": True}).json()["shared_with"] == ["*"]
        assert bob.get(_api(hub, "bob", f"sessions/{a}")).status_code == 200
        assert alice.delete(shares).json()["shared_with"] == []
        assert bob.get(_api(hub, "bob", f"sessions/{a}")).status_code == 404


def test_bad_share_requests_are_a_400(hub, sessions):
    _, _, a, _ = sessions
    with _client(hub, "alice") as alice:
        shares = _api(hub, "alice", f"sessions/{a}/shares")
        for body in [{}, {"users": "bob"}, {"users": [""]}, {"users": ["a b"]}, {"users": [3]}]:
            response = alice.post(shares, json=body)
            assert response.status_code == 400, (body, response.text)
            assert "\n" not in response.json()["message"]
        assert alice.get(shares).json()["shared_with"] == []
