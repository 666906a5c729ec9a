"""Benchmark: the safe answer renderer vs bare markdown-it-py, on realistic answers.

Run::

    python benchmarks/bench_markdown.py

A streaming answer is re-rendered on every display update (at most every 0.1 s in a cell
and in the panel), so the full render must stay well under that. For answers of ~1, 10 and
50 kB (prose, lists, a table, math, Python code blocks) it prints the median time of
``jupychat.markdown.render`` (Markdown + math + Pygments + allowlist pass; repeated runs
of one answer find its code in the highlight cache), of the same
without highlighting, and of a bare ``MarkdownIt("commonmark", {"html": False})`` with
tables measured in the same run, and the ratio to that baseline; then the cost of a 10 kB
answer streamed with an update every 250 characters (finished code blocks come from the
highlight cache). Target: < 20 ms per streaming update of a 10 kB answer, a fifth of the
update interval (the cell output also waits at least twice the last render time).
Last, hostile shapes (thousands of unclosed math delimiters, brackets, tags) against bare
markdown-it: the ratio must stay near 1 (no quadratic scans in the math rules).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from markdown_it import MarkdownIt

from jupychat.markdown import render

BLOCK = """## Step {n}

Load the data with `pd.read_csv` and check the **missing values**; the mean is
$\\bar x = \\frac{{1}}{{n}}\\sum_i x_i$ and it costs $5 per run.

- first, *filter* the rows
- then ~~drop~~ keep the outliers, see [the docs](https://pandas.pydata.org/docs/)

| column | nulls | mean |
|:--|--:|--:|
| price | 12 | 20.4 |
| qty | 0 | 3.1 |

```python
def summary(df, col="price"):
    \"\"\"Mean and nulls of one column.\"\"\"
    return {{"mean": df[col].mean(), "nulls": int(df[col].isna().sum())}}
```

$$
\\operatorname{{Var}}(x) = \\frac{{1}}{{n-1}}\\sum_{{i=1}}^n (x_i - \\bar x)^2
$$
"""


def answer(size: int) -> str:
    parts, n = [], 0
    while sum(map(len, parts)) < size:
        n += 1
        parts.append(BLOCK.format(n=n))
    return "\n".join(parts)[:size]


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    bare = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
    render("warm up ```python\nx\n```")
    print(f"{'answer':>8} {'safe render':>12} {'no colour':>10} {'bare mdit':>10} {'ratio':>6}")
    for size in (1_000, 10_000, 50_000):
        text = answer(size)
        repeat = 40 if size <= 10_000 else 10
        full = median_ms(lambda t=text: render(t), repeat)
        plain = median_ms(lambda t=text: render(t, highlight=False), repeat)
        base = median_ms(lambda t=text: bare.render(t), repeat)
        print(
            f"{size / 1000:>6.0f}kB {full:>10.1f}ms {plain:>8.1f}ms {base:>8.1f}ms "
            f"{full / base:>5.1f}x"
        )
    # Streaming: the growing answer rendered after every 250 characters.
    text = answer(10_000)
    prefixes = [text[:end] for end in range(250, len(text) + 1, 250)]
    start = time.perf_counter()
    for prefix in prefixes:
        render(prefix)
    safe = time.perf_counter() - start
    start = time.perf_counter()
    for prefix in prefixes:
        bare.render(prefix)
    base = time.perf_counter() - start
    print(
        f"streaming a 10kB answer, {len(prefixes)} updates: safe {safe * 1000:.0f}ms, "
        f"bare {base * 1000:.0f}ms ({safe / base:.1f}x); "
        f"{safe / len(prefixes) * 1000:.1f}ms per update"
    )

    # Hostile shapes: must cost about what markdown-it itself costs (no quadratic rules).
    print(f"{'hostile input':>22} {'safe':>8} {'bare':>8} {'ratio':>6}")
    shapes = {
        "20k unclosed \\[ lines": "\\[\n" * 20_000,
        "20k $$ lines": "$$\n" * 20_000,
        "20k unclosed \\(": "\\(a " * 20_000,
        "20k unpaired $": "$a " * 20_000,
        "50k [": "[" * 50_000,
        "20k <tags>": "<b onclick=x>" * 20_000,
    }
    for label, text in shapes.items():
        safe = median_ms(lambda t=text: render(t), 3)
        base = median_ms(lambda t=text: bare.render(t), 3)
        print(f"{label:>22} {safe:>6.0f}ms {base:>6.0f}ms {safe / base:>5.1f}x")


if __name__ == "__main__":
    main()
