"""A module stand-in that imports the real module on first attribute access.

Design note: the backend modules (pandas, numpy, polars describers) refer to ``pd``,
``np`` and ``pl`` throughout; binding those names to :class:`LazyModule` keeps importing
the backend module itself free, so *every* core module can be imported without pulling
in pandas (there is a test for that). The real import happens only when an object of
that library is described, i.e. when the library is already loaded.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """Stands for the module ``name``; attribute access imports it."""

    def __init__(self, name: str) -> None:
        self.__name = name
        self.__module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        module = self.__module
        if module is None:
            module = importlib.import_module(self.__name)
            self.__module = module
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self.__name!r}>"
