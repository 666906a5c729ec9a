"""A long session: time and tokens per turn over 200 turns, with and without compaction.

Run: ``python benchmarks/bench_long_session.py [--turns 200] [--window 8192]``

What it measures
----------------
One ``ChatSession`` against the loopback fake model server (``tests/fakeserver.py``,
OpenAI wire format) asks ``--turns`` questions of ~60 tokens and gets answers of ~120
tokens. The server answers at once, so the time measured is jupychat's own work per turn
(counting, compaction planning, building and parsing requests, the store), plus one
loopback HTTP round trip per model call.

* **without compaction** (``compact=False``, the server has no window): every request
  re-sends the whole history, so input tokens per turn grow linearly (the baseline);
* **with compaction** (``context_window=--window``): when a request would pass 80 % of the
  window, older turns are summarised (by the same fake model, which answers a summary
  request with a short summary) and the request shrinks again.

Rows: for each block of turns, the mean input tokens per turn (from the server's usage),
the mean time per turn, and (with compaction) how many summaries were written. Then
compaction's own cost: summaries written, the tokens they took (their requests' input
and output), and the extra time of the turns that compacted. The last line is the ratio
of total input tokens with compaction to without (lower is better) and of total time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

from fakeserver import FakeServer  # noqa: E402
from jupychat import ChatSession  # noqa: E402
from jupychat._compaction import is_summary  # noqa: E402
from jupychat._window import forget  # noqa: E402
from jupychat.store import SessionStore  # noqa: E402

ANSWER = (
    "The mean is pulled up by a few large orders, so the median describes a typical "
    "order better; plot a histogram with a log scale to see the long tail, and check "
    "whether the largest values come from one region or one customer before dropping "
    "anything. A box plot per region makes the comparison easy to read. "
)


def responder(api: str, body: dict[str, Any]) -> str:
    first = body["messages"][0]
    system = first.get("content") if first.get("role") == "system" else ""
    if "You condense conversations" in str(system):
        return "The user asked about order values, medians, skew, plots and regions."
    return ANSWER


def run(turns: int, window: int | None, folder: Path) -> dict[str, Any]:
    forget()
    with FakeServer() as server:
        server.responder = responder
        options: dict[str, Any] = {"compact": False} if window is None else {}
        if window is not None:
            options["context_window"] = window
        store = SessionStore(folder / f"bench-{window}.db")
        session = ChatSession(
            f"openai-compatible:fake-model@{server.openai_base_url}", store=store, **options
        )
        times, inputs, compacted = [], [], []
        for n in range(turns):
            before = sum(is_summary(m) for m in session.history)
            began = time.perf_counter()
            response = session.send(
                f"Question {n}: the orders frame has a long right tail in price; what "
                "summary statistic and which plot would you use, and why?"
            )
            times.append(time.perf_counter() - began)
            inputs.append(response.usage.input_tokens)
            compacted.append(sum(is_summary(m) for m in session.history) - before)
        summaries = [m for m in session.history if is_summary(m)]
        stored = len(store.load(session.id)["messages"])
        store.close()
    return {
        "times": times,
        "inputs": inputs,
        "compacted": compacted,
        "summary_tokens": sum((m.usage.total_tokens if m.usage else 0) for m in summaries),
        "summaries": len(summaries),
        "messages": len([m for m in session.history if not is_summary(m)]),
        "stored": stored,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--window", type=int, default=8192)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = run(args.turns, None, Path(tmp))
        comp = run(args.turns, args.window, Path(tmp))
    block = max(1, args.turns // 8)
    print(f"{args.turns} turns; window {args.window:,} tokens for the compacting run")
    print(
        f"{'turns':>9} | {'input/turn (full)':>17} {'ms/turn':>8} | "
        f"{'input/turn (compact)':>20} {'ms/turn':>8} {'summaries':>9}"
    )
    for start in range(0, args.turns, block):
        end = min(args.turns, start + block)
        print(
            f"{start + 1:>4}-{end:<4} | {statistics.mean(base['inputs'][start:end]):>17,.0f} "
            f"{statistics.mean(base['times'][start:end]) * 1e3:>8.1f} | "
            f"{statistics.mean(comp['inputs'][start:end]):>20,.0f} "
            f"{statistics.mean(comp['times'][start:end]) * 1e3:>8.1f} "
            f"{sum(comp['compacted'][start:end]):>9}"
        )
    plain = [t for t, c in zip(comp["times"], comp["compacted"], strict=True) if not c]
    heavy = [t for t, c in zip(comp["times"], comp["compacted"], strict=True) if c]
    extra = (statistics.mean(heavy) - statistics.mean(plain)) * 1e3 if heavy and plain else 0.0
    print(
        f"compaction's own cost: {comp['summaries']} summaries, {comp['summary_tokens']:,} "
        f"tokens (their requests in + out), {extra:.1f} ms extra on each of the "
        f"{len(heavy)} turns that compacted"
    )
    print(
        f"messages kept: {base['messages']} / {comp['messages']} in memory, "
        f"{base['stored']} / {comp['stored']} stored (compacting run: + its summaries)"
    )
    total_in = (sum(comp["inputs"]) + comp["summary_tokens"]) / sum(base["inputs"])
    print(
        f"ratio compacted/full: input tokens {total_in:.2f} (summaries included), "
        f"time {sum(comp['times']) / sum(base['times']):.2f}; last turn's input "
        f"{comp['inputs'][-1]:,} vs {base['inputs'][-1]:,}"
    )


if __name__ == "__main__":
    main()
