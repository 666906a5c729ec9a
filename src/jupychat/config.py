"""Settings: one resolver for every value.

Order of precedence, first found wins::

    explicit argument  >  %config ChatMagics.* (set_override)  >  JUPYCHAT_<NAME> env var
                       >  user config file (TOML)  >  built-in default

The user config file is ``<platformdirs user_config_dir>/jupychat/config.toml`` or the
path in ``JUPYCHAT_CONFIG``. It may hold top-level settings and a ``[providers.NAME]``
table per provider (``base_url``, ``api_key_env``, ``type`` for a custom name that points
at ``openai-compatible``, ``headers``, ``api_version``).

API keys: read from the provider's environment variable, from keys set in this process
with :func:`set_api_key` (``%chat key``), or from the config file. They are held in memory
only and never written anywhere by jupychat; :mod:`jupychat.secrets` knows every one of
them and removes their values from requests, results, errors and stored text.

``turn_timeout`` (default 600 s) is the most time one turn may spend waiting for the model:
connecting, retrying (backoff sleeps included) and streaming, summed over the turn's model
calls (time spent running tools does not count).

A turn resolves some 25 settings; within :func:`settled` (a turn, on one thread) the config
file is looked at once and that view is used for the rest of the block, instead of one
``stat`` per setting. Outside the block every call looks again, so an edit to the file
counts from the next turn.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = [
    "DEFAULTS",
    "api_key",
    "config_path",
    "file_mtime",
    "load_file",
    "provider_settings",
    "raw_environ",
    "reset_for_tests",
    "resolve",
    "set_api_key",
    "set_override",
    "settled",
    "turn_view",
]

DEFAULTS: dict[str, Any] = {
    "model": None,
    "store": None,
    "connect_timeout": 10.0,
    "read_timeout": 120.0,
    "max_retries": 3,
    "backoff": 0.5,
    "max_backoff": 20.0,
    "turn_timeout": 600.0,
    "temperature": None,
    "max_tokens": None,
    "resume": "resume",
}

_overrides: dict[str, Any] = {}
_keys: dict[str, str] = {}
_file_cache: tuple[Path, float, dict[str, Any]] | None = None
_turn = threading.local()  # .depth: settled() blocks entered on this thread; .data: the view
#: A settled block's look at the config file: (modification time, parsed content).
View = tuple[float | None, dict[str, Any]]


def config_path() -> Path:
    """Where the user config file is (it need not exist)."""
    explicit = os.environ.get("JUPYCHAT_CONFIG")
    if explicit:
        return _explicit_config(explicit, os.environ.get("HOME"))
    return _platform_config(os.environ.get("XDG_CONFIG_HOME"), os.environ.get("APPDATA"))


@functools.lru_cache(maxsize=8)
def _explicit_config(explicit: str, home: str | None) -> Path:
    """``JUPYCHAT_CONFIG`` as a path (cached: settings are resolved ~25 times a turn)."""
    return Path(explicit).expanduser()


@functools.lru_cache(maxsize=8)
def _platform_config(xdg: str | None, appdata: str | None) -> Path:
    """The platform's config file path (cached: platformdirs costs ~25 µs a call)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("jupychat", appauthor=False)) / "config.toml"


@contextlib.contextmanager
def settled(view: View | None = None) -> Iterator[None]:
    """Within the block, on this thread, :func:`load_file` reads the file's state once.

    A turn wraps its work in it: one consistent view of the config file for the whole
    turn, and one ``stat`` instead of one per setting resolved. Blocks nest. ``view``
    (from :func:`turn_view` on the turn's thread) makes an outermost block use the
    turn's look instead of its own: a worker doing part of the turn (its store write).
    """
    depth = getattr(_turn, "depth", 0)
    _turn.depth = depth + 1
    if view is not None and not depth:
        _turn.mtime, _turn.data = view
    try:
        yield
    finally:
        _turn.depth = depth
        if not depth:
            _turn.data = None


def turn_view() -> View | None:
    """The config file as this thread's :func:`settled` block has seen it (``None``
    outside a block, or before its first look), for :func:`settled` on another thread."""
    if not getattr(_turn, "depth", 0):
        return None
    data = getattr(_turn, "data", None)
    return None if data is None else (_turn.mtime, data)


def load_file() -> dict[str, Any]:
    """The parsed user config file, or ``{}`` when there is none (cached by mtime; looked
    at once per :func:`settled` block)."""
    if getattr(_turn, "depth", 0):
        if getattr(_turn, "data", None) is None:
            file_mtime()  # takes the block's one look at the file
        return _turn.data
    return _read_file(_stat_mtime())


def raw_environ() -> Mapping[Any, Any]:
    """The environment as ``os.environ`` holds it: its raw dict where there is one (to
    compare with a copy without decoding every entry), else a copy."""
    data = getattr(os.environ, "_data", None)
    return data if isinstance(data, dict) else dict(os.environ)


def file_mtime() -> float | None:
    """The config file's modification time, ``None`` when there is no file (looked up
    once per :func:`settled` block)."""
    if not getattr(_turn, "depth", 0):
        return _stat_mtime()
    if getattr(_turn, "data", None) is None:
        _turn.mtime = _stat_mtime()
        _turn.data = _read_file(_turn.mtime)
    return _turn.mtime


def _stat_mtime() -> float | None:
    try:
        return os.stat(config_path()).st_mtime
    except OSError:
        return None


def _read_file(mtime: float | None) -> dict[str, Any]:
    global _file_cache
    path = config_path()
    if mtime is None:
        return {}
    if _file_cache is not None and _file_cache[0] == path and _file_cache[1] == mtime:
        return _file_cache[2]
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}; fix or remove it") from exc
    _file_cache = (path, mtime, data)
    return data


def set_override(name: str, value: Any) -> None:
    """Set (or with ``None`` clear) a process-wide override, as ``%config`` does."""
    if value is None:
        _overrides.pop(name, None)
    else:
        _overrides[name] = value


def reset_for_tests() -> None:
    """Forget every override and every key set in this process, as at import.

    A test hook (``tests/conftest.py`` calls it around each test, so no test sees what
    another set with :func:`set_override` or :func:`set_api_key`); a notebook has no use
    for it. Environment variables and the config file are not touched.
    """
    _overrides.clear()
    _keys.clear()
    from . import secrets

    secrets.invalidate()


def _coerce(raw: str, like: Any, name: str) -> Any:
    if isinstance(like, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    try:
        if isinstance(like, int):
            return int(raw)
        if isinstance(like, float):
            return float(raw)
    except ValueError as exc:
        raise ConfigError(
            f"JUPYCHAT_{name.upper()}={raw!r} is not a {type(like).__name__}; fix or unset it"
        ) from exc
    return raw


def resolve(name: str, explicit: Any = None, default: Any = None) -> Any:
    """Resolve one setting through the precedence chain."""
    if explicit is not None:
        return explicit
    if name in _overrides:
        return _overrides[name]
    like = DEFAULTS.get(name, default)
    env = os.environ.get(f"JUPYCHAT_{name.upper()}")
    if env not in (None, ""):
        return _coerce(env, like, name) if like is not None else env
    file_value = load_file().get(name)
    if file_value is not None:
        return file_value
    return like if like is not None else default


def provider_settings(provider: str) -> Mapping[str, Any]:
    """The ``[providers.NAME]`` table of the config file (empty when absent)."""
    section = load_file().get("providers", {})
    value = section.get(provider, {}) if isinstance(section, Mapping) else {}
    return value if isinstance(value, Mapping) else {}


def set_api_key(provider: str, key: str | None) -> None:
    """Hold an API key for ``provider`` in this process's memory only (``None`` forgets it)."""
    if key:
        _keys[provider] = key
    else:
        _keys.pop(provider, None)
    from . import secrets

    secrets.invalidate()


def api_key(provider: str, env_var: str | None) -> str | None:
    """The key for ``provider``: set in-process > environment variable > config file."""
    if provider in _keys:
        return _keys[provider]
    if env_var and os.environ.get(env_var):
        return os.environ[env_var]
    settings = provider_settings(provider)
    env_name = settings.get("api_key_env")
    if env_name and os.environ.get(str(env_name)):
        return os.environ[str(env_name)]
    key = settings.get("api_key")
    return str(key) if key else None
