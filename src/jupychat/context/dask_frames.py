"""Dask DataFrames described by Dask itself: one ``compute`` of partition-wise reductions.

Design note: imported only when a Dask DataFrame is described (dask is loaded). Each
partition (a pandas frame, on a worker) is reduced to a small dict: its row count, per
column the non-null count, min/max, sum (for the mean) and true count, and a seeded
uniform sample of at most ``k`` of its rows. Dicts are merged
pairwise in a tree; two samples merge into a uniform ``k``-sample of their union by
splitting ``k`` hypergeometrically, so the root holds exact figures and a uniform sample
of the whole frame. A last task (still on the worker) turns that sample into quantiles,
distinct/singleton/doubleton counts, top values, string length ranges and three example
rows, and only that
result (a few KB) comes back. All of it is one graph, computed once; with a
``distributed`` client it is a future that is cancelled when over budget, otherwise the
local scheduler is stopped by a callback that raises before the next task. The cache key
is the collection's name (Dask's token of the graph).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from ._fmt import short
from .engine_frames import ColStats, Distinct, EngineBackend, EngineResult, describe_engine
from .request import Request

__all__ = ["DaskBackend", "describe_dask"]


def _kind(dtype: Any) -> str:
    from pandas.api import types as ptypes

    if ptypes.is_bool_dtype(dtype):
        return "bool"
    if ptypes.is_integer_dtype(dtype):
        return "int"
    if ptypes.is_numeric_dtype(dtype) and getattr(dtype, "kind", "") != "c":
        return "num"
    if ptypes.is_datetime64_any_dtype(dtype):
        return "time"
    if ptypes.is_string_dtype(dtype) or ptypes.is_object_dtype(dtype):
        return "str"
    if isinstance(dtype, __import__("pandas").CategoricalDtype):
        return "str"
    return "other"


class _Cancelled(Exception):
    pass


def _chunk(pdf: Any, kinds: Sequence[str], k: int, seed: int) -> dict[str, Any]:
    """One partition's exact figures and uniform sample (runs on a worker)."""
    n = len(pdf)
    cols: list[dict[str, Any]] = []
    for j, kind in enumerate(kinds):
        s = pdf.iloc[:, j]
        entry: dict[str, Any] = {"count": int(s.count())}
        if entry["count"]:
            try:
                if kind in ("int", "num", "time"):
                    entry["min"], entry["max"] = s.min(), s.max()
                if kind in ("int", "num"):
                    entry["sum"] = float(s.sum())
                if kind == "bool":
                    entry["true"] = int(s.sum())
            except Exception:
                pass
        cols.append(entry)
    if n > k:
        from ._sampling import sample_positions

        sample = pdf.iloc[sample_positions(n, k, seed)]
    else:
        sample = pdf
    return {"n": n, "cols": cols, "sample": sample, "k": k, "seed": seed}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two partial results as one (exact figures added, samples merged uniformly)."""
    import numpy as np
    import pandas as pd

    cols = []
    for x, y in zip(a["cols"], b["cols"], strict=True):
        entry = {"count": x["count"] + y["count"]}
        for key, pick in (("min", min), ("max", max)):
            vals = [v[key] for v in (x, y) if key in v and not pd.isna(v[key])]
            if vals:
                try:
                    entry[key] = pick(vals)
                except TypeError:
                    pass
        for key in ("sum", "true"):
            if key in x or key in y:
                entry[key] = x.get(key, 0) + y.get(key, 0)
        cols.append(entry)
    k, n1, n2 = a["k"], a["n"], b["n"]
    rng = np.random.default_rng([a["seed"], b["seed"]])
    if n1 + n2 <= k:
        sample = pd.concat([a["sample"], b["sample"]])
    else:
        take = int(rng.hypergeometric(n1, n2, k)) if n1 and n2 else (k if n1 else 0)
        left = a["sample"].sample(n=take, random_state=rng.integers(2**32))
        right = b["sample"].sample(n=k - take, random_state=rng.integers(2**32))
        sample = pd.concat([left, right])
    return {"n": n1 + n2, "cols": cols, "sample": sample, "k": k, "seed": a["seed"]}


def _finish(root: dict[str, Any], kinds: Sequence[str], hide: Sequence[int], rows: int) -> dict:
    """The small result: exact figures plus what the merged sample says (on a worker)."""
    import numpy as np

    sample = root["sample"]
    out: dict[str, Any] = {"n": root["n"], "sample_n": len(sample), "cols": [], "rows": []}
    for j, kind in enumerate(kinds):
        entry = dict(root["cols"][j])
        s = sample.iloc[:, j].dropna()
        if kind != "bool" and len(s):
            try:
                counts = s.value_counts(sort=True)
                c = counts.to_numpy()
                top = [] if j in hide else [(_plain(v), int(n)) for v, n in counts.head(5).items()]
                entry["distinct"] = (len(c), int((c == 1).sum()), int((c == 2).sum()), len(s), top)
            except TypeError:
                pass
            if kind in ("int", "num"):
                vals = s.to_numpy(dtype="float64")
                entry["q"] = [float(v) for v in np.quantile(vals, [0.25, 0.5, 0.75])]
            elif kind == "time":
                entry["q"] = [None, s.sort_values().iloc[len(s) // 2], None]
            elif kind == "str":  # from the sample: a full pass of str.len costs seconds
                try:
                    lengths = s.astype(str).str.len()
                    entry["len"] = (int(lengths.min()), int(lengths.max()))
                except Exception:
                    pass
        out["cols"].append(entry)
    if rows:
        picked = sample.sample(n=min(rows, len(sample)), random_state=1) if len(sample) else sample
        for row in picked.itertuples(index=False):
            out["rows"].append([None if j in hide else _plain(v) for j, v in enumerate(row)])
    for entry in out["cols"]:
        for key in ("min", "max"):
            if key in entry:
                entry[key] = _plain(entry[key])
    return out


def _plain(value: Any) -> Any:
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        try:
            return item()
        except Exception:
            return value
    return value


class DaskBackend(EngineBackend):
    """A Dask DataFrame (see the module note)."""

    engine = "Dask"

    def __init__(self, df: Any) -> None:
        self.df = df
        self.labels = [str(c) for c in df.columns]
        self.dtypes = [short(str(t), 40) for t in df.dtypes]
        self.kinds = [_kind(t) for t in df.dtypes]
        self.kind = f"dask.DataFrame ({df.npartitions} partitions, in Dask, not collected)"
        self.hide: set[int] = set()
        self.rows_wanted = 3
        self._stop = threading.Event()
        self._future: Any = None
        self._extra: dict[int, Distinct] = {}
        self._rows: list[list[Any]] = []
        self.received = 0

    def identity(self) -> Hashable | None:
        return (str(self.df._name), tuple(self.labels), tuple(self.dtypes))

    def prepare(self, hide: set[int], rows: int) -> None:
        self.hide = set(hide)
        self.rows_wanted = rows

    def cancel(self, token: str) -> None:
        self._stop.set()
        futures = self._future
        if futures is not None:
            for future in futures:
                try:
                    future.cancel()
                except Exception:
                    pass

    def _graph(self, cols: Sequence[int], sample_size: int, seed: int) -> Any:
        import dask

        kinds = [self.kinds[i] for i in cols]
        names = [self.df.columns[i] for i in cols]
        parts = self.df[names].to_delayed(optimize_graph=True)
        chunk = dask.delayed(_chunk, pure=True)
        merge = dask.delayed(_merge, pure=True)
        level = [chunk(p, kinds, sample_size, seed * 100_003 + j) for j, p in enumerate(parts)]
        while len(level) > 1:
            nxt = [merge(level[j], level[j + 1]) for j in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            level = nxt
        hide = [cols.index(i) for i in self.hide if i in cols]
        return dask.delayed(_finish, pure=True)(level[0], kinds, hide, self.rows_wanted)

    def _compute(self, graph: Any) -> Any:
        """Compute one collection (or a list of them, together) so ``cancel`` can stop it."""
        import dask

        self.queries += 1
        many = isinstance(graph, list)
        items = graph if many else [graph]
        try:
            from distributed import default_client

            client = default_client()
        except Exception:
            client = None
        if client is not None:
            futures = client.compute(items)
            self._future = futures
            if self._stop.is_set():
                client.cancel(futures)
            out = client.gather(futures)
            return list(out) if many else out[0]
        from dask.callbacks import Callback

        stop = self._stop

        def pretask(key: Any, dsk: Any, state: Any) -> None:
            if stop.is_set():
                raise _Cancelled("cancelled: over the time budget")

        with Callback(pretask=pretask):
            out = dask.compute(*items, scheduler="threads")
        return list(out) if many else out[0]

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        out = self._compute(self._graph(cols, sample_size, seed))
        self.received += len(repr(out))
        n = int(out["n"])
        result = EngineResult(n_rows=n, sample_n=int(out["sample_n"]))
        for i, entry in zip(cols, out["cols"], strict=True):
            kind = self.kinds[i]
            stats = ColStats(kind, nulls=n - int(entry["count"]))
            stats.min, stats.max = entry.get("min"), entry.get("max")
            if kind in ("int", "num") and entry["count"] and "sum" in entry:
                stats.mean = entry["sum"] / entry["count"]
            stats.true = entry.get("true")
            if "len" in entry:
                stats.len_min, stats.len_max = entry["len"]
            stats.quantiles = entry.get("q")
            result.columns[i] = stats
            if "distinct" in entry:
                d, f1, f2, total, top = entry["distinct"]
                self._extra[i] = Distinct(d, f1, f2, total, top)
        self._rows = out["rows"]
        return result

    # the distinct counts and rows came with the single compute above: no further query
    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        return {i: d for i, d in self._extra.items() if i in cols}

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        return [r[: len(cols)] for r in self._rows[:k]]

    def run(self, token: str, fn: Callable[[], Any]) -> Any:
        self._stop.clear()
        return fn()


def describe_dask(obj: Any, req: Request) -> str:
    """Describe a Dask DataFrame with one bounded ``compute`` (never collected whole)."""
    return describe_engine(DaskBackend(obj), req)
