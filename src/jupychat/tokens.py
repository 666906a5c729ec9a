"""Token counts: a model's own tokenizer when one runs offline, else a calibrated estimate.

Design note: a budget, a context-window check and a cost preview all need "how many
tokens is this?", and must never wait for the network. Two sources, best first:

* the provider's own tokenizer, when it is available offline: llama.cpp's (``/tokenize``
  on the local model's private listener, once the model is in memory) for ``local``;
  ``tiktoken`` for OpenAI models when its encoding file is already in its local cache
  (we never let it download); Anthropic's counting endpoint is online-only, so not used;
* :func:`estimate_tokens`, a fixed linear model of the text's make-up: letter runs
  (words), the letters past the sixth in long words, digits, punctuation, line breaks
  (with their indentation), runs of spaces inside a line, and characters outside ASCII.
  BPE vocabularies give one token to a common word, split long words, and cut numbers
  and table rules into many small tokens, which is why one characters-per-token
  constant is 1.6x off on tables when it fits prose. The weights were fitted on the
  corpus in ``tests/data/tokens`` (DataFrame descriptions written by jupychat, code,
  chat text) against SmolLM2's BPE tokenizer, and ``tests/test_tokens.py`` measures the
  error on each kind again (target: within 15 %; measured on each kind's total: tables
  -0.3 %, code +0.9 %, chat +1.2 %; worst single piece 6.8 %).

Counts of the same text are cached (a small LRU per counter), so counting a long history
before every turn costs one tokenizer call per new message. Nothing heavy is imported at
module load.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._memo import IdentityMemo, PrefixMemo
from .types import ContextBlock, Image, Text, ToolCall, ToolResult

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD",
    "REQUEST_OVERHEAD",
    "RequestTokens",
    "TokenCounter",
    "counter_for",
    "estimate_tokens",
    "kind_of",
    "message_tokens",
    "request_tokens",
]

# -- the estimator ----------------------------------------------------------------------

_WORD = re.compile(r"[A-Za-z]+")
_DIGIT = re.compile(r"[0-9]")
_PUNCT = re.compile(r"[^\w\s]")
_BREAK = re.compile(r"\n[ \t]*")
_GAP = re.compile(r"(?<=\S) {2,}|\t")
_JOINED = re.compile(r"(?<=[A-Za-z0-9])_(?=[A-Za-z0-9])")
_WIDE = re.compile(r"[^\x00-\x7f]")

# weights fitted on tests/data/tokens against SmolLM2's tokenizer (see the design note)
_W_WORD = 0.97  # a letter run is about one token
_W_LONG = 0.17  # ... plus this much per letter after the sixth
_W_DIGIT = 1.2  # digits split one by one (some tokenizers group three: an overestimate)
_W_PUNCT = 0.9  # |, -, (, ), :, ... mostly a token each
_W_BREAK = 1.4  # a line break with its indentation
_W_GAP = 1.0  # a run of spaces inside a line
_W_JOINED = -0.5  # an underscore between two names merges with them
_W_WIDE = 1.5  # a character outside ASCII: one to three bytes, often a token each
_FLOOR = 1 / 6  # never fewer tokens than one per 6 characters


# The counts the patterns above define, taken with C string methods (tests/test_tokens.py
# checks them against the patterns over every code point and random texts): eight regex
# passes took ~140 us on a 500-character text, and a turn estimates a few such texts.
# UTF-8 writes each ASCII character as one byte below 0x80 and each other one as bytes
# of 0x80 and above, so the ASCII classes can be counted on the encoded bytes.
_LETTER_RUNS = bytes(
    0x61 if chr(c).isascii() and chr(c).isalpha() else 0x20 for c in range(256)
)  # letters to "a", all else to a space: the runs of [A-Za-z] are the words of .split()
_DIGIT_BYTES = b"0123456789"
_PUNCT_BYTES = bytes(c for c in range(128) if _PUNCT.fullmatch(chr(c)))  # [^\w\s] in ASCII
_HIGH_BYTES = bytes(range(128, 256))
_SPACE_RUN = re.compile(r"\S {2,}")  # as many matches as _GAP's first alternative
_JOINED_RUN = re.compile(r"[A-Za-z0-9]_(?=[A-Za-z0-9])")  # as many matches as _JOINED
_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


def _counts(text: str) -> tuple[int, int, int, int, int, int, int, int]:
    """(words, letters past the sixth, digits, punctuation, breaks, gaps, joins, wide):
    as many as ``_WORD``, ``_DIGIT``, ``_PUNCT``, ``_BREAK``, ``_GAP``, ``_JOINED`` and
    ``_WIDE`` find in ``text``."""
    raw = text.encode("utf-8", "surrogatepass")
    size = len(raw)
    lengths = [len(w) for w in raw.translate(_LETTER_RUNS).split()]
    long_letters = sum(n - 6 for n in lengths if n > 6)
    digits = size - len(raw.translate(None, _DIGIT_BYTES))
    punct = size - len(raw.translate(None, _PUNCT_BYTES))
    wide = len(text) - len(raw.translate(None, _HIGH_BYTES))  # characters minus ASCII ones
    if wide:  # [^\w\s] outside ASCII: what the pattern's classes say of each character
        punct += sum(1 for ch in _WIDE.findall(text) if not (ch.isalnum() or ch.isspace()))
    # _BREAK: each match starts at its own line break; _GAP: a tab, or a run of spaces
    gaps = text.count("\t") + (len(_SPACE_RUN.findall(text)) if "  " in text else 0)
    return (
        len(lengths),
        long_letters,
        digits,
        punct,
        text.count("\n"),
        gaps,
        _joins(text),
        wide,
    )


def _joins(text: str) -> int:
    """``len(_JOINED.findall(text))``: underscores between two ASCII letters or digits."""
    underscores = text.count("_")
    if not underscores:
        return 0
    if underscores > 32:
        return len(_JOINED_RUN.findall(text))
    found, at, last = 0, text.find("_", 1), len(text) - 1
    while 0 < at < last:
        if text[at - 1] in _ALNUM and text[at + 1] in _ALNUM:
            found += 1
        at = text.find("_", at + 1)
    return found


#: Texts at least this long have their estimate remembered (:func:`_estimate_long`): a
#: variable's description or the inventory is measured again, unchanged, every turn.
_REMEMBER_FROM = 256


def estimate_tokens(text: str) -> int:
    """The estimated number of tokens in ``text`` (no tokenizer needed).

    Parameters
    ----------
    text:
        Any text: prose, code, Markdown tables, numbers.

    Returns
    -------
    int
        A count calibrated against a BPE tokenizer (see the module note); 0 for "".
    """
    if not text:
        return 0
    if len(text) >= _REMEMBER_FROM and type(text) is str:
        return _estimate_long(text)
    return _estimate(text)


@functools.lru_cache(maxsize=128)
def _estimate_long(text: str) -> int:
    """:func:`_estimate` of a long text, remembered."""
    return _estimate(text)


def _estimate(text: str) -> int:
    words, long_letters, digits, punct, breaks, gaps, joins, wide = _counts(text)
    raw = (
        _W_WORD * words
        + _W_LONG * long_letters
        + _W_DIGIT * digits
        + _W_PUNCT * punct
        + _W_BREAK * breaks
        + _W_GAP * gaps
        + _W_JOINED * joins
        + _W_WIDE * wide
    )
    return max(1, math.ceil(max(raw, len(text) * _FLOOR)))


def kind_of(text: str) -> str:
    """``"table"``, ``"code"`` or ``"prose"``: what most of ``text``'s lines look like."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return "prose"
    table = sum(line.lstrip().startswith("|") for line in lines)
    code = sum(
        bool(re.match(r"\s{4}|\s*(def |class |import |from |for |if |return |#|@)", line))
        or (line.rstrip().endswith((":", ")", "]", "}", ",")) and "=" in line)
        for line in lines
    )
    if table * 2 >= len(lines):
        return "table"
    if code * 3 >= len(lines):
        return "code"
    return "prose"


# -- counters ---------------------------------------------------------------------------


class TokenCounter:
    """Counts tokens of texts with one source, caching the counts of texts it has seen.

    Parameters
    ----------
    name:
        What counts: ``"estimate"``, ``"llama.cpp tokenizer"``, ``"tiktoken o200k_base"``...
    count_many:
        ``count_many(texts) -> counts``; ``None`` uses :func:`estimate_tokens`. When it
        fails, the estimate is used for that call (a count is never an error).
    exact:
        True when the counts are the model's own.
    """

    def __init__(
        self,
        name: str = "estimate",
        count_many: Callable[[list[str]], list[int]] | None = None,
        *,
        exact: bool = False,
        cache_size: int = 4096,
    ) -> None:
        self.name = name
        self.exact = exact
        self._many = count_many
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        """Tokens in ``text``."""
        return self.counts([text])[0]

    def counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens in each of ``texts`` (one tokenizer call for the ones not cached)."""
        out: dict[int, int] = {}
        missing: list[int] = []
        with self._lock:
            for i, text in enumerate(texts):
                if not text:
                    out[i] = 0
                elif text in self._cache:
                    self._cache.move_to_end(text)
                    out[i] = self._cache[text]
                else:
                    missing.append(i)
        if missing:
            todo = [texts[i] for i in missing]
            counted: list[int] | None = None
            if self._many is not None:
                try:
                    counted = [int(n) for n in self._many(todo)]
                except Exception:
                    counted = None
            if counted is None or len(counted) != len(todo):
                counted = [estimate_tokens(t) for t in todo]
            with self._lock:
                for i, n in zip(missing, counted, strict=True):
                    out[i] = n
                    self._cache[texts[i]] = n
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return [out[i] for i in range(len(texts))]

    def __repr__(self) -> str:
        return f"<TokenCounter {self.name}>"


_ESTIMATE = TokenCounter()
_counters: dict[str, TokenCounter] = {}
_counters_lock = threading.Lock()


def _tiktoken_counter(model: str) -> TokenCounter | None:
    """tiktoken's encoding for an OpenAI model when its file is cached locally, else None."""
    from .context.budget import tiktoken_cached

    if not tiktoken_cached():
        return None
    try:
        import tiktoken

        name = "o200k_base" if model.startswith(("gpt-4o", "gpt-4.1", "gpt-5", "o")) else None
        encoding = tiktoken.get_encoding(name or "cl100k_base")
    except Exception:
        return None
    return TokenCounter(
        f"tiktoken {encoding.name}",
        lambda texts: [len(encoding.encode(t, disallowed_special=())) for t in texts],
        exact=True,
    )


def _llama_counter(provider: Any) -> TokenCounter | None:
    """The local model's own tokenizer, when the model is already in memory."""
    from .providers import _llama

    try:
        entry = _llama.cached(provider.path, provider.n_ctx, provider.n_threads)
    except Exception:
        return None
    if entry is None:
        return None
    return TokenCounter(
        "llama.cpp tokenizer", lambda texts: _llama.count_tokens(entry, texts), exact=True
    )


def counter_for(provider: Any) -> TokenCounter:
    """The best offline counter for ``provider``'s model (the estimate when none).

    Parameters
    ----------
    provider:
        A :class:`~jupychat.providers.base.Provider` (or ``None``).

    Returns
    -------
    TokenCounter
        Shared per model, so its cache serves every turn.
    """
    model_id = getattr(provider, "model_id", None) or ""
    with _counters_lock:
        found = _counters.get(model_id)
    if found is not None:
        return found
    counter: TokenCounter | None = None
    name = getattr(provider, "name", "")
    if name == "local":
        counter = _llama_counter(provider)  # not cached until the model is loaded
        if counter is None:
            return _ESTIMATE
    elif name in ("openai", "azure"):
        counter = _tiktoken_counter(str(getattr(provider, "model", "")))
    counter = counter or _ESTIMATE
    with _counters_lock:
        _counters[model_id] = counter
    return counter


# -- a request's tokens -----------------------------------------------------------------

MESSAGE_OVERHEAD = 5
"""Tokens each message costs beyond its text (role markers, separators: 5-6 in ChatML)."""
REQUEST_OVERHEAD = 24
"""Tokens a request costs beyond its messages (a chat template's default system line, the
reply's start marker); SmolLM2's template measured 26 with no system prompt."""
IMAGE_TOKENS = 800
"""Tokens counted for an image (providers charge roughly 100-1600 by size)."""


@dataclass(frozen=True)
class RequestTokens:
    """What one request costs, by part (all in tokens)."""

    system: int = 0
    history: int = 0
    context: int = 0
    tools: int = 0
    images: int = 0
    counter: str = "estimate"

    @property
    def total(self) -> int:
        return self.system + self.history + self.context + self.tools + self.images

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "history": self.history,
            "context": self.context,
            "tools": self.tools,
            "images": self.images,
            "total": self.total,
            "counter": self.counter,
        }


_TOOL_TEXTS: IdentityMemo[str] = IdentityMemo()
_SPLITS: IdentityMemo[tuple[list[str], list[str], int]] = IdentityMemo()
# (message, counter) -> tokens of its (conversation texts, context texts), its images: the
# sums of the counter's counts of its texts (a counter counts a text once: cached)
_SUMS: IdentityMemo[tuple[int, int, int]] = IdentityMemo()
# the sums of the messages of the last requests counted (per counter): the next request
# usually starts with the same messages. A turn over the compaction threshold counts
# several lists (the whole conversation, the new turn alone, what goes with the summary),
# each resumed next turn: one slot each, and room to spare
_REQUESTS: PrefixMemo[tuple[int, int, int]] = PrefixMemo(slots=8)


def _tool_text(spec: Any) -> str:
    """A tool's schema as the model sees it, remembered per tool (a spec is made afresh
    each turn, around the same parameters mapping)."""
    return _TOOL_TEXTS.get(
        spec.parameters,
        lambda parameters: json.dumps(
            {"name": spec.name, "description": spec.description, "parameters": parameters},
            default=str,
        ),
        (spec.name, spec.description),
    )


def _split_message(message: Any) -> tuple[list[str], list[str], int]:
    """A message's (conversation texts, context texts, images), remembered per message
    object (messages are frozen; each turn counts the whole history again)."""
    return _SPLITS.get(message, _split_parts)


def _split_parts(message: Any) -> tuple[list[str], list[str], int]:
    talk: list[str] = []
    context: list[str] = []
    images = 0
    for part in message.content:
        if isinstance(part, Text):
            talk.append(part.text)
        elif isinstance(part, ContextBlock):
            context.append(f'<context name="{part.key}">\n{part.text}\n</context>')
        elif isinstance(part, ToolCall):
            talk.append(f"{part.name}({json.dumps(dict(part.arguments), default=str)})")
        elif isinstance(part, ToolResult):
            talk.append(part.content)
        elif isinstance(part, Image):
            images += 1
    return talk, context, images


def request_tokens(
    messages: Iterable[Any],
    *,
    system: str | None = None,
    tools: Iterable[Any] = (),
    counter: TokenCounter | None = None,
    remember: bool = True,
) -> RequestTokens:
    """The tokens a request would take, split into system, history, context and tools.

    Parameters
    ----------
    messages:
        :class:`~jupychat.types.Message` objects, as sent.
    system:
        The system prompt.
    tools:
        :class:`~jupychat.providers.base.ToolSpec` objects offered.
    counter:
        Default: the estimate.
    remember:
        False for a list the next request will not start with (one turn, one message):
        it is neither resumed from nor remembered, so it does not push out one that is.
    """
    counter = counter or _ESTIMATE
    messages = list(messages)
    known, start = _REQUESTS.resume(messages, counter) if remember else (None, 0)
    history, context, images = known or (0, 0, 0)
    count = len(messages)
    new: list[tuple[Any, tuple[list[str], list[str], int]]] = []
    for message in messages[start:]:
        sums = _SUMS.find(message, counter)
        if sums is None:
            new.append((message, _split_message(message)))
            continue
        history += sums[0]
        context += sums[1]
        images += sums[2]
    tool_texts = [_tool_text(spec) for spec in tools]
    texts = [system or "", *tool_texts]
    for _message, (talk, ctx, _images) in new:
        texts += talk
        texts += ctx
    sizes = counter.counts(texts)  # one call for everything not counted before
    at = 1 + len(tool_texts)
    for message, (talk, ctx, n_images) in new:
        sums = (
            sum(sizes[at : at + len(talk)]),
            sum(sizes[at + len(talk) : at + len(talk) + len(ctx)]),
            n_images,
        )
        at += len(talk) + len(ctx)
        _SUMS.put(message, sums, counter)
        history += sums[0]
        context += sums[1]
        images += sums[2]
    if remember:
        _REQUESTS.keep(messages, (history, context, images), counter)
    return RequestTokens(
        system=sizes[0] + (MESSAGE_OVERHEAD if system else 0) + (REQUEST_OVERHEAD if count else 0),
        history=history + MESSAGE_OVERHEAD * count,
        context=context,
        tools=sum(sizes[1 : 1 + len(tool_texts)]),
        images=IMAGE_TOKENS * images,
        counter=counter.name,
    )


def message_tokens(message: Any, counter: TokenCounter | None = None) -> int:
    """Tokens one message takes in a request (text, context, tool parts, images)."""
    return request_tokens([message], counter=counter, remember=False).total
