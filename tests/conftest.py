"""Shared fixtures: every test runs with its own config file, store and fake provider state."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Keep tests away from the user's real config, store and keys."""
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "sessions.db"))
    # no probing of local servers or model caches unless a test asks (test_discover.py)
    monkeypatch.setenv("JUPYCHAT_DISCOVER", "0")
    for var in (
        "JUPYCHAT_MODEL",
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "OPENAI_BASE_URL",
        "ANTHROPIC_BASE_URL",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_ENDPOINT",
        "OLLAMA_HOST",
    ):
        monkeypatch.delenv(var, raising=False)
    from jupychat import config
    from jupychat.providers import discover, fake

    config.reset_for_tests()
    fake.reset_all()
    discover.reset()
    yield
    config.reset_for_tests()


@pytest.fixture
def notebook_shell(monkeypatch):
    """``notebook_shell(model, notebook)``: a fresh IPython shell with ``%load_ext jupychat``,
    its session bound to ``notebook`` and using ``model``; unloaded afterwards."""
    from IPython.core.interactiveshell import InteractiveShell

    from jupychat.notebook import unload_ipython_extension

    shells = []

    def make(model: str, notebook: str = "/work/analysis.ipynb"):
        monkeypatch.setenv("JUPYCHAT_MODEL", model)
        monkeypatch.setenv("JPY_SESSION_NAME", notebook)
        InteractiveShell.clear_instance()
        sh = InteractiveShell.instance()
        sh.run_line_magic("load_ext", "jupychat")
        shells.append(sh)
        return sh

    yield make
    for sh in shells:
        unload_ipython_extension(sh)
    InteractiveShell.clear_instance()


@pytest.fixture(scope="session")
def pg_server():
    """A private PostgreSQL server for the whole test run (see tests/pg_server.py)."""
    from pg_server import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty PostgreSQL database on the test server."""
    from pg_server import fresh_database

    return fresh_database(pg_server)


@pytest.fixture(scope="module")
def model_server():
    """The fake model server (tests/fakeserver.py) as a subprocess for one test module;
    yields its base URL (queue replies with :func:`fixtures_server.script`)."""
    from fakeserver import spawn

    proc, url = spawn(python=sys.executable)
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """pytest-playwright's launch arguments for Debian's Chromium (browser tests only)."""
    from browser_lab import launch_args

    return launch_args(browser_type_launch_args)
