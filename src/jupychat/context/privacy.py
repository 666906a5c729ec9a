"""Privacy filters: excluded variables and columns, personal-looking names, secret values.

Design note: the default detector works on *name tokens*, not substrings. A name is
split at ``_``, ``-``, spaces, dots, digits and camelCase humps and lower-cased, so
``user_email``, ``firstName`` and ``EMAIL_ADDRESS`` contain ``email``/``name`` while
``keyboard``, ``hockey`` or ``tokenizer_vocab`` do not contain ``key``/``token``. A few
glued compounds are recognised (``firstname``, ``apikey``, ``emailaddress``), and a few
qualifiers mark a *derived* column that holds no personal value (``token_count``,
``has_email``, ``name_length``); the qualifier rule and the ``key``/``name`` context words
(``primary_key``, ``file_name``, ``product_name``) are the only places we trade safety
for fewer false positives. A bare ``name`` (airports, cars, ``studyName``) counts only
next to a word that says whose name it is (``customer_name``, ``full name``); dates of
birth and zip codes count by name. Values are checked too: :mod:`.pii_values` finds
e-mail addresses, phone numbers and card numbers in a column whatever it is called.
Matching columns keep their statistics; their values are withheld everywhere:
summaries, example rows and tool results.

A last pass, :func:`redact_secrets`, replaces strings that look like credentials
(``sk-…``, ``ghp_…``, ``AKIA…``, JWTs, PEM private keys) in any text we send, and the
values of the keys this process holds (:mod:`jupychat.secrets`), whatever their shape.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable

from ..secrets import contains_secret, known, scrub_text
from .settings import ContextSettings

__all__ = [
    "WITHHELD",
    "column_excluded",
    "column_private",
    "column_public",
    "is_pii_name",
    "name_tokens",
    "redact_secrets",
    "var_excluded",
    "var_private",
]

WITHHELD = "‹withheld›"

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^A-Za-z]+")

# Other spellings of the default words (used only while that word is in pii_words).
_ALIASES: dict[str, frozenset[str]] = {
    "email": frozenset({"mail", "emailaddress", "mailaddress"}),
    "phone": frozenset({"telephone", "tel", "mobile", "phonenumber", "phoneno", "cellphone"}),
    "ssn": frozenset({"ssns", "socialsecurity"}),
    "password": frozenset({"passwd", "pwd", "passphrase", "passcode"}),
    "token": frozenset({"accesstoken", "authtoken", "refreshtoken", "apitoken", "bearer"}),
    "secret": frozenset({"secrets", "credential", "credentials", "clientsecret"}),
    "key": frozenset({"apikey", "secretkey", "privatekey", "accesskey", "apikeys"}),
    "address": frozenset({"addr", "street", "streetaddress", "ipaddress", "zipcode", "postcode"}),
    "birth": frozenset({"dob", "birthdate", "birthday", "dateofbirth", "birthdt"}),
    "zip": frozenset({"zipcode", "postcode", "postal", "postalcode", "zipcodes"}),
    "name": frozenset(
        {
            "firstname",
            "lastname",
            "fullname",
            "surname",
            "username",
            "nickname",
            "middlename",
            "maidenname",
            "givenname",
            "familyname",
            "forename",
            "displayname",
        }
    ),
}

# Tokens that, next to the word, say the column is not personal.
_CONTEXT_EXEMPT: dict[str, frozenset[str]] = {
    "key": frozenset(
        {
            "primary",
            "foreign",
            "sort",
            "join",
            "partition",
            "group",
            "cache",
            "lookup",
            "row",
            "index",
            "merge",
            "dict",
            "map",
            "natural",
            "composite",
            "surrogate",
            "music",
            "musical",
        }
    ),
    "name": frozenset(
        {
            "file",
            "product",
            "column",
            "col",
            "table",
            "model",
            "feature",
            "dataset",
            "class",
            "category",
            "brand",
            "item",
            "sheet",
            "field",
            "var",
            "variable",
            "host",
            "city",
            "country",
            "state",
            "region",
            "species",
            "team",
            "event",
            "metric",
            "stage",
            "step",
            "package",
            "module",
            "function",
            "task",
            "job",
            "tag",
            "label",
            "project",
            "app",
            "device",
            "store",
            "station",
            "type",
            "kind",
            "group",
            "sku",
            "song",
            "track",
            "album",
            "movie",
            "book",
            "genre",
            "sensor",
            "series",
            "index",
            "level",
            "attr",
            "attribute",
            "param",
            "parameter",
            "key",
            "dir",
            "path",
            "folder",
            "font",
            "color",
            "colour",
            "unit",
            "asset",
            "ticker",
            "stock",
            "fund",
            "gene",
            "protein",
            "drug",
            "disease",
        }
    ),
}

# ``name`` alone is too common in ordinary data (airports, cars, species, ``studyName``):
# it counts as personal only next to a word that says whose name it is.
_PERSONAL_NAME = frozenset(
    {
        "first",
        "last",
        "full",
        "given",
        "family",
        "middle",
        "maiden",
        "sur",
        "user",
        "nick",
        "display",
        "legal",
        "real",
        "person",
        "persons",
        "people",
        "customer",
        "client",
        "patient",
        "employee",
        "staff",
        "student",
        "member",
        "contact",
        "owner",
        "holder",
        "account",
        "author",
        "parent",
        "mother",
        "father",
        "spouse",
        "child",
        "emergency",
        "recipient",
        "sender",
        "buyer",
        "seller",
        "applicant",
        "candidate",
        "driver",
        "passenger",
        "guest",
        "subscriber",
        "beneficiary",
        "insured",
        "physician",
        "doctor",
        "teacher",
    }
)

# Tokens that mark a derived quantity (a count, a flag), not the personal value itself.
_QUALIFIERS = frozenset(
    {
        "count",
        "counts",
        "cnt",
        "len",
        "length",
        "lengths",
        "size",
        "n",
        "total",
        "is",
        "has",
        "pct",
        "share",
        "ratio",
        "avg",
        "mean",
        "min",
        "max",
        "sum",
        "nunique",
        "missing",
        "valid",
        "verified",
        "flag",
    }
)


def name_tokens(name: object) -> list[str]:
    """Lower-case word tokens of a name (``"userEmail_2"`` → ``["user", "email"]``)."""
    text = " / ".join(map(str, name)) if isinstance(name, tuple) else str(name)
    text = _CAMEL.sub(" ", text)
    return [t.lower() for t in _SPLIT.split(text) if t]


def _word_hit(word: str, token: str) -> bool:
    if token in (word, word + "s", word + "es"):
        return True
    return token in _ALIASES.get(word, frozenset())


def is_pii_name(name: object, words: Iterable[str] | None = None) -> bool:
    """Whether a column or variable name looks personal or secret.

    Parameters
    ----------
    name:
        The name (tuples, as in MultiIndex columns, are joined).
    words:
        The words to look for (default: the settings' default PII words).
    """
    key = " / ".join(map(str, name)) if isinstance(name, tuple) else str(name)
    word_key = tuple(words) if words is not None else ContextSettings().pii_words
    return _is_pii_name(key[:200], word_key)


@functools.lru_cache(maxsize=4096)
def _is_pii_name(name: str, words: tuple[str, ...]) -> bool:
    tokens = name_tokens(name)
    if not tokens:
        return False
    word_list = [w.lower() for w in words]
    token_set = set(tokens)
    derived = bool(token_set & _QUALIFIERS) or (tokens[0] == "num" and len(tokens) > 1)
    for word in word_list:
        for token in tokens:
            if not _word_hit(word, token):
                continue
            others = token_set - {token}
            if others & _CONTEXT_EXEMPT.get(word, frozenset()):
                continue
            if word == "name" and token in ("name", "names") and not others & _PERSONAL_NAME:
                continue
            if derived:
                continue
            return True
    return False


def _glob_any(patterns: Iterable[str], *names: str, case: bool = False) -> bool:
    for pattern in patterns:
        for name in names:
            if case:
                if fnmatch.fnmatchcase(name, pattern):
                    return True
            elif fnmatch.fnmatchcase(name.lower(), pattern.lower()):
                return True
    return False


def var_excluded(name: str, settings: ContextSettings) -> bool:
    """Whether a variable must never be described, listed or read by a tool."""
    return _glob_any(settings.exclude_vars, name, case=True)


def var_private(name: str | None, settings: ContextSettings) -> bool:
    """Whether a variable's own name looks personal/secret (its values are withheld)."""
    if not name or not settings.pii:
        return False
    return is_pii_name(name, settings.pii_words)


def _label(column: object) -> str:
    return " / ".join(map(str, column)) if isinstance(column, tuple) else str(column)


def column_excluded(var: str | None, column: object, settings: ContextSettings) -> bool:
    """Whether a column is left out entirely (``exclude_columns``: ``col`` or ``var.col``)."""
    if not settings.exclude_columns:
        return False
    label = _label(column)
    names = [label] if not var else [label, f"{var}.{label}"]
    return _glob_any(settings.exclude_columns, *names)


def column_public(var: str | None, column: object, settings: ContextSettings) -> bool:
    """Whether ``public_columns`` says a column is never personal (by name or value)."""
    if not settings.public_columns:
        return False
    label = _label(column)
    names = [label] if not var else [label, f"{var}.{label}"]
    return _glob_any(settings.public_columns, *names)


def column_private(var: str | None, column: object, settings: ContextSettings) -> bool:
    """Whether a column's values are withheld (its statistics are kept)."""
    label = _label(column)
    names = [label] if not var else [label, f"{var}.{label}"]
    if settings.private_columns and _glob_any(settings.private_columns, *names):
        return True
    if settings.public_columns and _glob_any(settings.public_columns, *names):
        return False
    if var_private(var, settings):
        return True
    return settings.pii and is_pii_name(label, settings.pii_words)


_SECRET_RE = re.compile(
    # the lookahead lists every branch's first character: positions that cannot start a
    # credential are skipped at once (about 7x faster on a frame description)
    r"(?=[-sgxAeh])(?:"
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"
    r"|\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"
    r"|\bgh[pousr]_[A-Za-z0-9]{20,}"
    r"|\bgithub_pat_[A-Za-z0-9_]{20,}"
    r"|\bxox[abprs]-[A-Za-z0-9-]{10,}"
    r"|\bA(?:KIA|SIA)[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_-]{30,}"
    r"|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r"|\bhf_[A-Za-z0-9]{30,}"
    r")"
)


def redact_secrets(text: str) -> str:
    """``text`` with credential-looking substrings replaced by ``‹secret›``, and every key
    this process knows (:mod:`jupychat.secrets`) removed by value."""
    # an unchanged description is redacted once: later turns hand in the same text again
    return _redacted(text, known())


@functools.lru_cache(maxsize=128)
def _redacted(text: str, secrets: frozenset[str]) -> str:
    # ``secrets`` is part of the key only: a newly known key makes every entry stale
    return _SECRET_RE.sub("‹secret›", scrub_text(text, partial=True))


def looks_secret(text: str) -> bool:
    """Whether ``text`` contains something that looks like a credential, or a known key."""
    return _SECRET_RE.search(text) is not None or contains_secret(text)
