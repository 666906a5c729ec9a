"""Default model resolution finds what the user already has (issue 14).

Real loopback servers stand in for Ollama, LM Studio and llama.cpp's server (the
project's fake server with its Ollama face); GGUF files are written into a temporary
Hugging Face cache. Nothing here reaches beyond 127.0.0.1.
"""

from __future__ import annotations

import shutil
import socket
import time

import pytest

from fakeserver import FakeServer
from jupychat import ChatSession
from jupychat.providers import discover, registry
from llama_fixtures import needs_llama, write_gguf

CHAT_TEMPLATE = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% endfor %}"


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def discovering(monkeypatch, tmp_path, closed_port):
    """Discovery on, every probe address at a closed loopback port, an empty HF cache."""
    monkeypatch.setenv("JUPYCHAT_DISCOVER", "1")
    nowhere = f"http://127.0.0.1:{closed_port}"
    monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{closed_port}")
    monkeypatch.setenv("JUPYCHAT_LMSTUDIO_URL", nowhere + "/v1")
    monkeypatch.setenv("JUPYCHAT_LLAMACPP_URL", nowhere + "/v1")
    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    (tmp_path / "home").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no LM Studio folders
    discover.reset()
    yield hub
    discover.reset()


def _hub_file(hub, repo: str, name: str):
    folder = hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abcd"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def test_a_running_ollama_is_found_and_answers(discovering, monkeypatch):
    with FakeServer(models=["nomic-embed-text:latest", "llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{srv.port}")
        model, why = registry.default_choice()
        assert model == "ollama:llama3.2"  # the embedding model is skipped
        assert why == "found a running Ollama"
        session = ChatSession()
        assert session.model_id == "ollama:llama3.2"
        assert registry.reason_for(session.model_id) == "found a running Ollama"
        srv.enqueue("four")
        assert session.send("What is 2 + 2?").text == "four"
        assert srv.last.body["model"] == "llama3.2"
        assert srv.last.path == "/v1/chat/completions"


def test_an_openai_compatible_server_is_found(discovering, monkeypatch):
    with FakeServer(models=["text-embedding-nomic-embed-text-v1.5", "qwen2.5-7b-instruct"]) as srv:
        monkeypatch.setenv("JUPYCHAT_LMSTUDIO_URL", srv.openai_base_url)
        model, why = registry.default_choice()
        assert model == f"openai-compatible:qwen2.5-7b-instruct@{srv.openai_base_url}"
        assert why == "found a running LM Studio"
        srv.enqueue("hello")
        assert ChatSession().send("hi").text == "hello"


def test_ollama_wins_over_lm_studio_and_the_probe_runs_once(discovering, monkeypatch):
    with (
        FakeServer(models=["llama3.2:latest"], ollama=True) as ollama,
        FakeServer(models=["qwen"]) as lms,
    ):
        monkeypatch.setenv("OLLAMA_HOST", ollama.url)
        monkeypatch.setenv("JUPYCHAT_LLAMACPP_URL", lms.openai_base_url)
        assert registry.default_model() == "ollama:llama3.2"
        assert registry.default_model() == "ollama:llama3.2"
        assert ollama.listings == ["/api/tags"]  # cached for the process
        assert [line.split(":")[0] for line in discover.found().lines()] == [
            "Ollama at http",
            "llama.cpp server at http",
        ]


def test_a_server_that_never_answers_costs_only_the_short_timeout(discovering, monkeypatch):
    with socket.socket() as hung:  # accepts connections (the kernel does), never replies
        hung.bind(("127.0.0.1", 0))
        hung.listen(8)
        port = hung.getsockname()[1]
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
        monkeypatch.setenv("JUPYCHAT_LMSTUDIO_URL", f"http://127.0.0.1:{port}/v1")
        monkeypatch.setenv("JUPYCHAT_LLAMACPP_URL", f"http://127.0.0.1:{port}/v1")
        began = time.perf_counter()
        servers = discover.probe_servers()
        took = time.perf_counter() - began
    assert servers == []
    assert took < 1.5  # three probes in parallel, 0.3 s each


def test_a_chat_gguf_in_the_hugging_face_cache_is_found(discovering):
    hub = discovering
    chat = write_gguf(
        _hub_file(hub, "org/Qwen-Instruct-GGUF", "qwen-instruct-q4.gguf"),
        {"general.architecture": "qwen2", "tokenizer.chat_template": CHAT_TEMPLATE},
    )
    write_gguf(  # a base model: no chat template
        _hub_file(hub, "org/Qwen-Base-GGUF", "qwen-base.gguf"), {"general.architecture": "qwen2"}
    )
    write_gguf(  # an embedding model, even with a template
        _hub_file(hub, "org/embed-GGUF", "nomic-embed.gguf"),
        {
            "general.architecture": "nomic-bert",
            "tokenizer.chat_template": CHAT_TEMPLATE,
            "nomic-bert.pooling_type": "mean",
        },
    )
    _hub_file(hub, "org/broken", "broken.gguf").write_bytes(b"GGUF\x03\x00")  # truncated
    _hub_file(hub, "org/split", "big-00002-of-00003.gguf").write_bytes(chat.read_bytes())
    assert discover.scan_ggufs() == [chat]
    model, why = registry.default_choice()
    assert model == f"local:{chat}"
    assert "qwen-instruct-q4.gguf" in why


def test_hub_snapshots_link_to_blobs_and_count_once(discovering):
    hub = discovering
    repo = hub / "models--org--Llama-Instruct-GGUF"
    blob = write_gguf(
        (repo / "blobs").mkdir(parents=True) or repo / "blobs" / "9f8e7d",
        {"general.architecture": "llama", "tokenizer.chat_template": CHAT_TEMPLATE},
    )
    links = []
    for snapshot in ("aaa111", "bbb222"):
        link = repo / "snapshots" / snapshot / "llama-instruct.Q4_K_M.gguf"
        link.parent.mkdir(parents=True)
        link.symlink_to(blob)
        links.append(link)
    found = discover.scan_ggufs()
    assert len(found) == 1 and found[0] in links  # the name the user knows, not the blob


def test_gguf_dirs_setting_replaces_the_caches(discovering, monkeypatch, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    chat = write_gguf(
        mine / "m.gguf", {"general.architecture": "llama", "tokenizer.chat_template": "x"}
    )
    monkeypatch.setenv("JUPYCHAT_GGUF_DIRS", str(mine))
    assert discover.gguf_dirs() == [mine]
    assert discover.scan_ggufs() == [chat]


def test_nothing_found_means_the_embedded_model(discovering):
    if not registry._local_installed():
        pytest.skip("needs the embedded model")
    assert registry.default_choice() == ("local", registry.EMBEDDED_REASON)
    assert discover.found().lines() == []


def test_a_key_still_wins_over_a_running_server(discovering, monkeypatch):
    with FakeServer(models=["llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
        model, _why = registry.default_choice()
        assert model.startswith("anthropic:")
        assert srv.listings == []  # not even probed


def test_discovery_off_probes_nothing(discovering, monkeypatch):
    with FakeServer(models=["llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        monkeypatch.setenv("JUPYCHAT_DISCOVER", "0")
        assert discover.found() == discover.Found()
        assert srv.listings == []


def test_load_ext_does_not_probe(discovering, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    from jupychat.notebook import unload_ipython_extension

    with FakeServer(models=["llama3.2:latest"], ollama=True) as srv:
        monkeypatch.setenv("OLLAMA_HOST", srv.url)
        InteractiveShell.clear_instance()
        shell = InteractiveShell.instance()
        try:
            shell.run_line_magic("load_ext", "jupychat")
            assert srv.listings == []
            shell.run_line_magic("chat", "model")  # the first use probes
            assert srv.listings == ["/api/tags"]
        finally:
            unload_ipython_extension(shell)
            InteractiveShell.clear_instance()


@needs_llama
@pytest.mark.llama
def test_a_cached_gguf_copy_really_answers(discovering):
    from llama_fixtures import model_path

    hub = discovering
    copy = _hub_file(hub, "HuggingFaceTB/SmolLM2-135M-Instruct-GGUF", "smollm2-135m.gguf")
    shutil.copyfile(model_path(), copy)
    session = ChatSession(max_tokens=8)
    assert session.model_id == f"local:{copy}"
    assert session.send("Say hi.").text.strip()


def test_a_server_trickling_its_answer_is_not_waited_for(discovering, monkeypatch):
    import threading

    stop = threading.Event()

    def trickle(listener):
        conn, _ = listener.accept()
        with conn:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{")
            while not stop.wait(0.1):
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        threading.Thread(target=trickle, args=(listener,), daemon=True).start()
        monkeypatch.setenv("OLLAMA_HOST", f"127.0.0.1:{port}")
        began = time.perf_counter()
        servers = discover.probe_servers()
        took = time.perf_counter() - began
        stop.set()
    assert servers == []
    assert took < 2.5
