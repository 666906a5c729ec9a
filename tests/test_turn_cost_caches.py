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


def test_a_turn_reads_the_config_file_once_and_the_next_turn_sees_an_edit(monkeypatch, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("read_timeout = 11\n")
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(cfg))
    stats = []
    real_stat = os.stat
    monkeypatch.setattr(
        config.os, "stat", lambda p, *a, **k: stats.append(p) or real_stat(p, *a, **k)
    )
    with config.settled():
        assert config.resolve("read_timeout") == 11
        cfg.write_text("read_timeout = 22\n")
        os.utime(cfg, (1, 1))
        with config.settled():  # nested blocks share the turn's view
            assert config.resolve("read_timeout") == 11
        assert config.resolve("connect_timeout") == 10.0
        assert config.provider_settings("openai") == {}
    assert len(stats) == 1  # one look at the file for the whole block
    assert config.resolve("read_timeout") == 22  # outside: every call looks again
    with config.settled():
        assert config.resolve("read_timeout") == 22


def test_a_turn_view_is_per_thread(monkeypatch, tmp_path):
    import threading

    cfg = tmp_path / "config.toml"
    cfg.write_text("read_timeout = 11\n")
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(cfg))
    seen = []
    with config.settled():
        assert config.resolve("read_timeout") == 11
        cfg.write_text("read_timeout = 33\n")
        os.utime(cfg, (2, 2))
        worker = threading.Thread(target=lambda: seen.append(config.resolve("read_timeout")))
        worker.start()
        worker.join()
    assert seen == [33]


def test_remembered_message_splits_equal_fresh_ones():
    from jupychat.types import ContextBlock, Message, Text

    a = Message.of("user", (Text("hello"), ContextBlock("var:df", "a table")))
    b = Message.of("user", (Text("hello again"),))
    for message in (a, b, a, b):
        assert tokens._split_message(message) == tokens._split_parts(message)
    assert (
        tokens.request_tokens([a, b]).total
        == tokens.request_tokens(
            [Message.of("user", a.content), Message.of("user", b.content)]
        ).total
    )


def test_a_key_set_in_the_environment_during_a_turn_is_still_scrubbed(monkeypatch, tmp_path):
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(tmp_path / "config.toml"))
    key = "sk-midturn-" + "e" * 30
    with config.settled():
        assert secrets.scrub_text(key) == key
        monkeypatch.setenv("MIDTURN_API_KEY", key)  # e.g. an approved tool sets one
        assert key not in secrets.scrub_text(f"the key is {key}")


def test_remembered_tool_texts_and_digests_follow_every_change():
    from jupychat._recording import digest
    from jupychat.notebook.replay_inputs import _tools_digest
    from jupychat.providers.base import ToolSpec

    params = {"type": "object", "properties": {"n": {"type": "integer"}}}
    one = [ToolSpec("head", "first rows", params)]
    fresh = digest(repr(sorted((s.name, s.description, s.parameters) for s in one)))
    assert _tools_digest(one) == _tools_digest([ToolSpec("head", "first rows", params)]) == fresh
    assert tokens._tool_text(one[0]) == tokens._tool_text(ToolSpec("head", "first rows", params))
    other = {"type": "object", "properties": {"k": {"type": "string"}}}
    changed = [ToolSpec("head", "first rows", other)]
    assert _tools_digest(changed) != fresh
    assert '"k"' in tokens._tool_text(changed[0])
    assert _tools_digest([*one, ToolSpec("tail", "last rows", params)]) != fresh
    assert _tools_digest([]) == ""


def test_a_context_blocks_digest_is_made_once_and_follows_its_text():
    import dataclasses
    import hashlib

    from jupychat.types import ContextBlock

    block = ContextBlock("var:df", "| a | b |")
    fresh = hashlib.sha256(b"| a | b |").hexdigest()[:16]
    assert block.digest == fresh
    assert block.__dict__["digest"] == fresh  # kept on the block: later turns reuse it
    assert dataclasses.replace(block, text="| a | c |").digest != fresh
    assert block == ContextBlock("var:df", "| a | b |")  # equality is by fields only


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


def test_a_config_file_chosen_by_the_environment_is_seen_by_the_next_scrub(monkeypatch, tmp_path):
    # the cached set is checked against the environment, not the file's path: the path
    # is made from it (JUPYCHAT_CONFIG, HOME...), so pointing it elsewhere is a change
    key = "sk-otherfile-" + "f" * 30
    plain, keyed = tmp_path / "plain.toml", tmp_path / "keyed.toml"
    plain.write_text("read_timeout = 11\n")
    keyed.write_text(f'[providers.anthropic]\napi_key = "{key}"\n')
    for cfg in (plain, keyed):
        os.utime(cfg, (5, 5))  # the same mtime: only the path tells them apart
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(plain))
    with config.settled():
        assert secrets.scrub_text(key) == key
    monkeypatch.setenv("JUPYCHAT_CONFIG", str(keyed))
    with config.settled():
        assert secrets.scrub_text(key) == "[redacted]"
