"""Finding a model the user already has: a running local server, or a GGUF file on disk.

Design note
-----------
:func:`jupychat.providers.registry.default_model` asks this module, after an explicit
setting and a provider key, for something better than the embedded SmolLM2 model. Two
places are looked at, and nothing is ever downloaded:

*Running servers*, probed in parallel with a short timeout (``probe_timeout``, 0.3 s; plain
:mod:`http.client`, no proxies, no redirects, never more than three timeouts in all):
Ollama at the address the ``ollama`` provider would use (``[providers.ollama]`` base URL,
else ``OLLAMA_HOST``, else ``127.0.0.1:11434``; ``GET /api/tags``), LM Studio
(``lmstudio_url``, ``http://127.0.0.1:1234/v1``) and llama.cpp's server (``llamacpp_url``,
``http://127.0.0.1:8080/v1``), both ``GET /models`` of the OpenAI-compatible API. A
setting set to ``""`` or ``off`` skips that probe. Embedding and reranking models are
skipped; the first chat model a server lists is picked (Ollama lists the most recently
used first). Only loopback and the addresses the user configured are ever contacted.

*GGUF files* in the usual caches: the Hugging Face hub cache (``HF_HUB_CACHE``,
``HUGGINGFACE_HUB_CACHE``, ``HF_HOME``/hub, ``~/.cache/huggingface/hub``) and LM Studio's
models folders (``~/.lmstudio/models``, ``~/.cache/lm-studio/models``), or the folders the
``gguf_dirs`` setting lists (``os.pathsep``-separated). A file counts when its header
(:func:`~jupychat.providers.gguf.read_gguf`) carries a chat template and is not an
embedding model; of those that fit comfortably in memory the largest is picked.

The answer is cached for the process (:func:`found`; :func:`reset` forgets it), so the
probes run once, lazily, at the first turn or ``%chat model``, never at ``%load_ext``.
``discover = false`` (``JUPYCHAT_DISCOVER=0``) turns all of this off.
"""

from __future__ import annotations

import concurrent.futures
import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupychat import config

__all__ = [
    "Found",
    "Server",
    "found",
    "gguf_dirs",
    "is_chat_gguf",
    "probe_servers",
    "reset",
    "scan_ggufs",
]

DEFAULT_TIMEOUT = 0.3
_OLLAMA_DEFAULT = "http://127.0.0.1:11434"
_OPENAI_COMPATIBLE = (
    ("lmstudio_url", "LM Studio", "http://127.0.0.1:1234/v1"),
    ("llamacpp_url", "llama.cpp server", "http://127.0.0.1:8080/v1"),
)
_NOT_CHAT_WORDS = ("embed", "rerank", "minilm", "bge-", "bge:", "e5-", "gte-", "colbert")
_NOT_CHAT_FAMILIES = frozenset({"bert", "nomic-bert", "jina-bert", "jina-bert-v2", "xlm-roberta"})
_EMBEDDING_ARCHS = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "t5encoder"})
_MAX_GGUF_BYTES = 8 * 2**30  # bigger files run too slowly on a CPU to be a default


@dataclass(frozen=True)
class Server:
    """A running local model server and the chat models it serves."""

    kind: str  # "Ollama", "LM Studio", "llama.cpp server"
    url: str
    models: tuple[str, ...]

    def model_id(self, name: str) -> str:
        """The ``provider:model`` string that reaches ``name`` on this server."""
        if self.kind == "Ollama":
            return "ollama:" + name.removesuffix(":latest")
        return f"openai-compatible:{name}@{self.url}"


@dataclass(frozen=True)
class Found:
    """What :func:`found` saw: servers with chat models, and chat GGUF files."""

    servers: tuple[Server, ...] = ()
    ggufs: tuple[Path, ...] = ()

    def best(self) -> tuple[str, str] | None:
        """``(model id, why)`` of the best find, or ``None``."""
        for server in self.servers:
            if server.models:
                return server.model_id(server.models[0]), f"found a running {server.kind}"
        if self.ggufs:
            path = self.ggufs[0]
            return f"local:{path}", f"found the chat model {path.name} on this machine"
        return None

    def lines(self) -> list[str]:
        """Human-readable lines for ``%chat models``."""
        out = []
        for server in self.servers:
            ids = ", ".join(server.model_id(m) for m in server.models) or "(no chat models)"
            out.append(f"{server.kind} at {server.url}: {ids}")
        out += [f"GGUF: local:{p}" for p in self.ggufs]
        return out


_lock = threading.Lock()
_cache: Found | None = None


def enabled() -> bool:
    """Whether discovery is on (the ``discover`` setting, default true)."""
    value = config.resolve("discover", default=True)
    if isinstance(value, str):
        return value.strip().lower() not in {"0", "false", "no", "off", ""}
    return bool(value)


def found() -> Found:
    """Probe servers and scan caches once per process (thread-safe), then reuse it."""
    global _cache
    with _lock:
        if _cache is None:
            _cache = _discover() if enabled() else Found()
        return _cache


def reset() -> None:
    """Forget the cached answer (the next :func:`found` looks again)."""
    global _cache
    with _lock:
        _cache = None


def _discover() -> Found:
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="jupychat-discover") as pool:
        servers = pool.submit(probe_servers)
        ggufs = pool.submit(scan_ggufs)
        return Found(tuple(servers.result()), tuple(ggufs.result()))


# ---------------------------------------------------------------------------- servers


def _setting_url(name: str, default: str) -> str | None:
    value = config.resolve(name, default=default)
    text = str(value).strip() if value is not None else ""
    return None if text.lower() in {"", "off", "none", "false", "0"} else text.rstrip("/")


def ollama_root() -> str | None:
    """The Ollama address the ``ollama`` provider would use, without ``/v1``."""
    from .specs import _host_url

    table = config.provider_settings("ollama").get("base_url")
    if table:
        return str(table).rstrip("/").removesuffix("/v1")
    host = os.environ.get("OLLAMA_HOST", "").strip()
    if host:
        return _host_url(host, None)
    return _setting_url("ollama_url", _OLLAMA_DEFAULT)


def is_chat_name(name: str, family: str = "", families: Any = ()) -> bool:
    """False for names and families of embedding or reranking models."""
    low = name.lower()
    if any(word in low for word in _NOT_CHAT_WORDS):
        return False
    fams = {str(f).lower() for f in (families or ())} | ({family.lower()} if family else set())
    return not (fams and fams <= _NOT_CHAT_FAMILIES)


def _ollama_models(data: Any) -> list[str]:
    models = data.get("models") if isinstance(data, Mapping) else None
    out = []
    for item in models if isinstance(models, list) else []:
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("name") or item.get("model") or "")
        raw = item.get("details")
        details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        if name and is_chat_name(name, str(details.get("family") or ""), details.get("families")):
            out.append(name)
    return out


def _openai_models(data: Any) -> list[str]:
    items = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(items, list) and isinstance(data, Mapping):
        items = data.get("models")  # llama.cpp also answers in this shape
    out = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        name = str(item.get("id") or item.get("name") or item.get("model") or "")
        kind = str(item.get("type") or "").lower()
        if name and "embed" not in kind and is_chat_name(name):
            out.append(name)
    return out


def _get_json(url: str, timeout: float) -> Any:
    """``GET url`` → parsed JSON, or ``None`` (no answer in time, not 200, not JSON).

    Plain :mod:`http.client`: no proxy, no redirects, no TLS set-up for ``http://``, and
    no httpx import, so a probe of nothing costs next to nothing.
    """
    import http.client
    import json
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            return None
        return json.loads(response.read(1 << 20))
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def _probe(kind: str, root: str, path: str, timeout: float) -> Server | None:
    data = _get_json(root + path, timeout)
    if data is None:
        return None
    models = _ollama_models(data) if kind == "Ollama" else _openai_models(data)
    return Server(kind, root, tuple(models))


def probe_servers(timeout: float | None = None) -> list[Server]:
    """The local servers that answer within ``timeout`` (probed in parallel), in order of
    preference: Ollama, LM Studio, llama.cpp's server."""
    wait = float(timeout or config.resolve("probe_timeout", default=DEFAULT_TIMEOUT))
    targets: list[tuple[str, str, str]] = []
    root = ollama_root()
    if root:
        targets.append(("Ollama", root, "/api/tags"))
    for setting, kind, default in _OPENAI_COMPATIBLE:
        url = _setting_url(setting, default)
        if url:
            targets.append((kind, url, "/models"))
    if not targets:
        return []
    pool = ThreadPoolExecutor(max_workers=len(targets), thread_name_prefix="jupychat-probe")
    futures = [pool.submit(_probe, kind, root, path, wait) for kind, root, path in targets]
    done, _ = concurrent.futures.wait(futures, timeout=3 * wait + 0.5)
    pool.shutdown(wait=False)  # a server trickling its answer is not waited for
    results = [f.result() if f in done else None for f in futures]
    return [s for s in results if s is not None]


# ---------------------------------------------------------------------------- GGUF files


def gguf_dirs() -> list[Path]:
    """The folders searched for GGUF files (the ``gguf_dirs`` setting, else the caches)."""
    setting = config.resolve("gguf_dirs")
    if setting:
        parts = setting if isinstance(setting, list) else str(setting).split(os.pathsep)
        return [Path(str(p)).expanduser() for p in parts if str(p).strip()]
    env = os.environ
    home = Path.home()
    hub = env.get("HF_HUB_CACHE") or env.get("HUGGINGFACE_HUB_CACHE")
    if hub:
        dirs = [Path(hub)]
    elif env.get("HF_HOME"):
        dirs = [Path(env["HF_HOME"]) / "hub"]
    else:
        dirs = [home / ".cache" / "huggingface" / "hub"]
    dirs += [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]
    return [d.expanduser() for d in dirs]


def _gguf_files(folder: Path, limit: int = 2000) -> Iterator[Path]:
    seen = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d not in {"blobs", ".locks", ".git"}]
        for name in files:
            if not name.lower().endswith(".gguf"):
                continue
            low = name.lower()
            if "-of-" in low and "-00001-of-" not in low:
                continue  # later shards of a split model; llama.cpp loads from the first
            if low.startswith("mmproj"):
                continue  # a vision projector, not a model
            seen += 1
            if seen > limit:
                return
            yield Path(root) / name


def is_chat_gguf(path: Path) -> bool:
    """True when the GGUF header has a chat template and is not an embedding model."""
    from jupychat.errors import ProviderError

    from .gguf import read_gguf

    try:
        info = read_gguf(path)
    except ProviderError:
        return False
    meta = info.metadata
    if not meta.get("tokenizer.chat_template"):
        return False
    if info.architecture in _EMBEDDING_ARCHS or f"{info.architecture}.pooling_type" in meta:
        return False
    return is_chat_name(str(meta.get("general.name") or path.name))


def _bundled() -> Path | None:
    try:
        from .local import bundled_model_path

        return bundled_model_path().resolve()
    except Exception:  # not installed: nothing to skip
        return None


def _memory_cap() -> int:
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return _MAX_GGUF_BYTES
    return min(_MAX_GGUF_BYTES, total // 2)


def scan_ggufs() -> list[Path]:
    """Chat/instruct GGUF files in :func:`gguf_dirs` that fit in memory, largest first
    (the embedded model's own file is left out)."""
    bundled = _bundled()
    cap = _memory_cap()
    sized: list[tuple[int, Path]] = []
    seen: set[Path] = set()
    for folder in gguf_dirs():
        if not folder.is_dir():
            continue
        for path in _gguf_files(folder):
            try:
                real = path.resolve()
                size = real.stat().st_size
            except OSError:
                continue
            if real in seen or real == bundled or size > cap or not is_chat_gguf(path):
                continue
            seen.add(real)  # one blob linked from several snapshots counts once
            sized.append((size, Path(os.path.abspath(path))))
    sized.sort(key=lambda item: (-item[0], str(item[1])))
    return [p for _, p in sized]
