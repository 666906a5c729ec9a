"""Notebook rendering and memory, measured inside a real ipykernel.

1. Kernel CPU time (``time.process_time`` in the kernel: every thread, ZMQ sends included)
   to show a streamed answer of 1,000 tokens in a ``%%chat`` cell, and in the chat panel,
   against the same stream consumed by the same session with nothing rendered (the
   baseline, in the same kernel, interleaved). The fake provider server runs in its own
   process and streams with no delay. Target: ≤ 50 ms of rendering per answer in a cell.
2. Resident memory the kernel gains from ``%load_ext jupychat``, and from the first
   ``%%chat`` turn against a remote-style (OpenAI-compatible HTTP) provider, no local
   model. Target: ≤ 30 MB for both together.

    python benchmarks/bench_render.py [--runs 7] [--tokens 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from fakeserver import spawn

RSS = (
    "import os as _os\n"
    "def _rss():\n"
    "    with open('/proc/self/statm') as f:\n"
    "        return int(f.read().split()[1]) * _os.sysconf('SC_PAGE_SIZE')\n"
)


class Kernel:
    """A real ipykernel driven through jupyter_client."""

    def __init__(self, env: dict[str, str]) -> None:
        from jupyter_client.manager import KernelManager

        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        """Execute ``code``; return its stdout (raise on an error)."""
        out: list[str] = []
        errors: list[str] = []

        def hook(msg: dict) -> None:
            kind = msg["msg_type"]
            if kind == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])
            elif kind == "error":
                errors.append("\n".join(msg["content"]["traceback"]))

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=300)
        if errors or reply["content"]["status"] != "ok":
            raise RuntimeError(f"kernel error in {code[:60]!r}: {errors}")
        return "".join(out)

    def number(self, code: str) -> float:
        return float(self.run(code).strip().splitlines()[-1])

    def close(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=1000)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    server, url = spawn()
    control = httpx.Client(timeout=30)
    text = "".join(f"w{i % 97} " for i in range(args.tokens))  # one token a chunk
    script = json.dumps({"text": text, "chunk_size": len("w00 ")})

    def enqueue(n: int = 1) -> None:
        control.post(f"{url}/_script", content=json.dumps([json.loads(script)] * n))

    env = {
        **os.environ,
        "JUPYCHAT_STORE": f"{tmp}/s.db",
        "JUPYCHAT_CONFIG": f"{tmp}/c.toml",
        "JUPYCHAT_MODEL": f"openai-compatible:bench@{url}/v1",
        "IPYTHONDIR": f"{tmp}/ipython",
        "JPY_SESSION_NAME": f"{tmp}/bench.ipynb",
    }
    kernel = Kernel(env)
    try:
        kernel.run(RSS + "import time, gc\n_base = _rss()")
        base = kernel.number("print(_rss())")
        kernel.run("%load_ext jupychat")
        loaded = kernel.number("gc.collect(); print(_rss())")
        enqueue()
        kernel.run("%%chat\nwarm up")
        first = kernel.number("gc.collect(); print(_rss())")

        cell, bare, panel = [], [], []
        kernel.run(
            "from jupychat.notebook import get_chat\n"
            "from jupychat.notebook.panel import get_panel\n"
            "_panel = get_panel()\n"
            "_s = get_chat().session()"
        )
        for i in range(args.runs):
            enqueue(3)
            cell.append(
                kernel.number(
                    "_t0 = time.process_time()\n"
                    f"get_ipython().run_cell_magic('chat', '', 'question {i}')\n"
                    "print(time.process_time() - _t0)"
                )
            )
            bare.append(
                kernel.number(
                    "_t0 = time.process_time()\n"
                    f"for _ in _s.stream('question b{i}'): pass\n"
                    "print(time.process_time() - _t0)"
                )
            )
            panel.append(
                kernel.number(
                    "_t0 = time.process_time()\n"
                    f"_panel.send('question p{i}'); _panel.wait(60)\n"
                    "print(time.process_time() - _t0)"
                )
            )
    finally:
        kernel.close()
        control.close()
        server.kill()
        server.wait()

    c, b, p = (statistics.median(x) * 1e3 for x in (cell, bare, panel))
    mb = 1 / (1 << 20)
    print(f"{args.tokens}-token answer, median of {args.runs} interleaved runs, kernel CPU time")
    print(f"{'measure':<54}{'value':>10}{'baseline':>10}{'ratio':>8}")
    print(f"{'stream consumed, nothing rendered (baseline)':<54}{b:>8.1f}ms")
    print(f"{'%%chat cell: stream + render':<54}{c:>8.1f}ms{b:>8.1f}ms{c / b:>8.2f}")
    print(f"{'  rendering into the cell (target ≤ 50 ms)':<54}{c - b:>8.1f}ms")
    print(f"{'chat panel: stream + render':<54}{p:>8.1f}ms{b:>8.1f}ms{p / b:>8.2f}")
    print(f"{'  rendering into the panel':<54}{p - b:>8.1f}ms")
    print(f"{'kernel RSS before %load_ext':<54}{base * mb:>8.1f}MB")
    print(f"{'added by %load_ext jupychat':<54}{(loaded - base) * mb:>8.1f}MB")
    print(f"{'added by the first %%chat turn (HTTP provider)':<54}{(first - loaded) * mb:>8.1f}MB")
    print(
        f"{'  both (target ≤ 30 MB)':<54}{(first - base) * mb:>8.1f}MB{base * mb:>8.1f}MB"
        f"{first / base:>8.2f}"
    )


if __name__ == "__main__":
    main()
