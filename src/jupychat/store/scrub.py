"""Defensive removal of credentials from anything the store writes out (exports).

Design note: session records never hold API keys, but a person can paste one into a
prompt or put one in metadata, and an export is a file that gets shared. So every export
goes through :func:`scrub`, which

* replaces the value of any mapping key that names a credential (``api_key``,
  ``Authorization``, ``client_secret``, ``token``... but not ``max_tokens``);
* replaces every occurrence of a key this process knows about (the registry in
  :mod:`jupychat.secrets`: keys held by :mod:`jupychat.config`, environment variables
  whose name says key/token/secret/password, secret-named values in the user config
  file, ``api_key=`` arguments);
* replaces strings shaped like well-known key formats (``sk-...``, ``sk-ant-...``,
  ``Bearer ...``, ``AIza...``, ``ghp_...``, ``hf_...``, ``AKIA...``).

The replacement is the literal text ``[redacted]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from jupychat import secrets as _secrets

__all__ = ["REDACTED", "known_secrets", "scrub", "secret_key_name"]

REDACTED = _secrets.REDACTED

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


def secret_key_name(name: str) -> bool:
    """True when a mapping key names a credential (``api_key``, ``Authorization``...)."""
    return _secrets.secret_name(name)


def known_secrets() -> set[str]:
    """Every credential value this process can see (see :func:`jupychat.secrets.known`)."""
    return set(_secrets.known())


def _scrub_text(text: str, values: list[str] | None) -> str:
    if values is None:
        text = _secrets.scrub_text(text)
    else:
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
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
    ordered = None if secrets is None else sorted(set(secrets), key=len, reverse=True)
    return _scrub(value, ordered)


def _scrub(value: Any, secrets: list[str] | None) -> Any:
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
