"""Graded evaluation of DataFrame descriptions: jupychat vs describe + isna + nunique.

Run (the real datasets come from the ``eval`` extra: ``pip install 'jupychat[eval]'``)::

    python benchmarks/eval_describe.py            # every frame, 5M-row stress frame
    python benchmarks/eval_describe.py --quick    # smaller stress frames
    python benchmarks/eval_describe.py --heldout  # frames the descriptions were not tuned on
    python benchmarks/eval_describe.py --show penguins   # print both texts of one frame

For each frame it asks up to 15 questions (:mod:`eval_questions`) with answers from full
pandas, reads the answers from jupychat's description and from the baseline
``df.describe(include="all")``, ``df.isna().sum()``, ``df.nunique()`` as printed, and
prints per frame and in total: the exact-answer rate, estimated answers (``≈``), answers
stated as exact that are wrong (must be 0), tokens (a real BPE tokenizer when one is
available offline, see :mod:`eval_tokens`) and the cold time of each, measured in the
same run. ``--markdown`` prints the table for docs/context.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
from eval_data import heldout, load_frames
from eval_questions import (
    baseline_answer,
    baseline_text,
    column_row,
    grade,
    jupychat_answer,
    questions,
)
from eval_tokens import token_counter

from jupychat.context import clear_cache, describe


@dataclass
class Result:
    name: str
    shape: tuple[int, int]
    n_q: int = 0
    grades: dict[str, dict[str, int]] = field(default_factory=dict)
    tokens: dict[str, int] = field(default_factory=dict)
    ms: dict[str, float] = field(default_factory=dict)
    wrong: list[str] = field(default_factory=list)
    # questions on columns the text shows only inside a run row (wide frames), asked
    # again with the column named in the prompt, as a chat turn does (``columns=``)
    named: dict[str, int] = field(default_factory=dict)
    named_tokens: list[int] = field(default_factory=list)


def cpu_median(
    fn: Callable[[], object], runs: int, before: Callable[[], None] | None = None
) -> float:
    """Median CPU seconds of this process over ``runs`` calls (robust to other load)."""
    times = []
    for _ in range(runs):
        if before:
            before()
        c0 = time.process_time()
        fn()
        times.append(time.process_time() - c0)
    return statistics.median(times)


def evaluate(name: str, df: pd.DataFrame, count: Callable[[str], int], runs: int) -> Result:
    res = Result(name, df.shape)
    qs = questions(df)
    res.n_q = len(qs)
    clear_cache()
    ours = describe(df, name)
    base = baseline_text(df)
    parts = (df.describe(include="all"), df.isna().sum(), df.nunique())
    for who, text in (("jupychat", ours), ("baseline", base)):
        tally = {"exact": 0, "approx": 0, "missing": 0, "wrong": 0}
        for q in qs:
            if who == "jupychat":
                status, answer = jupychat_answer(text, df, q)
            else:
                status, answer = baseline_answer(parts, df, q)
            g = grade(q, status, answer, df)
            tally[g] += 1
            if g == "wrong":
                res.wrong.append(
                    f"{who} {name}.{q.column} {q.kind}: said {answer!r}, truth {q.truth!r}"
                )
        res.grades[who] = tally
        res.tokens[who] = count(text)
    for q in qs:
        if q.column is None or column_row(ours, df, q.column) not in (None, "run"):
            continue
        clear_cache()
        text = describe(df, name, columns=[str(q.column)])
        status, answer = jupychat_answer(text, df, q)
        g = grade(q, status, answer, df)
        res.named[g] = res.named.get(g, 0) + 1
        res.named_tokens.append(count(text))
        if g == "wrong":
            res.wrong.append(
                f"named {name}.{q.column} {q.kind}: said {answer!r}, truth {q.truth!r}"
            )
    big = len(df) * max(1, df.shape[1]) > 5_000_000
    res.ms["jupychat"] = 1e3 * cpu_median(lambda: describe(df, name), runs, before=clear_cache)
    res.ms["baseline"] = 1e3 * cpu_median(
        lambda: (df.describe(include="all"), df.isna().sum(), df.nunique()), 1 if big else runs
    )
    return res


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "–"


def table(results: list[Result], stress: set[str]) -> list[str]:
    lines = [
        "| frame | rows × cols | questions | jupychat exact | ≈ | wrong | baseline exact "
        "| jupychat tokens | baseline tokens | ratio | jupychat ms | baseline ms |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def add(label: str, rs: list[Result]) -> None:
        n = sum(r.n_q for r in rs)
        ex = sum(r.grades["jupychat"]["exact"] for r in rs)
        ap = sum(r.grades["jupychat"]["approx"] for r in rs)
        wr = sum(r.grades["jupychat"]["wrong"] for r in rs)
        bex = sum(r.grades["baseline"]["exact"] for r in rs)
        jt = sum(r.tokens["jupychat"] for r in rs)
        bt = sum(r.tokens["baseline"] for r in rs)
        jm = sum(r.ms["jupychat"] for r in rs)
        bm = sum(r.ms["baseline"] for r in rs)
        shape = f"{rs[0].shape[0]:,} × {rs[0].shape[1]}" if len(rs) == 1 else f"{len(rs)} frames"
        lines.append(
            f"| {label} | {shape} | {n} | {pct(ex, n)} | {ap} | {wr} | {pct(bex, n)} "
            f"| {jt:,} | {bt:,} | {pct(jt, bt)} | {jm:.0f} | {bm:.0f} |"
        )

    for r in results:
        add(r.name + (" (stress)" if r.name in stress else ""), [r])
    ordinary = [r for r in results if r.name not in stress]
    if ordinary:
        add("**ordinary frames**", ordinary)
    if len(ordinary) < len(results):
        add("**stress frames**", [r for r in results if r.name in stress])
    add("**all**", results)
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller stress frames")
    parser.add_argument("--show", help="print both texts of this frame and its grading")
    parser.add_argument("--only", help="comma-separated frame names")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per frame")
    parser.add_argument(
        "--markdown", action="store_true", help="print only the docs/context.md block"
    )
    parser.add_argument(
        "--heldout", action="store_true", help="the held-out frames instead (eval_data.heldout)"
    )
    args = parser.parse_args()
    if args.heldout:
        frames, missing = heldout()
        stress: set[str] = set()
    else:
        frames, stress, missing = load_frames(args.quick)
    if args.only:
        keep = set(args.only.split(","))
        frames = {k: v for k, v in frames.items() if k in keep}
    if missing:
        print(
            f"skipped (package not installed): {', '.join(missing)}; pip install 'jupychat[eval]'"
        )
    if not frames:
        print("eval_describe: no frame to grade; pip install 'jupychat[eval]' (or fix --only)")
        return 1
    describe(pd.DataFrame({"a": [1, 2]}), "warmup")
    name, count, close = token_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    head = f"tokens: {name}; times: median CPU ms of this process, cold cache; load {load:.1f}"
    if args.markdown:
        head = f"Tokens: {name}. Times: median CPU ms of this process, cold cache, load {load:.1f}."
    print(head + ("\n" if args.markdown else ""))
    try:
        if args.show:
            df = frames[args.show]
            text = describe(df, args.show)
            print(text, "\n\n---- baseline ----\n", baseline_text(df)[:6000], "\n")
            for q in questions(df):
                st, ans = jupychat_answer(text, df, q)
                print(
                    f"{q.kind:<11} {str(q.column)[:20]:<20} truth={q.truth!r:.40} ours={st}:{ans!r:.40} "
                    f"-> {grade(q, st, ans, df)}"
                )
            return 0
        results = []
        for fname, df in frames.items():
            results.append(evaluate(fname, df, count, args.runs))
            if not args.markdown:
                print(f"  {fname}: done", file=sys.stderr)
    finally:
        close()
    print("\n".join(table(results, stress)))
    for r in results:
        if r.named:
            n = sum(r.named.values())
            print(
                f"\n{r.name}: {n} questions on columns shown only in a run row, asked again "
                f"with the column named in the prompt: {pct(r.named.get('exact', 0), n)} exact, "
                f"{r.named.get('wrong', 0)} wrong, mean {statistics.mean(r.named_tokens):,.0f} "
                "tokens per description"
            )
    wrong = [w for r in results for w in r.wrong]
    print(f"\nstated as exact but wrong: {len(wrong)}")
    for w in wrong:
        print("  " + w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
