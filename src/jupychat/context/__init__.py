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

from typing import TYPE_CHECKING, Any

# ``describe`` and ``inventory`` are also the names of submodules: bound here eagerly, the
# functions win over the modules (an import of the submodule would otherwise rebind them).
from .describe import describe
from .inventory import inventory

# The other names are imported from their modules on first use (PEP 562), so importing one
# submodule (the cell record needs a few) does not load every describer and tool.
_EXPORTS = {
    "estimate_tokens": "budget",
    "set_token_counter": "budget",
    "cache_info": "cache",
    "clear_cache": "cache",
    "DataTools": "datatools",
    "data_tools": "datatools",
    "is_tabular": "describe",
    "is_pii_name": "privacy",
    "redact_secrets": "privacy",
    "project_context": "project",
    "Request": "request",
    "ContextSettings": "settings",
    "inventory_context": "turn",
    "mentioned_columns": "turn",
    "mentioned_names": "turn",
    "turn_context": "turn",
    "variables_context": "turn",
}

if TYPE_CHECKING:
    from .budget import estimate_tokens, set_token_counter
    from .cache import cache_info, clear_cache
    from .datatools import DataTools, data_tools
    from .describe import is_tabular
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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
