"""Notebook variables as context: bounded descriptions, budgets, privacy, data tools.

Design note: the assistant sees the notebook through compact, honest descriptions,
never a raw dump (see ``docs/context.md``). This package is core layer: it imports no
IPython, ipywidgets or pandas at import time; pandas, numpy and polars are imported only
to describe an object that is one of theirs.

Main entry points::

    describe(obj, name, budget=..., values=...)     one value → Markdown, size-capped
    turn_context(namespace, names, settings)         {"var:df": ..., "inventory": ...}
    variables_context / inventory_context            the same two parts, separately
    mentioned_names(prompt, namespace)               @name mentions that exist
    data_tools(namespace_getter, settings, approve)  read-only tools (+ gated run_python)
    project_context(path)                            cwd, README head, git, versions
"""

from __future__ import annotations

from .budget import estimate_tokens, set_token_counter
from .cache import cache_info, clear_cache
from .datatools import DataTools, data_tools
from .describe import describe, is_tabular
from .inventory import inventory
from .privacy import is_pii_name, redact_secrets
from .project import project_context
from .request import Request
from .settings import ContextSettings
from .turn import (
    inventory_context,
    mentioned_columns,
    mentioned_names,
    turn_context,
    variables_context,
)

__all__ = [
    "ContextSettings",
    "DataTools",
    "Request",
    "cache_info",
    "clear_cache",
    "data_tools",
    "describe",
    "estimate_tokens",
    "inventory",
    "inventory_context",
    "is_pii_name",
    "is_tabular",
    "mentioned_columns",
    "mentioned_names",
    "project_context",
    "redact_secrets",
    "set_token_counter",
    "turn_context",
    "variables_context",
]
