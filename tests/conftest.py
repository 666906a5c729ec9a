"""Shared fixtures: every test runs with its own config file, store and fake provider state."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    """Keep tests away from the user's real config, store and keys."""
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "config.toml"))
    monkeypatch.setenv("JUPYCHAT_STORE", str(tmp_path / "sessions.db"))
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
    from jupychat.providers import fake

    config.reset_for_tests()
    # providers.fake has no public "reset every shared fake" yet (providers/ is another
    # helper's area in this wave): this is the one private access left here.
    for provider in fake._shared.values():
        provider.reset()
    yield
    config.reset_for_tests()
