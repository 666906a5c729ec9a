"""Caches that keep a later chat cell cheap (issue 22) must never serve a stale answer:
token estimates of long texts, and the known-secrets set between scrubs."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from jupychat import config, secrets, tokens


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=0, max_size=900))
def test_a_remembered_estimate_equals_a_fresh_one(text):
    assert tokens.estimate_tokens(text) == (tokens._estimate(text) if text else 0)
    assert tokens.estimate_tokens(text) == (tokens._estimate(text) if text else 0)


def test_a_long_text_is_measured_once():
    text = "| col | mean |\n|---|---|\n" + "| price_usd | 12.5 |\n" * 40
    before = tokens._estimate_long.cache_info()
    first = tokens.estimate_tokens(text)
    again = tokens.estimate_tokens(str(text))  # an equal text, another object
    after = tokens._estimate_long.cache_info()
    assert first == again == tokens._estimate(text)
    assert after.hits >= before.hits + 1


def test_every_new_secret_source_is_seen_after_a_cached_scrub(monkeypatch, tmp_path):
    env_key = "sk-envkey-" + "a" * 30
    file_key = "sk-filekey-" + "b" * 30
    set_key = "sk-setkey-" + "c" * 30
    arg_key = "sk-argkey-" + "d" * 30
    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(cfg))
    text = f"{env_key} {file_key} {set_key} {arg_key}"
    assert secrets.scrub_text(text) == text  # none known yet: the set is cached now
    monkeypatch.setenv("SOMESERVICE_API_KEY", env_key)
    assert env_key not in secrets.scrub_text(text)
    cfg.write_text(f'[providers.anthropic]\napi_key = "{file_key}"\n')
    os.utime(cfg, (1, 1))  # a fresh mtime even on a coarse clock
    assert file_key not in secrets.scrub_text(text)
    config.set_api_key("groq", set_key)
    assert set_key not in secrets.scrub_text(text)
    secrets.register(arg_key)
    scrubbed = secrets.scrub_text(text)
    assert not any(k in scrubbed for k in (env_key, file_key, set_key, arg_key))
    monkeypatch.delenv("SOMESERVICE_API_KEY")
    assert env_key in secrets.scrub_text(text)  # an unset variable is no longer a secret


def test_context_settings_are_made_once_and_follow_every_change(monkeypatch):
    from jupychat.notebook.namespace import context_settings

    first = context_settings()
    assert context_settings() is first  # asked twice a turn: made once
    config.set_override("values", "schema")
    assert context_settings().values == "schema"
    monkeypatch.setenv("JUPYCHAT_EXCLUDE_VARS", "secret_*, token")
    assert context_settings().exclude_vars == ("secret_*", "token")
    monkeypatch.setenv("JUPYCHAT_SAMPLE_ROWS", "3")
    assert context_settings().sample_rows == 3
    config.set_override("values", None)
    monkeypatch.delenv("JUPYCHAT_EXCLUDE_VARS")
    monkeypatch.delenv("JUPYCHAT_SAMPLE_ROWS")
    assert context_settings() == first


def test_resolved_settings_are_reused_until_a_source_changes(monkeypatch, tmp_path):
    """The context and cell settings are made once while the overrides, the environment
    and the config file are unchanged, and made again after any of them changes."""
    from jupychat.context import ContextSettings
    from jupychat.context.cells import cell_settings
    from jupychat.notebook.namespace import context_settings

    cfg = tmp_path / "config.toml"
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(cfg))
    base = ContextSettings()
    first, cells = context_settings(), cell_settings(base)
    assert context_settings() is first and cell_settings(base) is cells  # made once
    assert cells.cell_outputs is True and first.values == "full"
    cfg.write_text('values = "aggregates"\ncell_outputs = false\n')
    os.utime(cfg, (1, 1))
    assert context_settings().values == "aggregates"
    assert cell_settings(base).cell_outputs is False
    cfg.write_text('values = "schema"\ncell_outputs = true\n')
    os.utime(cfg, (2, 2))  # the same file rewritten: a new mtime
    assert context_settings().values == "schema"
    assert cell_settings(base).cell_outputs is True
    monkeypatch.setenv("JUPYCHAT_CELLS_BUDGET", "123")
    assert cell_settings(base).cells_budget == 123
    config.set_override("cells_budget", 456)
    assert cell_settings(base).cells_budget == 456
    other = ContextSettings(values="schema")
    assert cell_settings(other).values == "schema"  # another base: its own entry
    assert cell_settings(base, cells_budget=7).cells_budget == 7  # explicit: not remembered
    assert cell_settings(base).cells_budget == 456
    cfg.unlink()
    assert context_settings().values == "full"


def test_a_list_set_by_config_and_changed_in_place_is_seen():
    from jupychat.notebook.namespace import context_settings

    names = ["raw_*"]
    config.set_override("exclude_vars", names)
    assert context_settings().exclude_vars == ("raw_*",)
    names.append("secret")  # the same list object, changed after it was set
    assert context_settings().exclude_vars == ("raw_*", "secret")


def test_a_settings_copy_is_made_once_and_is_the_copy_asked_for():
    import pytest

    from jupychat.context import ContextSettings
    from jupychat.errors import ConfigError

    base = ContextSettings()
    room = base.with_(turn_budget=5_200)
    assert base.with_(turn_budget=5_200) is room  # every turn: the same object
    assert room.turn_budget == 5_200 and room == ContextSettings(turn_budget=5_200)
    assert base.with_(turn_budget=5_201).turn_budget == 5_201
    assert ContextSettings(values="schema").with_(turn_budget=5_200).values == "schema"
    listed = base.with_(exclude_vars=["a", "b"])  # unhashable: made, not remembered
    assert listed.exclude_vars == ("a", "b") and base.with_(exclude_vars=["a"]) is not listed
    for _ in range(2):
        with pytest.raises(ConfigError):
            base.with_(turn_budgte=1)
        with pytest.raises(ConfigError):
            base.with_(turn_budget=-1)


def test_the_columns_a_prompt_names_follow_renamed_columns():
    import pandas as pd

    from jupychat.context import turn_context
    from jupychat.context.turn import _focus, mentioned_columns

    df = pd.DataFrame({f"col_{i}": range(3) for i in range(80)})  # wide: compact unless named
    prompt = "compare col_42 with price in @df"

    def named() -> list[str]:
        text = turn_context({"df": df}, ["df"], prompt=prompt)["var:df"]
        detail = text.split("Columns named in the prompt", 1)[-1].split("\n\n", 1)[0]
        assert _focus(prompt, df) == mentioned_columns(prompt, list(df.columns))
        return [c for c in ("col_42", "price") if f"| {c} |" in detail]

    assert named() == named() == ["col_42"]
    df.columns = [*(f"col_{i}" for i in range(79)), "price"]  # in place: a new column Index
    assert named() == ["col_42", "price"]
    df.columns = [f"other_{i}" for i in range(80)]
    assert named() == []
