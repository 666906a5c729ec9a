"""What the store benchmarks share: synthetic messages and the timing helpers.

Design note: bench_store.py (SQLite) and bench_postgres.py (PostgreSQL) fill a store with
the same Zipf-like text and time the same kinds of query, so their figures compare; the
word list, its weights, the messages and the millisecond timings live here once. Not a benchmark
itself (``run_all.py`` runs only ``bench_*.py``).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from jupychat.types import Usage

__all__ = [
    "COMMON_RANK",
    "RARE",
    "pct",
    "synthetic_message",
    "timed",
    "vocabulary",
    "zipf_weights",
]

RARE = "quokka"
COMMON_RANK = 30  # the common search word is the 30th most frequent one


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """``size`` made-up words (never :data:`RARE`), shortest first: the most frequent."""
    consonants, vowels = "bcdfghklmnprstvz", "aeiou"
    words: set[str] = set()
    while len(words) < size:
        n = rng.randint(1, 4)
        words.add("".join(rng.choice(consonants) + rng.choice(vowels) for _ in range(n)))
    words.discard(RARE)
    return sorted(words, key=lambda w: (len(w), w))


def zipf_weights(words: list[str]) -> list[float]:
    """Cumulative Zipf-like weights for ``words`` (for ``random.choices(cum_weights=)``)."""
    cum, total = [], 0.0
    for rank in range(len(words)):
        total += 1.0 / (rank + 1)
        cum.append(total)
    return cum


def synthetic_message(
    rng: random.Random,
    words: list[str],
    cum: list[float],
    seq: int,
    rare: bool,
    *,
    finish_reason: str | None = None,
) -> dict[str, object]:
    """Message ``seq`` of a synthetic conversation (a stored message's dict): 6 to 50
    Zipf-like words, plus :data:`RARE` when ``rare``; odd ``seq`` is the model's answer."""
    text = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(6, 50)))
    if rare:
        text += f" {RARE}"
    message: dict[str, object] = {
        "role": "user",
        "content": [{"type": "text", "text": text}],
        "created_at": "2025-01-01T00:00:00.000000+00:00",
    }
    if seq % 2:
        message.update(role="assistant", model="fake:echo", usage=Usage(40, 60).to_dict())
        if finish_reason is not None:
            message["finish_reason"] = finish_reason
    return message


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds each of ``repeat`` calls of ``fn`` took."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]
