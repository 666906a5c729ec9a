"""Defensive removal of credentials from anything the store writes out (exports).

Design note: session records never hold API keys, but a person can paste one into a
prompt or put one in metadata, and an export is a file that gets shared. So every export
goes through :func:`scrub`, which

* replaces the value of any mapping key that names a credential (``api_key``,
  ``Authorization``, ``client_secret``, ``token``... but not ``max_tokens``);
* replaces every occurrence of a key this process knows about: keys held by
  :mod:`jupychat.config` for any provider, environment variables whose name says
  key/token/secret/password, and secret-named values in the user config file;
* replaces strings shaped like well-known key formats (``sk-...``, ``sk-ant-...``,
  ``Bearer ...``, ``AIza...``, ``ghp_...``, ``hf_...``, ``AKIA...``).

The replacement is the literal text ``[redacted]``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "known_secrets", "scrub", "secret_key_name"]

REDACTED = "[redacted]"

_KEY_NAME = re.compile(
    r"(?:^|[_\-. ])(?:api[_\-]?key|apikey|secret|secret[_\-]?key|password|passwd|"
    r"token|access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|session[_\-]?token|"
    r"bearer|authorization|proxy[_\-]authorization|private[_\-]?key|credentials?|"
    r"cookie|x[_\-]api[_\-]key)$",
    re.IGNORECASE,
)
_ENV_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.IGNORECASE)
_PATTERNS = re.compile(
    r"sk-[A-Za-z0-9][A-Za-z0-9_\-]{15,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{12,}=*"
    r"|AIza[0-9A-Za-z_\-]{30,}"
    r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,}"
    r"|xox[abprs]-[A-Za-z0-9\-]{10,}"
    r"|hf_[A-Za-z0-9]{30,}"
    r"|gsk_[A-Za-z0-9]{30,}"
    r"|AKIA[0-9A-Z]{16}"
)
_MIN_SECRET = 8


def secret_key_name(name: str) -> bool:
    """True when a mapping key names a credential (``api_key``, ``Authorization``...)."""
    return bool(_KEY_NAME.search(name.strip()))


def _walk_config(value: Any, found: set[str], secret: bool = False) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _walk_config(item, found, secret or secret_key_name(str(key)))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _walk_config(item, found, secret)
    elif secret and isinstance(value, str):
        found.add(value)
        bearer = re.match(r"(?i)bearer\s+(\S+)", value)
        if bearer:
            found.add(bearer.group(1))


def known_secrets() -> set[str]:
    """Every credential value this process can see (config keys, env vars, config file)."""
    from jupychat import config

    found: set[str] = set()
    for name, value in os.environ.items():
        if value and (_ENV_NAME.search(name) or "API_KEY" in name.upper()):
            found.add(value)
    try:
        file_data: Mapping[str, Any] = config.load_file()
    except Exception:  # a broken config file must not stop an export
        file_data = {}
    _walk_config(file_data, found)
    providers = file_data.get("providers", {})
    names: set[str] = set(providers) if isinstance(providers, Mapping) else set()
    try:
        from jupychat.providers.registry import BUILTIN, KEYED_DEFAULTS

        names |= set(BUILTIN)
        env_vars = {p: env for p, env, _ in KEYED_DEFAULTS}
    except Exception:  # pragma: no cover - registry import problems are reported elsewhere
        env_vars = {}
    for name in names:
        try:
            key = config.api_key(name, env_vars.get(name))
        except Exception:
            key = None
        if key:
            found.add(key)
    return {s.strip() for s in found if len(s.strip()) >= _MIN_SECRET}


def _scrub_text(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _PATTERNS.sub(REDACTED, text)


def scrub(value: Any, secrets: Iterable[str] | None = None) -> Any:
    """A copy of ``value`` (JSON-like) with credentials replaced by ``[redacted]``.

    Parameters
    ----------
    value:
        Dicts, lists, strings and scalars (a session record, say).
    secrets:
        The exact strings to remove; by default :func:`known_secrets`.
    """
    ordered = sorted(known_secrets() if secrets is None else set(secrets), key=len, reverse=True)
    return _scrub(value, ordered)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return _scrub_text(value, secrets)
    if isinstance(value, Mapping):
        out: dict[Any, Any] = {}
        for key, item in value.items():
            clean_key = _scrub_text(key, secrets) if isinstance(key, str) else key
            if isinstance(key, str) and secret_key_name(key) and item not in (None, "", {}, []):
                out[clean_key] = REDACTED
            else:
                out[clean_key] = _scrub(item, secrets)
        return out
    if isinstance(value, (list, tuple)):
        return [_scrub(item, secrets) for item in value]
    return value
