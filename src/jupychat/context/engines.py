"""Registration of the engine describers (Spark, Dask, DuckDB, Ibis), and engine detection.

Design note: :mod:`.describe` calls :func:`register_engine` the first time it meets an
object whose class comes from one of these packages, and only when that package is
already in ``sys.modules``: nothing here imports an engine the notebook has not loaded.
:func:`engine_of` names the engine of a handle from its class path alone (no import,
no attribute access that could compute), for the inventory and the data tools.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["engine_of", "register_engine"]


def engine_of(obj: Any) -> str | None:
    """``"spark" | "dask" | "duckdb" | "ibis" | "polars-lazy"`` or None, by class path."""
    kind: type = type(obj)
    return _engine_of_type(kind)


@functools.lru_cache(maxsize=256)
def _engine_of_type(kind: type) -> str | None:
    """:func:`engine_of` by type: a class's bases and modules do not change."""
    for cls in kind.__mro__:
        module = getattr(cls, "__module__", "") or ""
        name = cls.__name__
        root = module.split(".")[0]
        if root == "pyspark" and name == "DataFrame" and ".sql." in f".{module}.":
            return "spark"
        if root == "dask" and name == "DataFrame" and "dataframe" in module:
            return "dask"
        if root in ("duckdb", "_duckdb") and name == "DuckDBPyRelation":
            return "duckdb"
        if root == "ibis" and name == "Table" and "expr" in module:
            return "ibis"
        if root == "polars" and name == "LazyFrame":
            return "polars-lazy"
    return None


def register_engine(root: str, register: Callable[..., Any]) -> None:
    """Register the describer of the engine package ``root`` (it is already imported)."""
    if root not in sys.modules:
        return
    if root in ("duckdb", "_duckdb"):
        import duckdb

        from .duckdb_frames import describe_duckdb

        register(duckdb.DuckDBPyRelation, describe_duckdb)
    elif root == "pyspark":
        from pyspark.sql.dataframe import DataFrame

        from .spark_frames import describe_spark

        register(DataFrame, describe_spark)
    elif root == "dask":
        import dask.dataframe as dd

        from .dask_frames import describe_dask

        register(dd.DataFrame, describe_dask)
    elif root == "ibis":
        import ibis.expr.types as ir

        from .ibis_frames import describe_ibis

        register(ir.Table, describe_ibis)
