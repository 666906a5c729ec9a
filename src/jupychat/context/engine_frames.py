"""Tables held in an engine (Spark, Dask, DuckDB, Ibis, polars lazy), described in place.

Design note: the data of these handles lives in the engine, often far larger than the
kernel's memory, so a description is a handful of engine queries whose *results* are a
few KB: never a collect, ``toPandas()`` or a write. Each backend module (``spark_frames``,
``dask_frames``, ``duckdb_frames``, ``ibis_frames``, ``polars_lazy``) implements
:class:`EngineBackend`: the schema (free), an identity for the cache, and up to three
passes, each at most one engine query:

1. ``aggregate``: row count, and per column null count, min/max/mean and true count over
   every row (cheap, vectorised aggregates that read only the columns described: exact);
2. ``distinct``: one query over a seeded random sample of about ``settings.sample_size``
   rows, grouped per column in the engine, of which only the distinct, singleton and
   doubleton counts, the five most frequent values, the quantiles and the string length
   range come back (all marked ≈); the distinct count is the Chao1 estimate of
   :func:`.summary.distinct_info`, the same as for a sampled pandas frame. Where the
   engine allows, the same query also returns the example rows, picked from the sample;
3. ``sample_rows``: a few random rows (never the head), unless pass 2 brought them.

Costly exact figures (string lengths, quantiles and distinct counts over every row) are
left to the sample on purpose: they cost a full sort or hash of each column, and the
engine's own summaries spend most of their time there.

The passes share one time budget (``settings.engine_seconds``). Each runs in a worker
thread; when the budget runs out the backend's ``cancel`` stops the query in the engine
(Spark job tag, DuckDB interrupt, Dask future cancel, polars background query), and
the description says which figures were left out. Results are neutral
(:class:`ColStats`) and become the same table as a pandas frame through
:func:`.summary.render_frame`. A complete result is cached by the engine's own
identity (a Spark plan's semantic hash, a DuckDB relation's SQL), never the handle.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._fmt import fmt_int, fmt_num, fmt_pct, fmt_value, short
from .cache import memo_for
from .privacy import column_excluded, column_private
from .request import Request
from .settings import ContextSettings
from .summary import (
    ColumnInfo,
    FrameAdapter,
    distinct_info,
    quantile_stats,
    render_frame,
    show_top,
    top_text,
)

__all__ = [
    "ColStats",
    "Distinct",
    "EngineBackend",
    "EngineResult",
    "EngineTimeout",
    "describe_engine",
    "run_bounded",
    "stats_from_values",
]

KINDS = ("int", "num", "bool", "str", "time", "other")
PASS_NAMES = {
    "aggregate": "row count, null counts, ranges and quantiles",
    "distinct": "distinct counts and top values",
    "sample_rows": "example rows",
}


class EngineTimeout(Exception):
    """A pass did not finish within the budget (it was cancelled in the engine)."""


@dataclass
class ColStats:
    """Engine-computed figures of one column (``None``: not computed).

    ``nulls``, ``min``, ``max``, ``mean``, ``true`` are exact (every row); ``quantiles``
    (p25, p50, p75) and ``len_min``/``len_max`` come from the sample (exact only when the
    sample is every row); ``d``, ``f1``, ``f2``
    are the distinct, singleton and doubleton counts among ``top_denom`` non-null sampled
    values, and ``top`` their most frequent (value, count) pairs.
    """

    kind: str
    nulls: int | None = None
    min: Any = None
    max: Any = None
    mean: float | None = None
    true: int | None = None
    quantiles: list[Any] | None = None
    d: int | None = None
    f1: int = 0
    f2: int = 0
    len_min: int | None = None
    len_max: int | None = None
    top: list[tuple[Any, int]] | None = None
    top_denom: int = 0


@dataclass
class Distinct:
    """One column's counts over the sample's non-null values (see :class:`ColStats`);
    ``quantiles`` and ``lens`` (min, max string length) when the pass computed them."""

    d: int
    f1: int
    f2: int
    total: int
    top: list[tuple[Any, int]]
    quantiles: list[Any] | None = None
    lens: tuple[int, int] | None = None


@dataclass
class EngineResult:
    """Everything one description learnt from the engine."""

    n_rows: int | None = None
    sample_n: int = 0
    columns: dict[int, ColStats] = field(default_factory=dict)
    rows: list[list[Any]] | None = None
    row_cols: list[int] = field(default_factory=list)  # the columns of ``rows``, in order
    done: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    queries: int = 0
    seconds: float = 0.0
    received_bytes: int = 0

    @property
    def complete(self) -> bool:
        return not self.left_out


class EngineBackend:
    """What an engine module provides (see the module note).

    Attributes set by the subclass: ``engine`` (``"Spark"``), ``kind`` (type text for the
    title), ``labels`` and ``dtypes`` (schema text), ``kinds`` (one of :data:`KINDS` per
    column).
    """

    engine = "engine"
    kind = "table"
    queries = 0  # engine queries started (each backend counts its own)
    labels: list[str]
    dtypes: list[str]
    kinds: list[str]

    def identity(self) -> Hashable | None:
        """The engine's own key for this data (None: do not cache)."""
        return None

    def prepare(self, hide: set[int], rows: int) -> None:
        """Before the first pass: columns whose values must not come back, rows wanted."""

    def title_bits(self) -> list[str]:
        return []

    def aggregate(self, cols: Sequence[int], sample_size: int, seed: int) -> EngineResult:
        raise NotImplementedError

    def distinct(
        self, cols: Sequence[int], hide: set[int], result: EngineResult, seed: int
    ) -> dict[int, Distinct]:
        """Sample counts per column; ``hide``: columns whose values must not come back."""
        return {}

    def sample_rows(
        self, k: int, cols: Sequence[int], result: EngineResult, seed: int
    ) -> list[list[Any]]:
        return []

    def cancel(self, token: str) -> None:
        """Stop whatever query runs under ``token`` (called from another thread)."""

    def run(self, token: str, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` (in the worker thread) so that ``cancel(token)`` can stop it."""
        return fn()


def run_bounded(backend: EngineBackend, fn: Callable[[], Any], seconds: float) -> Any:
    """``fn()`` in a worker thread, at most ``seconds``; on timeout cancel and raise.

    Raises
    ------
    EngineTimeout
        The pass did not finish in time; ``backend.cancel`` was called for it.
    """
    token = f"jupychat-{uuid.uuid4().hex[:12]}"
    box: dict[str, Any] = {}
    finished = threading.Event()

    def work() -> None:
        try:
            box["value"] = backend.run(token, fn)
        except BaseException as exc:  # reported to the caller below
            box["error"] = exc
        finally:
            finished.set()

    thread = threading.Thread(target=work, name=f"jupychat-{backend.engine}", daemon=True)
    thread.start()
    if not finished.wait(max(0.0, seconds)):
        try:
            backend.cancel(token)
        except Exception:
            pass
        finished.wait(1.0)  # let the engine unwind; a stuck query is left to its thread
        raise EngineTimeout(token)
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _kept(req: Request, labels: Sequence[str], settings: ContextSettings) -> list[int]:
    return [i for i, lab in enumerate(labels) if not column_excluded(req.name, lab, settings)]


def compute(
    backend: EngineBackend, req: Request, settings: ContextSettings, seconds: float
) -> EngineResult:
    """Run the passes the settings allow within ``seconds`` (see the module note)."""
    start = time.monotonic()
    cols = _kept(req, backend.labels, settings)
    result = EngineResult()
    if settings.values == "schema" or not cols:
        return result

    def remaining() -> float:
        return seconds - (time.monotonic() - start)

    private = {
        i for i in cols if req.private or column_private(req.name, backend.labels[i], settings)
    }
    wants_values = settings.values == "full"
    rows = settings.sample_rows if wants_values else 0
    backend.prepare(private if wants_values else set(cols), rows)
    try:
        result = run_bounded(
            backend,
            lambda: backend.aggregate(cols, settings.sample_size, settings.seed),
            remaining(),
        )
        result.done.append("aggregate")
    except EngineTimeout:
        result = EngineResult(left_out=["aggregate"])
    passes: list[tuple[str, Callable[[], Any]]] = []
    counted = [i for i in cols if backend.kinds[i] != "bool"]
    if "aggregate" in result.done and counted and (result.n_rows or 0) > 0:
        hide = set(counted) if not wants_values else private & set(counted)
        passes.append(("distinct", lambda: backend.distinct(counted, hide, result, settings.seed)))
    if wants_values and settings.sample_rows and (result.n_rows or 0) > 0:
        shown = list(cols[:40])
        result.row_cols = shown
        k = settings.sample_rows
        passes.append(("sample_rows", lambda: backend.sample_rows(k, shown, result, settings.seed)))
    for name, fn in passes:
        if remaining() <= 0.05:
            result.left_out.append(name)
            continue
        try:
            value = run_bounded(backend, fn, remaining())
        except EngineTimeout:
            result.left_out.append(name)
            continue
        result.done.append(name)
        if name == "distinct":
            merge_distinct(result, value)
        else:
            result.rows = value
    result.queries = int(backend.queries)
    result.seconds = time.monotonic() - start
    result.received_bytes = int(getattr(backend, "received", 0))
    return result


def merge_distinct(result: EngineResult, found: dict[int, Distinct]) -> None:
    """Put pass 2's per-column figures into ``result``'s :class:`ColStats`."""
    for i, counts in found.items():
        stats = result.columns.get(i)
        if stats is None:
            continue
        stats.d, stats.f1, stats.f2 = counts.d, counts.f1, counts.f2
        stats.top, stats.top_denom = counts.top, counts.total
        if counts.quantiles is not None and stats.kind in ("int", "num", "time"):
            stats.quantiles = list(counts.quantiles)
        if counts.lens is not None and stats.kind == "str":
            stats.len_min, stats.len_max = counts.lens


class EngineAdapter(FrameAdapter):
    """A :class:`FrameAdapter` over an :class:`EngineResult` (nothing more is queried)."""

    def __init__(self, backend: EngineBackend, result: EngineResult, memo: dict[Any, Any]) -> None:
        super().__init__(memo)
        self.backend = backend
        self.result = result
        self.labels = list(backend.labels)
        self.dtypes = list(backend.dtypes)
        self.kind = backend.kind
        self.n_rows = result.n_rows or 0
        self.sampled = not (result.n_rows is not None and result.sample_n >= result.n_rows)
        self.sample_n = result.sample_n

    def rows_text(self) -> str:
        if self.result.n_rows is None:
            return "? (not counted)"
        return fmt_int(self.result.n_rows)

    def title_bits(self) -> list[str]:
        return self.backend.title_bits()

    def extra_lines(self) -> list[str]:
        r = self.result
        engine = self.backend.engine
        lines = []
        if r.done:
            queries = max(1, r.queries)
            lines.append(
                f"Computed in {engine} by {queries} quer{'y' if queries == 1 else 'ies'} "
                f"in {r.seconds:.1f} s; no rows were collected into the kernel."
                + (
                    " Quantiles, distinct counts, shares and lengths come from a random sample (≈)."
                    if "distinct" in r.done and self.sampled
                    else ""
                )
            )
        note = getattr(self.backend, "note", None)
        if callable(note):
            lines.append(note())
        if r.left_out:
            missing = ", ".join(PASS_NAMES[p] for p in r.left_out)
            lines.append(
                f"Not computed within the {self.memo.get('budget_s', 0):g} s budget (cancelled "
                f"in {engine}): {missing}. Ask with describe_column or value_counts."
            )
        return lines

    def _nulls(self, i: int) -> int | None:
        stats = self.result.columns.get(i)
        return stats.nulls if stats else None

    def _column(self, i: int) -> ColumnInfo:
        stats = self.result.columns.get(i)
        info = ColumnInfo(self.labels[i], self.dtypes[i], nulls=stats.nulls if stats else None)
        if stats is None:
            return info
        nonnull = (
            None
            if stats.nulls is None or self.result.n_rows is None
            else (self.result.n_rows - stats.nulls)
        )
        if nonnull == 0:
            return info
        column_info(stats, info, nonnull, self.sampled, self.result.n_rows)
        return info

    def _rows(self, k: int, cols: Sequence[int], all_rows: bool) -> list[list[Any]]:
        # the renderer asks for some columns (e.g. text ones not listed in full): pick them
        # out of the rows fetched, by position, never by assuming they come first
        rows = self.result.rows or []
        where = {c: j for j, c in enumerate(self.result.row_cols)}
        if not all(c in where for c in cols):
            return []
        return [[r[where[c]] for c in cols] for r in rows[:k] if len(r) >= len(where)]


def column_info(
    stats: ColStats, info: ColumnInfo, nonnull: int | None, sampled: bool, n_rows: int | None
) -> None:
    """Fill ``info`` (the shared table's row) from engine figures."""
    mark = "≈" if sampled else " "
    if stats.kind == "bool":
        if stats.true is not None and nonnull:
            info.value_stats = [
                f"true {fmt_pct(stats.true, nonnull)}",
                f"false {fmt_pct(nonnull - stats.true, nonnull)}",
            ]
            if stats.true in (0, nonnull):
                info.flags.append("constant")
        return
    if stats.kind in ("int", "num"):
        if stats.min is not None and stats.min == stats.max:
            info.value_stats = [f"constant {fmt_num(stats.min)}"]
            return
        whole = stats.kind == "int"

        def fmt(x: Any) -> str:  # as for pandas frames
            return fmt_value(x, whole)

        values = []
        if stats.min is not None:
            values.append(f"min {fmt(stats.min)}")
        if stats.quantiles and None not in stats.quantiles:
            values += quantile_stats(stats.quantiles, sampled, fmt)
        elif stats.quantiles and stats.quantiles[1] is not None:  # a median only
            values.append(f"p50≈{fmt(stats.quantiles[1])}")
        if stats.max is not None:
            values.append(f"max {fmt(stats.max)}")
        if stats.mean is not None:
            values.append(f"mean {fmt_num(stats.mean, sep=False)}")
        info.value_stats = values
    elif stats.kind == "time" and stats.min is not None:
        info.value_stats = [f"{_t(stats.min)} … {_t(stats.max)}"]
        if stats.quantiles and stats.quantiles[1] is not None:
            info.value_stats.append(f"p50{mark}{_t(stats.quantiles[1])}")
    if stats.kind == "str" and stats.len_min is not None:
        lo, hi = stats.len_min, stats.len_max
        info.shape_stats.append(f"len{mark}{lo}" if lo == hi else f"len{mark}{lo}–{hi}")
    if stats.d is None or not stats.top_denom:
        return
    upper = None
    if stats.kind == "int" and stats.min is not None and stats.max is not None:
        upper = int(stats.max) - int(stats.min) + 1
    shape, flags, id_like = distinct_info(
        stats.d,
        stats.f1,
        stats.top_denom,
        nonnull if nonnull is not None else stats.top_denom,
        sampled,
        label=info.label,
        id_hint=False,
        f2=stats.f2,
        upper=upper,
    )
    if stats.kind == "time":  # a range says more than "high-cardinality" for times
        flags = [
            f for f in flags if not f.startswith(("id-like", "high-cardinality", "all distinct"))
        ]
    info.shape_stats.extend(shape)
    info.flags.extend(flags)
    high = id_like or any(f.startswith(("high-cardinality", "all distinct")) for f in flags)
    numeric_many = stats.kind in ("int", "num") and stats.d > 10
    top = stats.top or []
    worth = bool(top) and show_top(stats.d, [top[0][1]], stats.top_denom)
    if worth and not high and not numeric_many and stats.kind != "time":
        info.top = top_text(top, stats.top_denom, sampled, more=stats.d - len(top))


def stats_from_values(
    kind: str, n: int, values: Sequence[Any], est: Sequence[Any] = ()
) -> ColStats:
    """A :class:`ColStats` from pass-1 values in the order ``count, [min, max], [avg],
    [true count]`` (by kind), and sample quantile estimates."""
    vals = list(values)
    stats = ColStats(kind)
    count = int(vals.pop(0) or 0)
    stats.nulls = n - count
    if kind in ("int", "num", "time"):
        stats.min, stats.max = vals.pop(0), vals.pop(0)
    if kind in ("int", "num"):
        mean = vals.pop(0)
        stats.mean = float(mean) if mean is not None else None
    if kind == "bool":
        stats.true = int(vals.pop(0) or 0)
    if est and kind in ("int", "num") and est[0] is not None:
        stats.quantiles = list(est[0])
    elif est and kind == "time" and est[0] is not None:
        stats.quantiles = [None, est[0], None]
    return stats


def _t(value: Any) -> str:
    if value is None:
        return "null"
    text = str(value)
    return short(text[:19] if len(text) > 19 and text[10:11] in (" ", "T") else text, 30)


def describe_engine(backend: EngineBackend, req: Request) -> str:
    """Describe an engine-held table within ``settings.engine_seconds``."""
    s = req.settings
    seconds = float(s.engine_seconds)
    identity = None
    try:
        identity = backend.identity()
    except Exception:
        identity = None
    key = (
        ("engine", backend.engine, identity, req.name, req.private, s.key())
        if identity is not None
        else None
    )
    memo = memo_for(key) if key is not None else {}
    result = memo.get("result")
    if result is None:
        memo.clear()
        result = compute(backend, req, s, seconds)
        if result.complete and key is not None:
            memo["result"] = result
    memo["budget_s"] = seconds
    adapter = EngineAdapter(backend, result, memo if result.complete else {"budget_s": seconds})
    settings = s.with_(private_columns=(*s.private_columns, "*")) if req.private else s
    return render_frame(adapter, req.name, settings, req.budget, req.focus)
