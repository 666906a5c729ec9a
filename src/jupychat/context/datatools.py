"""Read-only data tools the assistant may call, and the approval-gated ``run_python``.

Design note: each tool is a method of :class:`DataTools`, bound to a *namespace getter*
(so it always sees the notebook's current variables) and a :class:`ContextSettings`
(so tool results pass through the same privacy filters as the context: excluded
variables and columns are "not available", private columns keep statistics but never
show values, ``values="aggregates"``/``"schema"`` refuse to return cell values).
Every tool returns text, never raises (errors come back as one line that says what to
do), redacts secret-looking strings and is capped at ``settings.tool_budget`` tokens.

``describe_column`` and ``value_counts`` are exact (they read one column, or the named
columns, in full): they exist so the model can ask for precision where the sampled
summary is only an estimate. ``run_python`` executes code in the notebook namespace and
therefore runs only when ``approve(code)`` returns True for that very code; with no
callback it refuses.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import io
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from ._fmt import fmt_int, short, type_name
from ._tool_tables import (
    _column_as_pandas_like,
    _exact_column,
    _is_pandas_series,
    _is_polars,
    _positions,
    _rows_table,
    _value_counts,
)
from .budget import cap_text
from .describe import describe, is_tabular
from .engines import engine_of
from .inventory import inventory
from .pii_values import personal_column
from .privacy import (
    column_excluded,
    column_private,
    column_public,
    redact_secrets,
    var_excluded,
)
from .saferepr import guarded_repr
from .settings import ContextSettings

__all__ = ["DataTools", "data_tools"]

NamespaceGetter = Callable[[], Mapping[str, Any]]
MAX_ROWS = 50


class Refusal(Exception):
    """A tool cannot answer; the message goes back to the model as is."""


def read_only_tool(method: Callable[..., str]) -> Callable[..., str]:
    """A tool method that never raises: a :class:`Refusal` or any error becomes its
    answer; the text is scrubbed of secrets and capped at ``self.settings.tool_budget``."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> str:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                text = method(self, *args, **kwargs)
        except Refusal as exc:
            text = str(exc)
        except Exception as exc:
            text = f"error: {type(exc).__name__}: {short(str(exc), 300)}"
        return cap_text(redact_secrets(text), self.settings.tool_budget)

    return wrapper


def _label(col: Any) -> str:
    return " / ".join(str(c) for c in col) if isinstance(col, tuple) else str(col)


class DataTools:
    """The data tools over one namespace (see the module note).

    Parameters
    ----------
    namespace_getter:
        Returns the current namespace (e.g. ``lambda: shell.user_ns``).
    settings:
        Privacy and budget settings.
    approve:
        ``approve(code) -> bool`` asked before every ``run_python`` call.
    """

    def __init__(
        self,
        namespace_getter: NamespaceGetter,
        settings: ContextSettings | None = None,
        approve: Callable[[str], bool] | None = None,
    ) -> None:
        self.namespace_getter = namespace_getter
        self.settings = settings or ContextSettings()
        self.approve = approve

    # -- helpers -------------------------------------------------------------------------
    def _get(self, name: str) -> Any:
        if not isinstance(name, str) or not name:
            raise Refusal("error: give the variable name as a string, e.g. name='df'")
        if var_excluded(name, self.settings):
            raise Refusal(f"`{name}` is not available (excluded by the user's settings).")
        namespace = self.namespace_getter()
        if name not in namespace or name.startswith("_"):
            known = [
                k
                for k in namespace
                if isinstance(k, str)
                and not k.startswith("_")
                and not var_excluded(k, self.settings)
            ][:30]
            raise Refusal(
                f"error: no variable named {name!r}; call list_variables to see "
                f"what exists (e.g. {', '.join(known[:10]) or 'none'})."
            )
        return namespace[name]

    def _need_values(self, what: str) -> None:
        if self.settings.values != "full":
            raise Refusal(
                f"{what} is not available: the user's values setting is "
                f"{self.settings.values!r} (no cell values are shared)."
            )

    def _frame_columns(self, var: str, obj: Any) -> list[str]:
        if type(obj).__name__ == "LazyFrame":
            return list(obj.collect_schema())
        if _is_polars(obj):
            return list(obj.columns) if hasattr(obj, "columns") else [obj.name]
        if _is_pandas_series(obj):
            return [_label(obj.name) if obj.name is not None else "(values)"]
        return [_label(c) for c in obj.columns]

    def _resolve_columns(self, var: str, obj: Any, columns: Sequence[str] | None) -> list[int]:
        labels = self._frame_columns(var, obj)
        if columns is None:
            return [
                i for i, lab in enumerate(labels) if not column_excluded(var, lab, self.settings)
            ]
        if isinstance(columns, str):
            columns = [columns]
        positions = []
        for col in columns:
            matches = [i for i, lab in enumerate(labels) if lab == str(col)]
            if not matches:
                matches = [i for i, lab in enumerate(labels) if lab.lower() == str(col).lower()]
            if not matches or column_excluded(var, labels[matches[0]], self.settings):
                near = [lab for lab in labels if str(col).lower() in lab.lower()][:8]
                hint = f" Similar: {', '.join(near)}." if near else ""
                raise Refusal(f"error: `{var}` has no column {col!r}.{hint}")
            positions.append(matches[0])
        return positions

    def _private(self, var: str, label: str) -> bool:
        """Private by name or settings, or (pandas) because its values look personal."""
        if column_private(var, label, self.settings):
            return True
        if not self.settings.pii or column_public(var, label, self.settings):
            return False
        try:
            return bool(personal_column(self._get(var), label))
        except Exception:
            return False

    # -- tools ---------------------------------------------------------------------------
    @read_only_tool
    def list_variables(self) -> str:
        """List the notebook's variables with their type and shape or length."""
        text = inventory(self.namespace_getter(), self.settings, budget=self.settings.tool_budget)
        return text or "The notebook defines no variables yet."

    @read_only_tool
    def describe_variable(
        self,
        name: str,
        detail: Literal["auto", "full", "compact"] = "auto",
        columns: list[str] | None = None,
    ) -> str:
        """Describe one notebook variable: type, shape, per-column statistics.

        Parameters
        ----------
        name:
            The variable name.
        detail:
            "auto" (fits the usual budget), "full" (the largest budget) or "compact".
        columns:
            Columns of a DataFrame to describe in full even when it is wide.
        """
        obj = self._get(name)
        budget = {
            "auto": self.settings.var_budget,
            "full": self.settings.tool_budget,
            "compact": max(200, self.settings.var_budget // 3),
        }.get(detail)
        if budget is None:
            raise Refusal("error: detail must be 'auto', 'full' or 'compact'")
        if not is_tabular(obj):
            budget = min(budget, max(self.settings.other_budget, budget // 2))
        return describe(obj, name, budget=budget, settings=self.settings, columns=columns)

    @read_only_tool
    def describe_column(self, var: str, column: str, top_k: int = 10, bins: int = 10) -> str:
        """Exact statistics of one DataFrame column (reads the whole column).

        Parameters
        ----------
        var:
            The DataFrame (or Series) variable name.
        column:
            The column label (MultiIndex labels joined with " / ").
        top_k:
            How many most frequent values to list (at most 50).
        bins:
            Histogram bins for numeric columns (at most 50).
        """
        obj = self._get(var)
        engine = engine_of(obj)
        if engine is None and (not is_tabular(obj) or type(obj).__name__ == "LazyFrame"):
            raise Refusal(
                f"error: `{var}` is a {type_name(obj)}, not a DataFrame or Series; "
                "use describe_variable."
            )
        top_k = max(0, min(int(top_k), 50))
        bins = max(1, min(int(bins), 50))
        pos = self._resolve_columns(var, obj, [column])[0]
        label = self._frame_columns(var, obj)[pos]
        private = self._private(var, label)
        if engine is not None:  # a query in the engine, never the column itself
            from .engine_tools import engine_column

            s = self.settings
            return engine_column(
                obj, engine, var, label, private, s.values, top_k, s.engine_seconds
            )
        series = _column_as_pandas_like(obj, pos)
        return _exact_column(var, label, series, private, self.settings.values, top_k, bins)

    @read_only_tool
    def value_counts(self, var: str, columns: list[str], top_k: int = 20) -> str:
        """Exact counts of the most frequent values (or value combinations) of columns.

        Parameters
        ----------
        var:
            The DataFrame (or Series) variable name.
        columns:
            One or more column labels; several columns count combinations.
        top_k:
            How many rows to return (at most 100).
        """
        obj = self._get(var)
        engine = engine_of(obj)
        if engine is None and (not is_tabular(obj) or type(obj).__name__ == "LazyFrame"):
            raise Refusal(f"error: `{var}` is not a DataFrame or Series.")
        self._need_values("value_counts")
        top_k = max(1, min(int(top_k), 100))
        positions = self._resolve_columns(var, obj, columns)
        labels = self._frame_columns(var, obj)
        private = [labels[p] for p in positions if self._private(var, labels[p])]
        if private:
            raise Refusal(
                f"values of {', '.join(private)} are withheld (privacy); "
                "describe_column gives their statistics."
            )
        if engine is not None:
            from .engine_tools import engine_value_counts

            names = [labels[p] for p in positions]
            return engine_value_counts(obj, engine, names, top_k, self.settings.engine_seconds)
        return _value_counts(obj, positions, [labels[p] for p in positions], top_k)

    @read_only_tool
    def get_rows(
        self,
        var: str,
        n: int = 10,
        columns: list[str] | None = None,
        order: Literal["head", "tail", "random"] = "random",
    ) -> str:
        """Return up to 50 rows of a DataFrame, Series, array or list.

        Parameters
        ----------
        var:
            The variable name.
        n:
            Number of rows (1-50).
        columns:
            Columns to include (default: all that fit).
        order:
            "head", "tail" or "random" (a seeded random sample).
        """
        obj = self._get(var)
        self._need_values("get_rows")
        n = max(1, min(int(n), MAX_ROWS))
        if order not in ("head", "tail", "random"):
            raise Refusal("error: order must be 'head', 'tail' or 'random'")
        engine = engine_of(obj)
        if engine is not None:
            from .engine_tools import engine_rows_table

            positions = self._resolve_columns(var, obj, columns)
            labels = self._frame_columns(var, obj)
            return engine_rows_table(
                self, var, obj, engine, [labels[p] for p in positions], n, order
            )
        if is_tabular(obj) and type(obj).__name__ != "LazyFrame":
            positions = self._resolve_columns(var, obj, columns)
            labels = self._frame_columns(var, obj)
            return _rows_table(
                var,
                obj,
                positions,
                labels,
                n,
                order,
                self.settings.seed,
                lambda lab: self._private(var, lab),
            )
        if isinstance(obj, (list, tuple)) or type(obj).__name__ == "ndarray":
            from .privacy import var_private

            if var_private(var, self.settings):
                return f"values of `{var}` are withheld (privacy)."
            length = len(obj)
            picks = _positions(length, n, order, self.settings.seed)
            lines = [f"`{var}`: {fmt_int(len(picks))} of {fmt_int(length)} items ({order})"]
            for p in picks:
                lines.append(f"[{p}] {guarded_repr(obj[p], maxchars=300)}")
            return "\n".join(lines)
        raise Refusal(
            f"error: get_rows works on DataFrames, Series, arrays and lists; "
            f"`{var}` is a {type_name(obj)} (use describe_variable)."
        )

    @read_only_tool
    def run_python(self, code: str) -> str:
        """Run Python code in the notebook (the user approves each call first).

        Parameters
        ----------
        code:
            Python source; the value of a final expression is returned with the output.
        """
        if self.approve is None:
            return (
                "refused: run_python needs the user's approval and no approval "
                "callback is set; ask the user to run the code instead."
            )
        from jupychat.approval import approval_prompt

        refusal, askable = approval_prompt(code)
        if not askable:
            return refusal
        try:
            approved = bool(self.approve(code))
        except Exception as exc:
            return f"refused: the approval callback failed ({type(exc).__name__})."
        if not approved:
            return "refused: the user declined to run this code."
        return _run(code, self.namespace_getter())

    # -- tools as Tool objects -------------------------------------------------------------
    def tools(self, include_run_python: bool = True) -> list[Any]:
        """The tools as :class:`jupychat.tools.Tool` objects."""
        from jupychat.tools import Tool

        methods = [
            self.list_variables,
            self.describe_variable,
            self.describe_column,
            self.value_counts,
            self.get_rows,
        ]
        if include_run_python:
            methods.append(self.run_python)
        return [Tool.from_function(m) for m in methods]


def data_tools(
    namespace_getter: NamespaceGetter,
    settings: ContextSettings | None = None,
    *,
    approve: Callable[[str], bool] | None = None,
    include_run_python: bool = True,
) -> list[Any]:
    """The data tools for a session, as :class:`jupychat.tools.Tool` objects.

    Parameters
    ----------
    namespace_getter:
        Returns the notebook namespace each time a tool runs.
    settings:
        The same settings as the session's variable context.
    approve:
        ``approve(code) -> bool``, asked before every ``run_python`` call (pass
        ``lambda code: True`` to turn approval off). Without it ``run_python`` refuses.
    include_run_python:
        Offer ``run_python`` at all.
    """
    return DataTools(namespace_getter, settings, approve).tools(include_run_python)


def _run(code: str, namespace: Mapping[str, Any]) -> str:
    if not isinstance(namespace, dict):
        return "refused: the notebook namespace is not writable here."
    out = io.StringIO()
    result: Any = None
    has_result = False
    try:
        tree = ast.parse(code, mode="exec")
        last = tree.body[-1] if tree.body else None
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            if isinstance(last, ast.Expr):
                tree.body = tree.body[:-1]
                exec(compile(tree, "<run_python>", "exec"), namespace)  # approved by the user
                result = eval(
                    compile(ast.Expression(last.value), "<run_python>", "eval"), namespace
                )
                has_result = True
            else:
                exec(compile(tree, "<run_python>", "exec"), namespace)  # approved by the user
    except BaseException as exc:  # the code may raise anything, even SystemExit
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = traceback.format_exception(type(exc), exc, exc.__traceback__)
        text = out.getvalue()
        return (text + ("\n" if text else "") + "error:\n" + "".join(tb[-3:])).strip()
    text = out.getvalue().rstrip("\n")
    if has_result and result is not None:
        text += ("\n" if text else "") + guarded_repr(result, maxchars=4000)
    return text or "(no output)"
