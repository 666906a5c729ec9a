"""The llama.cpp runtime behind the ``local`` provider: loading, caching, threads, calls.

Design note
-----------
*Lazy, shared, once.* A model loads on first use, once per process for each
``(file, n_ctx, n_threads)``: a module-level cache guarded by a lock, so two sessions (or
two threads) share one loaded model and a second thread waits for the first one's load.
A load that fails is not cached, so a later request with a fixed file or a smaller
``n_ctx`` works. Before loading, the GGUF header is checked (:mod:`.gguf`) and an
``n_ctx`` whose KV cache cannot fit in memory is refused. Loads are logged on
``logging.getLogger("jupychat")``; the provider tells its stream's consumer
(:class:`~jupychat.events.StatusEvent`).

*No network.* ``xllamacpp.Server`` always starts llama.cpp's HTTP listener next to the
in-process API. On POSIX it is bound to a Unix socket inside a private (0700) temporary
directory, so no TCP port is opened at all; elsewhere it binds ``127.0.0.1`` on an
ephemeral port. Either way it demands a random API key that never leaves this process.
Requests go straight to ``Server.handle_chat_completions`` and never touch that listener.

*Calls.* ``handle_chat_completions(payload, callback)`` blocks while llama.cpp calls
``callback(chunk)`` from C++ for each OpenAI-style chunk (already-parsed dicts); returning
``True`` from the callback makes llama.cpp stop and cancel the task. :class:`Call` runs
that on a worker thread and hands each chunk to ``deliver`` (then :data:`END`, or a
:class:`Failure`); :meth:`Call.cancel` sets the flag the callback returns, so generation
stops at the next token and the slot is free for the next request. At interpreter exit,
running calls are stopped before the models are freed (llama.cpp calling back into a
finalizing interpreter would crash the process).

*Threads.* llama.cpp's CPU threads busy-wait for each other, so one that loses its core
stalls the rest. On machines with up to 4 cores one core is left free by default (2 cores
→ 1 thread: about 30 % slower on an idle machine, 3-10× faster on a busy one); larger
machines keep llama.cpp's choice.
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupychat.errors import ModelNotFoundError, ProviderError

from .gguf import GGUFInfo, read_gguf

__all__ = [
    "DEFAULT_N_CTX",
    "END",
    "STOP_WAIT",
    "Call",
    "Failure",
    "Loaded",
    "cache_info",
    "cached",
    "check_file",
    "count_tokens",
    "default_threads",
    "load",
    "unload_all",
]

log = logging.getLogger("jupychat")

DEFAULT_N_CTX = 4096
"""Context window used when ``n_ctx`` is not given (or the model's own, if smaller)."""
STOP_WAIT = 2.0  # seconds to wait for llama.cpp to acknowledge a cancelled call


# ----------------------------------------------------------------------- loaded models


@dataclass
class Loaded:
    """One model in memory: the ``xllamacpp.Server`` and what it was loaded with."""

    server: Any
    path: str
    n_ctx: int
    n_threads: int | None
    seconds: float
    socket_dir: str | None
    api_key: str = ""  # the listener's random key (this process only; for count_tokens)


_cache: dict[tuple[str, int, int | None], Loaded] = {}  # (file, n_ctx, n_threads)
_ctx_of: dict[tuple[str, int | None], int] = {}  # (file, n_ctx asked) -> n_ctx used
_active: set[Call] = set()  # calls running now (stopped at exit)
_active_lock = threading.Lock()
_cache_lock = threading.Lock()  # held briefly, to read or change the dicts
_load_lock = threading.Lock()  # held while a model loads: one load at a time
_loads = 0


def _cached(real: str, n_ctx: int | None, n_threads: int | None) -> Loaded | None:
    with _cache_lock:
        ctx = _ctx_of.get((real, n_ctx))
        return None if ctx is None else _cache.get((real, ctx, n_threads))


def check_file(path: Path) -> None:
    """Raise :class:`ModelNotFoundError` unless ``path`` is a file (it may go away)."""
    if not path.is_file():
        raise ModelNotFoundError(
            f"local model file not found: {path}; check the path, or use 'local' for the "
            "bundled SmolLM2 model",
            provider="local",
        )


def cached(path: Path, n_ctx: int | None, n_threads: int | None) -> Loaded | None:
    """The loaded model for this file and settings, or ``None`` if it is not in memory."""
    return _cached(str(path.resolve()), n_ctx, n_threads)


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


def default_threads() -> int | None:
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
    path: str, n_ctx: int, n_threads: int | None, verbose: bool, api_key: str
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
    _set(params, "api_keys", [api_key])
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


def load(
    path: Path,
    n_ctx: int | None,
    n_threads: int | None,
    verbose: bool,
    name: str,
) -> Loaded:
    """The loaded model for this file and settings, loading it if needed.

    Raises
    ------
    ModelNotFoundError
        The file is gone.
    ProviderError
        The file is not usable GGUF, ``n_ctx`` cannot fit in memory, or llama.cpp
        refused the file.
    """
    global _loads
    check_file(path)
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
        log.info("loading local model %s (%.0f MB, n_ctx=%d)…", name, size / 1e6, ctx)
        started = time.perf_counter()
        threads = n_threads or default_threads()
        api_key = secrets.token_urlsafe(32)
        params, socket_dir = _server_params(real, ctx, threads, verbose, api_key)
        try:
            import xllamacpp

            server = xllamacpp.Server(params)
        except Exception as exc:
            if socket_dir:
                shutil.rmtree(socket_dir, ignore_errors=True)
            log.info("local model %s failed to load", name)
            raise ProviderError(
                f"llama.cpp could not load {path.name} with n_ctx={ctx}: the file may be "
                "corrupt or of an architecture this llama.cpp does not know, or there is not "
                "enough memory; try a smaller n_ctx or another .gguf file",
                provider="local",
            ) from exc
        seconds = time.perf_counter() - started
        entry = Loaded(server, real, ctx, threads, seconds, socket_dir, api_key)
        with _cache_lock:
            _cache[(real, ctx, n_threads)] = entry
            _ctx_of[(real, n_ctx)] = ctx
            _loads += 1
        log.info("local model %s loaded in %.1f s", name, seconds)
        return entry


# ------------------------------------------------------------------------- tokenizer


def count_tokens(entry: Loaded, texts: list[str], timeout: float = 10.0) -> list[int]:
    """How many tokens the model's own tokenizer makes of each of ``texts``.

    llama.cpp's ``/tokenize`` is asked through the model's private listener (the Unix
    socket in its 0700 folder, or 127.0.0.1), with the key that never leaves this process.
    It tokenizes without running the model, so it is cheap.

    Raises
    ------
    ProviderError
        When the listener does not answer as expected.
    """
    import httpx

    server = entry.server
    if server is None:
        raise ProviderError("the local model was unloaded; load it again", provider="local")
    address = str(server.listening_address)
    if address.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=address[len("unix://") :])
        base = "http://localhost"
    else:
        transport, base = httpx.HTTPTransport(), address
    headers = {"Authorization": f"Bearer {entry.api_key}"} if entry.api_key else {}
    counts = []
    try:
        with httpx.Client(transport=transport, timeout=timeout, trust_env=False) as client:
            for text in texts:
                reply = client.post(f"{base}/tokenize", json={"content": text}, headers=headers)
                reply.raise_for_status()
                counts.append(len(reply.json()["tokens"]))
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise ProviderError(
            f"llama.cpp's tokenizer did not answer ({type(exc).__name__})", provider="local"
        ) from exc
    return counts


# --------------------------------------------------------------------------- calls

END = object()
"""Delivered after the last chunk of a call."""


@dataclass(frozen=True)
class Failure:
    """Delivered when ``handle_chat_completions`` raised (the consumer raises it)."""

    error: BaseException


class Call:
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
            self._safe_deliver(Failure(exc))
        finally:
            self._server = None  # only the cache keeps a model alive
            with _active_lock:
                _active.discard(self)
            self._safe_deliver(END)

    def _safe_deliver(self, item: Any) -> None:
        try:
            self._deliver(item)
        except Exception:  # the consumer's event loop is gone; nobody is listening
            pass

    def cancel(self) -> None:
        self.stop.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(STOP_WAIT)
