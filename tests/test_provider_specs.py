"""The table of HTTP provider specs and the one factory that builds them.

Unit tier (``httpx.MockTransport``): every spec in :data:`SPECS` is built through the
registry and sends its request where the spec says, with the key in the spec's header,
and its model id resolves back to the same endpoint; aliases and plug-in specs go
through the same factory; what other modules read from the table (``KEYED_DEFAULTS``,
the key environment variables) follows it.
"""

from __future__ import annotations

import json

import httpx
import pytest

from jupychat import catalog, config, secrets
from jupychat.errors import AuthenticationError, ConfigError
from jupychat.events import Done, TextDelta
from jupychat.providers import registry
from jupychat.providers._http import HTTPProvider
from jupychat.providers.base import ChatRequest
from jupychat.providers.specs import SPECS, ProviderSpec, http_provider, key_env_vars
from jupychat.types import Message

KEY = "sk-spec-test-0123456789abcdef"


class Recorder:
    """A mock server that answers every request with one non-streamed reply of its wire."""

    def __init__(self, wire: str = "openai") -> None:
        self.wire = wire
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.wire == "anthropic":
            body = {
                "type": "message",
                "content": [{"type": "text", "text": "hi"}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
        else:
            body = {
                "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1},
            }
        return httpx.Response(200, json=body)


def ask(provider) -> list:
    return list(provider.stream(ChatRequest([Message.of("user", "x")])))


def _model_string(spec: ProviderSpec) -> str:
    if spec.url_in_model:
        return f"{spec.name}:m-1@http://127.0.0.1:9/v1"
    return f"{spec.name}:m-1"


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_spec_sends_where_it_says_with_its_key_header(name, monkeypatch):
    spec = SPECS[name]
    if spec.base_url is None and not spec.url_in_model:
        monkeypatch.setenv(str(spec.base_url_env), "https://res.example.com")
    rec = Recorder(spec.wire)
    provider = registry.resolve_model(
        _model_string(spec), api_key=KEY, transport=httpx.MockTransport(rec), max_retries=0
    )
    assert isinstance(provider, HTTPProvider) and provider.spec is spec
    events = ask(provider)
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["hi"]
    assert isinstance(events[-1], Done)
    request = rec.requests[-1]
    sent = request.headers[spec.key_header]
    assert sent == spec.key_prefix + KEY
    assert request.url.path.endswith(spec.path.format(model="m-1").removeprefix("/v1"))
    if spec.version_query:
        assert request.url.params[spec.version_query] == spec.api_version
    if spec.version_header:
        assert request.headers[spec.version_header] == spec.api_version
    assert KEY.encode() not in request.content
    again = registry.resolve_model(provider.model_id)
    assert (again.model_id, again.request_url()) == (provider.model_id, provider.request_url())


def test_required_keys_are_asked_for_with_the_specs_env_var():
    for spec in SPECS.values():
        if not spec.key_required:
            continue
        provider = http_provider(spec, "m", base_url="http://127.0.0.1:9/v1")
        with pytest.raises(AuthenticationError) as info:
            ask(provider)
        assert f"set {spec.key_env} or run %chat key {spec.name}" in str(info.value)


def test_a_base_url_with_a_query_keeps_it_after_the_path():
    rec = Recorder()
    provider = http_provider(
        "openai-compatible",
        "m@http://gw.example/v1?team=nlp",
        transport=httpx.MockTransport(rec),
    )
    ask(provider)
    url = rec.requests[-1].url
    assert url.path == "/v1/chat/completions" and url.params["team"] == "nlp"
    azure = http_provider("azure", "dep", base_url="https://r.example?team=nlp", api_version="v9")
    assert azure.request_url() == (
        "https://r.example/openai/deployments/dep/chat/completions?team=nlp&api-version=v9"
    )


def test_an_alias_of_any_wire_uses_its_own_table_and_key(tmp_path, monkeypatch):
    (tmp_path / "config.toml").write_text(
        '[providers.work]\ntype = "anthropic"\nbase_url = "http://gw.example/anthropic"\n'
        'api_key_env = "WORK_GATEWAY_KEY"\napi_version = "2099-01-01"\n'
    )
    monkeypatch.setenv("WORK_GATEWAY_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://not-this.example")  # anthropic's own
    rec = Recorder("anthropic")
    provider = registry.resolve_model("work:claude-x", transport=httpx.MockTransport(rec))
    assert provider.model_id == "work:claude-x" and "work" in registry.available()
    ask(provider)
    request = rec.requests[-1]
    assert str(request.url) == "http://gw.example/anthropic/v1/messages"
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2099-01-01"
    monkeypatch.delenv("WORK_GATEWAY_KEY")
    with pytest.raises(AuthenticationError, match=r"WORK_GATEWAY_KEY.*%chat key work"):
        ask(registry.resolve_model("work:claude-x", transport=httpx.MockTransport(rec)))
    config.set_api_key("work", KEY)
    assert ask(registry.resolve_model("work:claude-x", transport=httpx.MockTransport(rec)))


def test_a_plugin_can_register_a_spec_instead_of_a_factory(monkeypatch):
    spec = ProviderSpec(
        "lab-gateway", "openai", base_url="http://lab.example/v1", key_env="LAB_GATEWAY_KEY"
    )
    monkeypatch.setenv("LAB_GATEWAY_KEY", KEY)
    registry.register("labgw", spec)
    try:
        rec = Recorder()
        provider = registry.resolve_model("labgw:big", transport=httpx.MockTransport(rec))
        assert provider.model_id == "labgw:big"
        assert registry.resolve_model(provider.model_id).request_url() == (
            "http://lab.example/v1/chat/completions"
        )
        ask(provider)
        assert rec.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    finally:
        registry.unregister("labgw")


def test_a_url_in_the_model_string_wins_over_the_base_url_option():
    provider = http_provider("openai-compatible", "m@http://a.example/v1", base_url="http://b/v1")
    assert provider.base_url == "http://a.example/v1"
    assert provider.model_id == "openai-compatible:m@http://a.example/v1"


def test_a_spec_with_an_unknown_wire_is_refused():
    with pytest.raises(ConfigError, match="unknown wire format 'grpc'"):
        ProviderSpec("x", "grpc")
    with pytest.raises(ConfigError, match="no HTTP provider spec 'nope'"):
        http_provider("nope", "m")


def test_the_api_version_option_only_where_the_spec_has_one():
    with pytest.raises(ConfigError, match=r"unknown option.*api_version"):
        http_provider("openai", "m", api_version="2024-01-01")
    assert http_provider("anthropic", "m", api_version="v2").api_version == "v2"


def test_keyed_defaults_and_key_env_vars_follow_the_table():
    keyed = [s for s in SPECS.values() if s.key_required and s.base_url and s.key_env]
    expected = [
        (s.name, s.key_env, catalog.default_for(s.name))
        for s in keyed
        if catalog.default_for(s.name)
    ]
    assert list(registry.KEYED_DEFAULTS) == expected
    assert [p for p, _, _ in registry.KEYED_DEFAULTS] == ["openai", "anthropic"]
    assert key_env_vars() == {s.name: s.key_env for s in SPECS.values() if s.key_env}


def test_a_key_in_any_specs_env_var_is_known_to_secrets(monkeypatch):
    for spec in SPECS.values():
        value = f"{spec.name}-secret-value-0123456789"
        monkeypatch.setenv(str(spec.key_env), value)
        secrets.invalidate()
        assert value in secrets.known(), spec.name
        text = json.dumps({"note": f"my key is {value}"})
        assert value not in secrets.scrub_text(text)
