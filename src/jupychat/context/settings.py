"""Settings for what variable context may contain and how big it may be.

Design note: one frozen dataclass carries every knob (budgets, sampling, privacy), so a
session holds one value, a call can override a field with ``dataclasses.replace`` via
:meth:`ContextSettings.with_`, and cached descriptions can be keyed on
:meth:`ContextSettings.key`. Validation happens once, in ``__post_init__``, with
one-line errors that say what to write instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from jupychat.errors import ConfigError

from .._memo import IdentityMemo

__all__ = ["VALUES_LEVELS", "ContextSettings", "Values"]

Values = Literal["full", "aggregates", "schema"]
VALUES_LEVELS: tuple[str, ...] = ("full", "aggregates", "schema")

DEFAULT_PII_WORDS: tuple[str, ...] = (
    "email",
    "phone",
    "ssn",
    "password",
    "token",
    "secret",
    "key",
    "address",
    "name",
    "birth",
    "zip",
)


def _tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Iterable):
        return tuple(str(v) for v in value)
    raise ConfigError(f"{what} must be a list of names or patterns, e.g. ['df_secret', 'raw_*']")


_derived: IdentityMemo[ContextSettings] = IdentityMemo(256)  # see ContextSettings.with_


@dataclass(frozen=True)
class ContextSettings:
    """What variable context may contain and how large it may be.

    Parameters
    ----------
    values:
        ``"full"`` (statistics, top values, example rows), ``"aggregates"`` (statistics
        and counts only, no cell values) or ``"schema"`` (names, types and shapes only).
    exclude_vars:
        Variable names or glob patterns never described, listed or reachable by tools.
    exclude_columns:
        Column names or glob patterns (``"col"`` for every frame, ``"var.col"`` for one)
        left out of every description and tool result.
    pii:
        Withhold values (keep statistics) of columns and variables whose names look
        personal or secret (see ``pii_words``).
    pii_words:
        Words matched against name tokens (``user_email`` and ``firstName`` contain
        ``email``/``name``; ``keyboard`` does not contain ``key``).
    private_columns:
        Extra column names or globs whose values are withheld (statistics kept).
    public_columns:
        Column names or globs never treated as personal (overrides the word match).
    sample_size:
        Rows read for the estimated statistics of a large frame.
    exact_cells:
        Frames with at most this many cells (rows × columns) are read whole, so every
        figure is exact (distinct counts, quantiles, top values, duplicate rows); larger
        frames are summarised from a sample of ``sample_size`` rows.
    sample_rows:
        Random example rows shown per frame (0: none).
    seed:
        Seed of the row sample, so an unchanged frame is described the same way.
    var_budget:
        Tokens for one DataFrame description.
    other_budget:
        Tokens for one description of anything else.
    turn_budget:
        Tokens for all variable context of one turn (inventory included).
    inventory_budget:
        Tokens for the inventory of other variables.
    tool_budget:
        Tokens for one data tool result.
    wide_columns:
        Frames with more columns than this start at the compact level.
    inline_rows, inline_columns, inline_cells:
        Frames at most this small (rows, columns, and rows × columns) are shown whole
        (with ``values="full"``); a bigger table of rows costs more tokens than the
        statistics it repeats (a 16 × 7 frame's rows are ~800 tokens).
    cell_outputs:
        Executed cells' outputs (printed text, results, tracebacks, figures) may be sent;
        when False only their code is (``values`` other than ``"full"`` also withholds
        printed text and images, and ``"schema"`` withholds figure accounts too).
    cell_images:
        Figures may be sent as images to models that accept them.
    cell_stream_chars:
        Characters of a cell's stdout, stderr, text output or traceback sent (head and tail).
    cells_budget:
        Tokens for the executed-cells context of one turn (``--cells N``).
    image_max_side, image_max_bytes:
        Images are downscaled to at most this many pixels on the long side and bytes.
    engine_seconds:
        Time budget of one description (or data tool call) of a table held in an engine
        (Spark, Dask, DuckDB, Ibis, polars lazy); what does not finish is cancelled in
        the engine and left out.
    """

    values: Values = "full"
    exclude_vars: tuple[str, ...] = ()
    exclude_columns: tuple[str, ...] = ()
    pii: bool = True
    pii_words: tuple[str, ...] = DEFAULT_PII_WORDS
    private_columns: tuple[str, ...] = ()
    public_columns: tuple[str, ...] = ()
    sample_size: int = 20_000
    exact_cells: int = 1_000_000
    sample_rows: int = 3
    seed: int = 0
    var_budget: int = 1_500
    other_budget: int = 500
    turn_budget: int = 6_000
    inventory_budget: int = 800
    tool_budget: int = 4_000
    wide_columns: int = 60
    inline_rows: int = 30
    inline_columns: int = 10
    inline_cells: int = 60
    cell_outputs: bool = True
    cell_images: bool = True
    cell_stream_chars: int = 2_000
    cells_budget: int = 3_000
    image_max_side: int = 1_024
    image_max_bytes: int = 1_000_000
    engine_seconds: float = 5.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.values not in VALUES_LEVELS:
            raise ConfigError(
                f"values must be one of {', '.join(VALUES_LEVELS)}; got {self.values!r}"
            )
        for name in (
            "exclude_vars",
            "exclude_columns",
            "pii_words",
            "private_columns",
            "public_columns",
        ):
            object.__setattr__(self, name, _tuple(getattr(self, name), name))
        for name in (
            "sample_size",
            "exact_cells",
            "var_budget",
            "other_budget",
            "turn_budget",
            "inventory_budget",
            "tool_budget",
            "wide_columns",
            "cells_budget",
            "image_max_side",
            "image_max_bytes",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer; got {value!r}")
        for name in (
            "sample_rows",
            "seed",
            "inline_rows",
            "inline_columns",
            "inline_cells",
            "cell_stream_chars",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0; got {value!r}")
        for name in ("cell_outputs", "cell_images"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be True or False; got {getattr(self, name)!r}")
        secs = self.engine_seconds
        if isinstance(secs, bool) or not isinstance(secs, (int, float)) or not 0 < secs <= 3600:
            raise ConfigError(
                f"engine_seconds must be a number of seconds in (0, 3600]; got {secs!r}"
            )
        if self.sample_rows > 50:
            raise ConfigError(f"sample_rows must be at most 50; got {self.sample_rows}")

    def with_(self, **changes: Any) -> ContextSettings:
        """A copy with some fields changed (``None`` values are ignored).

        The copy is remembered per settings object and changes (both frozen), so asking
        for the same copy every turn returns the same object instead of validating anew.
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return self
        items = tuple(changes.items())
        try:
            hash(items)
        except TypeError:  # an unhashable value (a list of names): not remembered
            return self._replaced(changes)
        return _derived.get(self, lambda base: base._replaced(changes), items)

    def _replaced(self, changes: dict[str, Any]) -> ContextSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ConfigError(
                f"unknown context setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
            )
        return replace(self, **changes)

    def key(self) -> tuple[Any, ...]:
        """A hashable key of every field that changes a description."""
        return tuple(getattr(self, f.name) for f in fields(self) if f.name != "extra")
