"""The secret values this process knows, and the one function that removes them from text.

Design note: redaction by *pattern* (``sk-…``, ``Bearer …``) misses keys with no telltale
shape, so every boundary where text leaves jupychat's control — a request body, a tool
result, an error message, a context block, a stored message — also removes the *values*
of the keys this process holds. They come from:

* keys held by :mod:`jupychat.config` (``%chat key`` / :func:`~jupychat.config.set_api_key`);
* environment variables whose name says so (``…_KEY``, ``…_TOKEN``, ``…_SECRET``,
  ``…_PASSWORD``, ``…_CREDENTIALS``, anything with ``API_KEY``);
* secret-named values in the user config file (``api_key``, ``headers.Authorization``…),
  and each provider's key as :func:`jupychat.config.api_key` finds it;
* values handed to :func:`register` (an ``api_key=`` argument, a credential header).

Values shorter than :data:`MIN_LENGTH` characters are ignored: they would redact ordinary
words; so are values found by their name alone that look like a plain word, a number or
the path of an existing file (:func:`plausible`).

The value set is cached; :func:`jupychat.config.set_api_key` calls
:func:`invalidate`, and a cheap fingerprint (the environment compared by equality, the
config file's modification time, the in-process keys) rebuilds it when anything else
changed, so a key exported after import is still caught.

Cost: :func:`scrub_text` is one ``in`` test per known value and a ``str.replace`` only
when a value is present; no regular expression runs over the text. A 100 KB request with
five keys costs well under a millisecond (``benchmarks/bench_secrets.py``). Text that was
cut for display asks for ``partial=True``, which also looks for each key's first 12
characters (a key cut short by a table cell's width).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from jupychat import config

__all__ = [
    "MIN_LENGTH",
    "REDACTED",
    "contains_secret",
    "invalidate",
    "known",
    "plausible",
    "register",
    "scrub_data",
    "scrub_text",
    "secret_name",
]

REDACTED = "[redacted]"
MIN_LENGTH = 8
_HEAD = 12  # a run of at least this many leading characters of a key is a cut-short key

_ENV_NAME = re.compile(
    r"(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$|API_?KEY", re.IGNORECASE
)
_KEY_NAME = re.compile(
    r"(?:^|[_\-. ])(?:api[_\-]?key|apikey|secret|secret[_\-]?key|password|passwd|"
    r"token|access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|session[_\-]?token|"
    r"bearer|authorization|proxy[_\-]authorization|private[_\-]?key|credentials?|"
    r"cookie|x[_\-]api[_\-]key)$",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?i)^\s*(?:bearer|basic|token)\s+(\S+)\s*$")

_lock = threading.Lock()
_registered: set[str] = set()
_cache: _Known | None = None


def secret_name(name: str) -> bool:
    """True when a mapping key or option name names a credential (``api_key``, ``Authorization``…).

    ``max_tokens`` and ``token_count`` are not credentials; ``api_key``, ``x-api-key``,
    ``client_secret`` and ``Authorization`` are.
    """
    return bool(_KEY_NAME.search(str(name).strip()))


class _Known:
    """The value set and what it was built from (the fingerprint)."""

    def __init__(self, fingerprint: tuple[Any, ...], values: Iterable[str]) -> None:
        self.fingerprint = fingerprint
        ordered = sorted({v for v in values if len(v) >= MIN_LENGTH}, key=len, reverse=True)
        variants: list[str] = []
        for value in ordered:
            variants.append(value)
            escaped = json.dumps(value)[1:-1]  # as it appears inside a JSON string
            if escaped != value:
                variants.append(escaped)
        self.values: tuple[str, ...] = tuple(variants)
        self.frozen = frozenset(ordered)
        self.heads: tuple[tuple[str, str], ...] = tuple(
            (v[:_HEAD], v) for v in ordered if len(v) > _HEAD
        )


def _env_snapshot() -> Any:
    return dict(config.raw_environ())


def _fingerprint(env: Any) -> tuple[Any, ...]:
    # (no config path: it is made from the environment, compared whole)
    return (env, config.file_mtime(), tuple(config._keys.items()), len(_registered))


def _unchanged(fingerprint: tuple[Any, ...]) -> bool:
    """Whether ``fingerprint`` still holds, comparing the live environment with its copy
    (no new copy is made: texts are scrubbed ~20 times a turn)."""
    env, mtime, keys, registered = fingerprint
    if config.raw_environ() != env:
        return False
    # (the config file's path is made from the environment, just found equal:
    # JUPYCHAT_CONFIG, HOME, XDG_CONFIG_HOME...; so it is the same file)
    now = config.file_mtime()  # once per turn within config.settled()
    return now == mtime and tuple(config._keys.items()) == keys and len(_registered) == registered


def _walk_config(value: Any, found: set[str], secret: bool = False) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _walk_config(item, found, secret or secret_name(str(key)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk_config(item, found, secret)
    elif secret and isinstance(value, str):
        _add(found, value, guessed=True)


def plausible(value: str) -> bool:
    """Whether a value found by its *name* (an environment variable, a config entry) can be
    a credential worth removing from text.

    Short plain words and numbers (``POSTGRES_PASSWORD=postgres``, ``PIN=12345678``) and
    paths to existing files (``GOOGLE_APPLICATION_CREDENTIALS=/home/me/key.json``) are
    not: removing every ``postgres`` or ``/home/me`` from a notebook's context would hide
    ordinary data. Keys handed over explicitly (``api_key=``, ``%chat key``) are always
    kept.
    """
    if len(value) < MIN_LENGTH:
        return False
    if len(value) < 20 and (value.isalpha() or value.isdigit()):
        return False
    if value[:1] in "/~\\" or value[1:3] in (":\\", ":/"):
        try:
            return not os.path.exists(os.path.expanduser(value))
        except (OSError, ValueError):
            return True
    return True


def _add(found: set[str], value: str, guessed: bool = False) -> None:
    value = value.strip()
    if not value:
        return
    bearer = _BEARER.match(value)
    for candidate in (value, bearer.group(1) if bearer else ""):
        if candidate and (not guessed or plausible(candidate)):
            found.add(candidate)


def _collect() -> set[str]:
    found: set[str] = set()
    for name, value in os.environ.items():
        if value and _ENV_NAME.search(name):
            _add(found, value, guessed=True)
    for value in config._keys.values():
        _add(found, value)
    try:
        file_data: Mapping[str, Any] = config.load_file()
    except Exception:  # a broken config file is reported where it is read, not here
        file_data = {}
    _walk_config(file_data, found)
    providers = file_data.get("providers", {})
    names: set[str] = set(providers) if isinstance(providers, Mapping) else set()
    env_vars: dict[str, str] = {}
    try:
        from jupychat.providers.registry import BUILTIN
        from jupychat.providers.specs import key_env_vars

        names |= set(BUILTIN)
        env_vars = key_env_vars()
    except Exception:  # pragma: no cover - registry import problems are reported elsewhere
        pass
    for name in names:
        try:
            key = config.api_key(name, env_vars.get(name))
        except Exception:
            key = None
        if key:
            _add(found, key)
    with _lock:
        found |= _registered
    return found


def _state() -> _Known:
    global _cache
    cached = _cache
    if cached is not None and _unchanged(cached.fingerprint):
        return cached
    fingerprint = _fingerprint(_env_snapshot())
    fresh = _Known(fingerprint, _collect())
    _cache = fresh
    return fresh


def known() -> frozenset[str]:
    """Every secret value this process knows (each at least :data:`MIN_LENGTH` long)."""
    return _state().frozen


def register(*values: str | None) -> None:
    """Remember credential values that did not come from the environment or config.

    Used for ``api_key=`` arguments and credential headers; kept in memory for the life
    of the process (never written anywhere).
    """
    added = False
    with _lock:
        for value in values:
            if isinstance(value, str):
                before = len(_registered)
                _add(_registered, value)
                added = added or len(_registered) != before
    if added:
        invalidate()


def invalidate() -> None:
    """Forget the cached value set (it is rebuilt on next use)."""
    global _cache
    _cache = None


def _cut_heads(text: str, heads: tuple[tuple[str, str], ...]) -> str:
    for head, value in heads:
        start = text.find(head)
        while start >= 0:
            end = start + len(head)
            limit = min(len(text), start + len(value))
            while end < limit and text[end] == value[end - start]:
                end += 1
            text = text[:start] + REDACTED + text[end:]
            start = text.find(head, start + len(REDACTED))
    return text


def scrub_text(text: str, extra: Iterable[str] = (), *, partial: bool = False) -> str:
    """``text`` with every known secret value (and ``extra`` ones) replaced by ``[redacted]``.

    With ``partial=True`` a run of 12 or more leading characters of a known key is removed
    too, so a key cut short by a display limit (``sk-proj-abc…``) does not leak most of
    itself; text that is cut for display (context descriptions) asks for it.
    """
    if not text:
        return text
    state = _state()
    values: Iterable[str] = state.values
    heads = state.heads
    more = [e for e in extra if e and len(e) >= MIN_LENGTH and e not in state.frozen]
    if more:
        values = sorted({*state.values, *more}, key=len, reverse=True)
        heads = heads + tuple((v[:_HEAD], v) for v in more if len(v) > _HEAD)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    if partial:
        for head, _value in heads:
            if head in text:
                return _cut_heads(text, heads)
    return text


def contains_secret(text: str) -> bool:
    """Whether ``text`` holds a known secret value (or the first 12 characters of one)."""
    if not text:
        return False
    state = _state()
    return any(v in text for v in state.values) or any(h in text for h, _ in state.heads)


def scrub_data(value: Any) -> Any:
    """A copy of JSON-like ``value`` with :func:`scrub_text` applied to every string.

    Mapping keys are scrubbed too. Other values (numbers, ``None``, objects) are returned
    as they are; lists and tuples keep their type.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {
            (scrub_text(k) if isinstance(k, str) else k): scrub_data(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [scrub_data(item) for item in value]
    if isinstance(value, tuple):
        return tuple(scrub_data(item) for item in value)
    return value
