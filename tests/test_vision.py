"""Which models get images (the capability table and its overrides), and what an image part
looks like on the wire to OpenAI-compatible and Anthropic servers (loopback fake server)."""

from __future__ import annotations

import base64

import pytest

from fakeserver import collect
from fixtures_server import fake_server
from jupychat import config
from jupychat.capabilities import supports_images, vision_setting
from jupychat.errors import ConfigError
from jupychat.providers.anthropic import anthropic_provider
from jupychat.providers.base import ChatRequest
from jupychat.providers.fake import get_fake
from jupychat.providers.openai import compatible_provider
from jupychat.types import Image, Message, Text

__all__ = ["fake_server"]

KEY = "sk-test-0123456789abcdefVISION"
FAST = {"backoff": 0.001, "max_backoff": 0.01}
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.mark.parametrize(
    "model",
    [
        "openai:gpt-4o",
        "openai:gpt-4o-mini",
        "openai:gpt-4.1-nano",
        "openai:gpt-5",
        "openai:gpt-5-mini",
        "openai:o1",
        "openai:o3",
        "openai:o4-mini",
        "openai:gpt-4-turbo",
        "azure:gpt-4o",
        "openai-compatible:gpt-4o@http://127.0.0.1:9/v1",
        "openai-compatible:openai/gpt-4o-mini@https://openrouter.ai/api/v1",
        "anthropic:claude-3-haiku-20240307",
        "anthropic:claude-3-5-haiku-latest",
        "anthropic:claude-3-7-sonnet-latest",
        "anthropic:claude-sonnet-4-0",
        "anthropic:claude-opus-4-1",
        "ollama:llava",
        "ollama:llava:13b",
        "ollama:llama3.2-vision:11b",
        "ollama:qwen2.5vl:7b",
        "ollama:gemma3:4b",
        "ollama:minicpm-v",
        "ollama:moondream",
        "ollama:granite3.2-vision",
        "openai-compatible:Qwen/Qwen2.5-VL-7B-Instruct@http://127.0.0.1:8000/v1",
        "fake:vision",
        "gpt-4o",
    ],
)
def test_models_that_accept_images(model):
    assert supports_images(model) is True


@pytest.mark.parametrize(
    "model",
    [
        "local",
        "local:smollm2",
        "fake",
        "fake:default",
        "fake:magics",
        "openai:gpt-3.5-turbo",
        "openai:gpt-4",
        "openai:o1-mini",
        "openai:o3-mini",
        "openai:gpt-oss-20b",
        "anthropic:claude-2.1",
        "anthropic:claude-instant-1.2",
        "ollama:llama3.2",
        "ollama:gemma3:1b",
        "ollama:qwen2.5:7b",
        "ollama:mistral",
        "azure:my-deployment",
        "openai-compatible:fake@http://127.0.0.1:9/v1",
        "",
    ],
)
def test_models_that_do_not(model):
    assert supports_images(model) is False


def test_overrides_per_call_setting_env_and_config_file(tmp_path, monkeypatch):
    assert supports_images("fake:default", vision=True) is True
    assert supports_images("openai:gpt-4o", vision=False) is False
    config.set_override("vision", True)
    assert supports_images("local") is True
    assert supports_images("local", vision="auto") is False  # per call wins over %config
    config.set_override("vision", {"fake:*": True, "openai:gpt-4o-mini": False})
    assert supports_images("fake:default") is True
    assert supports_images("openai:gpt-4o-mini") is False
    assert supports_images("openai:gpt-4o") is True  # no pattern matched: the table
    config.set_override("vision", None)
    monkeypatch.setenv("JUPYCHAT_VISION", "off")
    assert supports_images("openai:gpt-4o") is False
    monkeypatch.delenv("JUPYCHAT_VISION")
    (tmp_path / "config.toml").write_text('[vision]\n"ollama:my-vlm*" = true\n')
    assert supports_images("ollama:my-vlm:7b") is True and supports_images("ollama:x") is False
    with pytest.raises(ConfigError, match="vision must be true, false, 'auto'"):
        vision_setting("sometimes")


def test_provider_objects_are_accepted():
    assert supports_images(get_fake("vision")) is True
    assert supports_images(get_fake("default")) is False


def _image_message() -> Message:
    data = base64.b64encode(PNG_1PX).decode("ascii")
    return Message.of("user", [Text("Why is this plot empty?"), Image(data, "image/png")])


def test_openai_wire_shape_for_an_image_part(fake_server):
    provider = compatible_provider(f"m@{fake_server.openai_base_url}", api_key=KEY, **FAST)
    collect(provider, ChatRequest([_image_message()]), "sync")
    (message,) = fake_server.last.body["messages"]
    data = base64.b64encode(PNG_1PX).decode("ascii")
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Why is this plot empty?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}},
        ],
    }


def test_anthropic_wire_shape_for_an_image_part(fake_server):
    provider = anthropic_provider(
        "claude-fake", base_url=fake_server.anthropic_base_url, api_key=KEY, **FAST
    )
    collect(provider, ChatRequest([_image_message()]), "sync")
    (message,) = fake_server.last.body["messages"]
    assert message["content"][-1].pop("cache_control") == {"type": "ephemeral"}  # prompt cache
    data = base64.b64encode(PNG_1PX).decode("ascii")
    assert message == {
        "role": "user",
        "content": [
            {"type": "text", "text": "Why is this plot empty?"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": data},
            },
        ],
    }


def test_a_recorded_figure_reaches_the_server_as_image_and_text(fake_server):
    """The figure path end to end: live Figure → account + PNG → context → wire."""
    mpl = pytest.importorskip("matplotlib")
    pd = pytest.importorskip("pandas")
    mpl.use("Agg", force=True)
    import io

    import matplotlib.pyplot as plt

    from jupychat.context.celldata import Output
    from jupychat.context.cells import figure_context
    from jupychat.context.figures import describe_figure

    ax = pd.DataFrame({"x": []}).plot()
    buf = io.BytesIO()
    ax.figure.savefig(buf, format="png")
    output = Output(
        kind="display",
        mime=("text/plain", "image/png"),
        figure=describe_figure(ax.figure),
        image=buf.getvalue(),
        image_type="image/png",
        type_name="matplotlib.figure.Figure",
    )
    plt.close("all")
    for api, model in (("openai", "openai-compatible:gpt-4o"), ("anthropic", "claude-3-5-sonnet")):
        ctx = figure_context(output, images=supports_images(model))
        parts = [
            Text(next(iter(ctx.values()))),
            *(a.part() for a in ctx.images),
            Text("why is this plot empty?"),
        ]
        if api == "openai":
            provider = compatible_provider(
                f"gpt-4o@{fake_server.openai_base_url}", api_key=KEY, **FAST
            )
        else:
            provider = anthropic_provider(
                model, base_url=fake_server.anthropic_base_url, api_key=KEY, **FAST
            )
        collect(provider, ChatRequest([Message.of("user", parts)]), "sync")
        content = fake_server.last.body["messages"][0]["content"]
        kinds = [p["type"] for p in content]
        assert kinds == ["text", "image_url" if api == "openai" else "image", "text"]
        assert "axes 1 has no plotted data" in content[0]["text"]
        sent = (
            content[1]["image_url"]["url"].split(",", 1)[1]
            if api == "openai"
            else content[1]["source"]["data"]
        )
        assert base64.b64decode(sent) == buf.getvalue()
