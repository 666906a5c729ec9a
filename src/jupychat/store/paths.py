"""Where the session store lives: argument > ``JUPYCHAT_STORE``/config file > user data dir.

Design note: resolution only computes a path (nothing is created here); opening the
file is :mod:`.connection`'s job, on first use.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupychat import config

from .connection import MEMORY

__all__ = ["default_store_path", "resolve_store_path"]


def default_store_path() -> Path:
    """``<user data dir>/jupychat/sessions.db`` (platformdirs)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("jupychat", appauthor=False)) / "sessions.db"


def resolve_store_path(path: str | os.PathLike[str] | None = None) -> str | Path:
    """Argument > ``config.resolve("store")`` (``JUPYCHAT_STORE``, config file) > default.

    A folder means ``<folder>/sessions.db``; ``":memory:"`` is an in-memory store.
    """
    chosen = config.resolve("store", path)
    if chosen is None or str(chosen).strip() == "":
        return default_store_path()
    if str(chosen) == MEMORY:
        return MEMORY
    resolved = Path(str(chosen)).expanduser()
    if resolved.is_dir():
        resolved = resolved / "sessions.db"
    return resolved.absolute()
