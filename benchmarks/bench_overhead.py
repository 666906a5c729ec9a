"""Client overhead per chat turn, and the cost of ``import jupychat``.

Run: ``python benchmarks/bench_overhead.py [--turns 40] [--history 200]``

What it measures
----------------
1. A ``ChatSession`` on the ``openai-compatible`` provider talks to the loopback fake
   server (``tests/fakeserver.py``, run as a subprocess so it does not share our GIL;
   zero delay between chunks) with a history of ``--history`` earlier turns. For each
   turn: wall time of ``session.send``, minus the time the server itself spent on the
   request (it records that per request) = jupychat's client overhead. Target: < 5 ms.
2. The same requests sent with bare httpx (same JSON body, streamed, lines read to
   ``[DONE]``): the floor any Python client pays. The ratio shows what the session,
   payload mapping, SSE parsing and event plumbing add on top.
3. ``python -c "import jupychat"`` vs ``python -c pass`` (best of N, subprocesses).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fakeserver import spawn  # noqa: E402
from jupychat import ChatSession  # noqa: E402
from jupychat.providers.base import ChatRequest  # noqa: E402
from jupychat.providers.openai import build_payload, compatible_provider  # noqa: E402
from jupychat.types import Message  # noqa: E402

TARGET_MS = 5.0


def history_of(turns: int) -> list[Message]:
    """A plausible notebook conversation: questions and answers of a few hundred chars."""
    messages: list[Message] = []
    for i in range(turns):
        messages.append(Message.of("user", f"Question {i}: what does column x{i} mean? " * 3))
        messages.append(Message.of("assistant", f"Answer {i}: it counts events per day. " * 8))
    return messages


def timings(client: httpx.Client, url: str) -> list[float]:
    return list(client.get(f"{url}/_timings").json())


def stats_ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(values) * 1e3, p95 * 1e3


class RawClient:
    """The baseline: the same conversation with bare httpx and a minimal SSE loop."""

    def __init__(self, url: str, history: int) -> None:
        self.url = url
        self.messages = history_of(history)
        self.client = httpx.Client(timeout=30)

    def send(self, prompt: str) -> str:
        self.messages.append(Message.of("user", prompt))
        payload = build_payload("bench", ChatRequest(self.messages, system="You are terse."))
        parts = []
        with self.client.stream(
            "POST", f"{self.url}/v1/chat/completions", json=payload
        ) as response:
            for line in response.iter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    continue  # read to the end so the connection goes back to the pool
                for choice in json.loads(data).get("choices") or []:
                    parts.append((choice.get("delta") or {}).get("content") or "")
        text = "".join(parts)
        self.messages.append(Message.of("assistant", text))
        return text


def bench(url: str, history: int, turns: int, control: httpx.Client) -> dict[str, Any]:
    """Alternate jupychat and raw turns (so machine load hits both alike)."""
    provider = compatible_provider(f"bench@{url}/v1", max_retries=0)
    session = ChatSession(provider, system_prompt="You are terse.", history=history_of(history))
    raw = RawClient(url, history)
    clients = {"jupychat": session.send, "httpx": raw.send}
    for i in range(3):  # warm up connections, imports, caches
        for send in clients.values():
            send(f"warm-up {i}")
    before = len(timings(control, url))
    order: list[str] = []
    out: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": [], "server": [], "overhead": []} for name in clients
    }
    for i in range(turns):
        names = list(clients) if i % 2 == 0 else list(reversed(clients))
        for name in names:
            cpu, began = time.thread_time(), time.perf_counter()
            clients[name](f"Benchmark question number {i}?")
            out[name]["wall"].append(time.perf_counter() - began)
            out[name]["cpu"].append(time.thread_time() - cpu)
            order.append(name)
    server = timings(control, url)[before:]
    assert len(server) == len(order), (len(server), len(order))
    for name, spent in zip(order, server, strict=True):
        out[name]["server"].append(spent)
    for data in out.values():
        data["overhead"] = [w - s for w, s in zip(data["wall"], data["server"], strict=True)]
    request = ChatRequest(list(session.history), system=session.system_prompt)
    out["body_kb"] = len(json.dumps(build_payload("bench", request))) / 1024  # type: ignore[assignment]
    return out


def best_of(code: str, n: int) -> float:
    best = float("inf")
    for _ in range(n):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        best = min(best, time.perf_counter() - began)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--history", type=int, default=200)
    parser.add_argument("--imports", type=int, default=7, help="runs for import timing")
    args = parser.parse_args()

    proc, url = spawn()
    control = httpx.Client(timeout=30)
    try:
        rows = [
            (history, bench(url, history, args.turns, control)) for history in (0, args.history)
        ]
    finally:
        control.close()
        proc.terminate()
        proc.wait(timeout=10)

    print(
        f"\nper-turn times, {args.turns} turns per client, alternating; loopback fake server "
        "in a subprocess, zero chunk delay"
    )
    print(
        "overhead = wall - server's own handling time; cpu = this thread's CPU time; "
        "ms as median / p95\n"
    )
    head = f"{'history':>7} {'client':>9}"
    for col in ("wall", "server", "overhead", "cpu"):
        head += f" {col:>15}"
    print(head + f" {'ratio':>7}")
    verdict = True
    for history, data in rows:
        base = statistics.median(data["httpx"]["overhead"])
        for name in ("httpx", "jupychat"):
            line = f"{history:>7} {name:>9}"
            for col in ("wall", "server", "overhead", "cpu"):
                line += " {:7.2f} {:7.2f}".format(*stats_ms(data[name][col]))
            ratio = statistics.median(data[name]["overhead"]) / base
            print(f"{line} {ratio:>6.2f}x")
        median_overhead = statistics.median(data["jupychat"]["overhead"]) * 1e3
        if history == args.history:
            verdict = median_overhead < TARGET_MS
            print(
                f"\nhistory={history} turns (request body ≈ {data['body_kb']:.0f} KiB): "
                f"jupychat overhead median {median_overhead:.2f} ms per turn "
                f"(target < {TARGET_MS:.0f} ms: {'OK' if verdict else 'MISSED'})"
            )

    bare = best_of("pass", args.imports)
    imported = best_of("import jupychat", args.imports)
    providers = best_of(
        "import jupychat.providers.openai, jupychat.providers.anthropic", args.imports
    )
    print(f"\nstartup, best of {args.imports} subprocess runs")
    for label, seconds in (
        ("python -c pass", bare),
        ("python -c 'import jupychat'", imported),
        ("python -c 'import jupychat.providers.openai, .anthropic'", providers),
    ):
        print(
            f"{label:<58} {seconds * 1e3:8.1f} ms {seconds / bare:6.2f}x "
            f"(+{(seconds - bare) * 1e3:.1f} ms)"
        )
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
