"""The context window of each model: the provider's report, the table, the default."""

from __future__ import annotations

import pytest

from jupychat import ChatSession
from jupychat._window import DEFAULT_WINDOW, context_window, forget
from jupychat.providers.registry import resolve_model
from llama_fixtures import SERVER_N_CTX, llama_server, needs_llama

__all__ = ["llama_server"]  # the session fixture, imported so pytest finds it here


@pytest.fixture(autouse=True)
def _fresh():
    forget()
    yield
    forget()


def test_table_default_and_override():
    assert context_window(resolve_model("openai:gpt-4o-mini", api_key="k")).tokens == 128_000
    assert (
        context_window(resolve_model("anthropic:claude-sonnet-4-5", api_key="k")).source == "table"
    )
    fake = resolve_model("fake:w")
    assert context_window(fake).tokens == 131_072 and context_window(fake).source == "provider"
    assert context_window(fake, 9000).tokens == 9000
    unknown = resolve_model("openai-compatible:m@http://127.0.0.1:9/v1")  # nothing listens
    window = context_window(unknown)
    assert (window.tokens, window.source) == (DEFAULT_WINDOW, "default")
    assert context_window(unknown) is window  # asked once


def test_a_known_model_behind_another_endpoint_gets_its_window_from_the_table():
    """gpt-4o-mini through a proxy, Azure-style endpoint or OpenRouter holds 128k tokens:
    the window is the model's, whoever serves it (a price is not, and stays unknown)."""
    from fakeserver import FakeServer

    with FakeServer() as server:  # lists no window for the model
        proxied = resolve_model(f"openai-compatible:gpt-4o-mini@{server.openai_base_url}")
        window = context_window(proxied)
    assert (window.tokens, window.source) == (128_000, "table")
    routed = resolve_model("openai-compatible:openai/gpt-4o-mini@http://127.0.0.1:9/v1")
    assert context_window(routed).tokens == 128_000  # OpenRouter's way of naming it


def test_a_server_that_answers_nothing_useful_gets_the_default():
    from fakeserver import FakeServer

    with FakeServer() as server:
        provider = resolve_model(f"openai-compatible:other@{server.openai_base_url}")
        window = context_window(provider)
    assert (window.tokens, window.source) == (DEFAULT_WINDOW, "default")


@needs_llama
@pytest.mark.llama
def test_llama_cpp_server_reports_n_ctx(llama_server):
    provider = resolve_model(f"openai-compatible:smollm2@{llama_server.removesuffix('/v1')}/v1")
    window = context_window(provider)
    assert window.tokens == SERVER_N_CTX and window.source in ("llama.cpp n_ctx", "server")


@needs_llama
def test_local_model_window_is_its_n_ctx():
    provider = resolve_model("local", n_ctx=1024)
    assert context_window(provider).tokens == 1024
    assert context_window(resolve_model("local")).tokens <= 4096


def test_stats_report_the_window():
    session = ChatSession("fake:st", context_window=1000)
    session.send("hello there")
    window = session.history[-1].meta["window"]
    assert window["size"] == 1000 and 0 < window["used"] < 1000


class _Ollama:
    """A loopback stand-in for Ollama's /api/show (what a model's info looks like)."""

    def __init__(self, parameters: str, context_length: int) -> None:
        import json
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        owner = self
        self.asked: list[dict] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                owner.asked.append(body)
                data = {
                    "parameters": parameters,
                    "model_info": {
                        "general.architecture": "llama",
                        "llama.context_length": context_length,
                    },
                }
                raw = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize(
    ("parameters", "trained", "expected"),
    [('num_ctx 16384\nstop "<|eot|>"', 131072, 16384), ("", 131072, 4096), ("", 2048, 2048)],
)
def test_ollama_show_gives_num_ctx_else_the_trained_length_capped(parameters, trained, expected):
    stub = _Ollama(parameters, trained)
    try:
        provider = resolve_model("ollama:llama3.2", base_url=stub.url)
        window = context_window(provider)
    finally:
        stub.close()
    assert (window.tokens, window.source) == (expected, "ollama")
    assert stub.asked == [{"model": "llama3.2"}]
