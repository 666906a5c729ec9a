"""Compaction: fitting a long conversation into the model's context window.

Design note: history only grows, and every turn re-sends it. Before each model call
:func:`fit_turn` counts what the request would take (:mod:`jupychat.tokens`) against the
model's window (:mod:`jupychat._window`), keeping room for the answer. Over the
threshold (``compact_at``, default 80 % of the window) the older turns are replaced *in
the request* by a summary the model writes (or ``compact_model``, a cheaper one):

* kept verbatim: the system prompt, pinned turns, the most recent turns (up to about
  half of what is left), and the latest version of every context block (a block whose
  turn was summarised rides along with the first message kept);
* cut only between turns (a turn is a user message and everything up to the next one),
  so a tool call is never separated from its result;
* summaries are incremental: the previous summary plus the turns it did not cover are
  summarised again, in pieces that fit the summariser's window;
* when the model cannot summarise (an error), a mechanical summary (each turn's question
  and the start of its answer) is used, so a turn never fails on its window.

The store keeps the full transcript. A summary is stored as a ``system`` message whose
``meta["summary"]`` says which messages it covers (``first``/``last`` positions in the
conversation and their ``created_at``), so exports and the sessions page show both; a
system message marked so is never joined into the system prompt. Pins live in the
session's metadata (``pinned``: the ``created_at`` of each pinned message), so pinning
never rewrites a stored message.

When even the newest turn alone (with the system prompt, pinned turns and tools) cannot
fit a known window, :class:`~jupychat.errors.ContextWindowError` says so in one line,
naming the biggest context blocks to drop. A window that is only a guess is never
refused here; if the provider refuses a request as too long, :func:`refit_after_refusal`
learns a smaller window, compacts, and the turn is sent again, once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._memo import PrefixMemo
from ._sessionstats import group_turns
from ._summary import summarise
from ._window import Window, context_window
from .errors import ChatError, ConfigError, ContextWindowError
from .tokens import TokenCounter, counter_for, request_tokens
from .types import ContextBlock, Message, Text

if TYPE_CHECKING:
    from ._turnstate import Turn
    from .session import ChatSession

__all__ = [
    "COMPACT_AT",
    "CONTINUE_PROMPT",
    "PINS_KEY",
    "SUMMARY_KEY",
    "Fit",
    "compact_now",
    "fit_turn",
    "is_summary",
    "latest_summary",
    "output_reserve",
    "pin",
    "pinned_stamps",
    "preview",
    "refit_after_refusal",
    "summary_label",
]

COMPACT_AT = 0.8
"""Share of the window a request may fill before older turns are summarised."""
SUMMARY_KEY = "summary"
PINS_KEY = "pinned"
CONTINUE_PROMPT = (
    "Continue your previous answer exactly where it stopped. Do not repeat anything and "
    "do not add a preamble."
)


def is_summary(message: Message) -> bool:
    """True for a stored summary message."""
    return message.role == "system" and isinstance(message.meta.get(SUMMARY_KEY), Mapping)


def summary_label(message: Mapping[str, Any]) -> str | None:
    """``Summary of messages 1–24 (turns 1–12)`` for a stored summary's dict, else ``None``.

    Exports and the sessions page show it as the summary's heading.
    """
    meta = message.get("meta")
    info = meta.get(SUMMARY_KEY) if isinstance(meta, Mapping) else None
    if message.get("role") != "system" or not isinstance(info, Mapping):
        return None
    try:
        first, last, turns = int(info["first"]) + 1, int(info["last"]) + 1, int(info["turns"])
    except (KeyError, TypeError, ValueError):
        return "Summary of earlier messages"
    return f"Summary of messages {first}–{last} ({turns} turns; sent instead of them)"


def output_reserve(options: Mapping[str, Any], provider: Any, window: int) -> int:
    """Tokens kept free for the answer: ``max_tokens`` (or the provider's), at most 1/4."""
    asked = options.get("max_tokens") or getattr(provider, "max_tokens", None) or 1024
    return max(16, min(int(asked), window // 4))


def pinned_stamps(session: ChatSession) -> set[str]:
    """``created_at`` of every pinned message."""
    value = session.get_metadata(PINS_KEY) or []
    return {str(v) for v in value} if isinstance(value, (list, tuple)) else set()


def latest_summary(history: Sequence[Message]) -> tuple[Message | None, int]:
    """The newest valid summary in ``history`` and how many conversation messages it covers.

    The conversation is ``history`` without system messages; a summary whose last covered
    message is no longer there (history was edited) is skipped.
    """
    conv: list[Message] | None = None
    for message in reversed(history):
        if not is_summary(message):
            continue
        if conv is None:
            conv = conversation(list(history))
        stamp = str(message.meta[SUMMARY_KEY].get("last_at"))
        # from the end: the covered messages come just before the summary, and a stamp
        # found twice counts where it was last
        for at in range(len(conv) - 1, -1, -1):
            if conv[at].created_at == stamp:
                return message, at + 1
    return None, 0


# -- planning ---------------------------------------------------------------------------


@dataclass
class Fit:
    """What the next request will hold, and what it costs."""

    window: Window
    used: int  # tokens of the request as it will be sent, answer room included
    full: int  # tokens it would take without compaction
    reserve: int
    threshold: int
    sent: list[Message] | None = None  # the conversation sent (None: all of it)
    summary: Message | None = None  # the summary sent in the system prompt
    carry: tuple[ContextBlock, ...] = ()
    compacted: bool = False  # a new summary was written for this request
    parts: dict[str, int] | None = None

    def meta(self) -> dict[str, Any]:
        return {
            "size": self.window.tokens,
            "used": self.used,
            "source": self.window.source,
            **({"summarised": True} if self.summary is not None else {}),
        }


class _Planner:
    def __init__(
        self,
        session: ChatSession,
        provider: Any,
        system: str | None,
        new: Sequence[Message],
        tools: Sequence[Any],
        options: Mapping[str, Any],
        history: Sequence[Message],
    ) -> None:
        _checked(options)
        self.session = session
        self.provider = provider
        self.system = system
        self.new = list(new)
        self.tools = list(tools)
        self.history = list(history)
        self.window = context_window(provider, options.get("context_window"))
        self.counter: TokenCounter = counter_for(provider)
        self.reserve = output_reserve(options, provider, self.window.tokens)
        share = float(options.get("compact_at") or COMPACT_AT)
        self.threshold = int(self.window.tokens * min(1.0, max(0.1, share)))
        self.conv = conversation(self.history)
        self.pins = pinned_stamps(session)

    def cost(
        self, sent: Sequence[Message], summary: str | None = None, carry: Sequence[Any] = ()
    ) -> int:
        return self.parts(sent, summary, carry)["total"] + self.reserve

    def parts(
        self, sent: Sequence[Message], summary: str | None = None, carry: Sequence[Any] = ()
    ) -> dict[str, int]:
        system = _with_summary(self.system, summary)
        got = request_tokens(
            [*sent, *self.new], system=system, tools=self.tools, counter=self.counter
        )
        out = got.as_dict()
        if carry:  # blocks carried over from dropped turns (none: nothing to count)
            extra = request_tokens(
                [Message.of("user", tuple(carry))], counter=self.counter, remember=False
            )
            out["context"] += extra.context
            out["total"] += extra.context
        return out

    def size(self, messages: Sequence[Message]) -> int:
        """Tokens ``messages`` alone take in a request (text, context, tool parts, images)."""
        got = request_tokens(messages, counter=self.counter, remember=False)
        return got.history + got.context + got.images

    def groups(self, start: int) -> list[list[Message]]:
        return group_turns(self.conv[start:])

    def pinned(self, group: Sequence[Message]) -> bool:
        return any(m.created_at in self.pins for m in group)

    def pinned_messages(self, messages: Sequence[Message]) -> list[Message]:
        """The messages of the pinned turns among ``messages``, in order (none pinned:
        the conversation is not walked)."""
        if not self.pins:
            return []
        return [m for g in group_turns(messages) if self.pinned(g) for m in g]


def conversation(history: list[Message]) -> list[Message]:
    """``history`` without system messages (a new list), resumed from the last history
    asked about when this one starts with it (see :class:`PrefixMemo`)."""
    return _CONVERSATIONS.filtered(history, lambda m: m.role != "system")


_CONVERSATIONS: PrefixMemo[tuple[Message, ...]] = PrefixMemo()


def system_texts(history: list[Message]) -> list[str]:
    """The texts of ``history``'s system messages that are not summaries, in order (each
    turn's system prompt joins them), found as :func:`conversation` finds the rest."""
    kept = _SYSTEM_MESSAGES.filtered(history, lambda m: m.role == "system" and not is_summary(m))
    return [m.text for m in kept]


_SYSTEM_MESSAGES: PrefixMemo[tuple[Message, ...]] = PrefixMemo()


def _with_summary(system: str | None, summary: str | None) -> str | None:
    if not summary:
        return system
    note = f"Summary of the earlier conversation (older turns are not repeated):\n{summary}"
    return f"{system}\n\n{note}" if system else note


def _carried(
    dropped: Sequence[Message], kept: Sequence[Message], new: Sequence[Message]
) -> tuple[ContextBlock, ...]:
    """The latest block of each context key found only in ``dropped`` messages."""
    latest = _latest_blocks(list(dropped))
    alone = set(latest)  # keys not found later yet: the walk stops once none is left
    for message in (*new, *kept):
        if not alone:
            break
        alone.difference_update(b.key for b in message.context_blocks)
    return tuple(b for k, b in latest.items() if k in alone)


def _latest_blocks(messages: list[Message]) -> dict[str, ContextBlock]:
    """The latest block of each context key in ``messages``, keys in the order they first
    came (read only). What a summary covers only grows, so it is resumed from last turn's."""
    known, start = _DROPPED.resume(messages)
    latest = dict(known or {})
    for message in messages[start:]:
        latest.update((b.key, b) for b in message.context_blocks)
    _DROPPED.keep(messages, latest)
    return latest


_DROPPED: PrefixMemo[dict[str, ContextBlock]] = PrefixMemo()


def fit_turn(session: ChatSession, turn: Turn) -> Fit:
    """Fit ``turn``'s next request into the window, compacting history if needed.

    Sets ``turn.sent``, ``turn.system``, ``turn.carry`` and ``turn.window`` for
    :meth:`Turn.request`; a new summary is added to the session's history (and store).

    Raises
    ------
    ContextWindowError
        When the newest turn alone does not fit the window.
    """
    opts = turn.options
    plan = _Planner(session, turn.provider, turn.system, turn.new, turn.tools, opts, turn.history)
    full = plan.cost(plan.conv)
    fit = Fit(plan.window, full, full, plan.reserve, plan.threshold)
    if full <= plan.threshold or opts.get("compact") is False:
        _apply(turn, fit, plan)
        return fit
    if plan.window.source != "default":  # a guessed window: let the provider judge
        _check_alone(plan, turn)
    summary, covered = latest_summary(turn.history)
    fit = _use_summary(plan, summary, covered, full)
    if fit.used > plan.threshold:
        fit = _compact(session, plan, turn, summary, covered, full)
    _apply(turn, fit, plan)
    return fit


def refit_after_refusal(session: ChatSession, turn: Turn, error: BaseException) -> bool:
    """After the provider refused the turn's first request as too long: learn a smaller
    window, compact, and say whether to send again (once per turn, never after text came).
    """
    from ._window import learn

    if (
        turn.refitted
        or turn.steps != 1
        or turn.partial_text
        or turn.options.get("compact") is False
        or turn.window is None
    ):
        return False
    turn.refitted = True
    if not turn.options.get("context_window"):
        learn(turn.provider, int(turn.window["used"]))
    else:  # the user's window stands; compact harder this once
        turn.options = {**turn.options, "compact_at": 0.5}
    turn.sent, turn.carry, turn.system = None, (), turn.base_system
    fit_turn(session, turn)
    turn.steps = 0
    return True


def _apply(turn: Turn, fit: Fit, plan: _Planner) -> None:
    turn.sent = fit.sent
    turn.carry = fit.carry
    if fit.summary is not None:
        turn.system = _with_summary(plan.system, fit.summary.text)
    turn.window = fit.meta()


def _use_summary(plan: _Planner, summary: Message | None, covered: int, full: int) -> Fit:
    if summary is None:
        return Fit(plan.window, full, full, plan.reserve, plan.threshold)
    old = plan.conv[:covered]
    pinned = plan.pinned_messages(old)
    sent = [*pinned, *plan.conv[covered:]]
    carry = _carried(old, sent, plan.new)
    used = plan.cost(sent, summary.text, carry)
    return Fit(plan.window, used, full, plan.reserve, plan.threshold, sent, summary, carry)


def _check_alone(plan: _Planner, turn: Turn) -> None:
    """Raise when the new turn with what is always kept cannot fit at all."""
    pinned = plan.pinned_messages(plan.conv)
    parts = plan.parts(pinned)
    need = parts["total"] + min(plan.reserve, 64)
    if need <= plan.window.tokens:
        return
    blocks = sorted(
        (b for m in plan.new for b in m.context_blocks),
        key=lambda b: -plan.counter.count(b.text),
    )
    if blocks and parts["context"] > parts["total"] // 3:
        names = ", ".join(f"{b.key} (~{plan.counter.count(b.text):,})" for b in blocks[:3])
        advice = f"send less context (biggest: {names}), e.g. name fewer variables"
    elif pinned and parts["history"] > parts["total"] // 3:
        advice = "unpin some turns (%chat unpin)"
    else:
        advice = "shorten the question or the system prompt"
    raise ContextWindowError(
        f"this turn alone needs about {need:,} tokens, more than {turn.model_id}'s context "
        f"window of {plan.window.tokens:,} ({plan.window.source}); {advice}, or use a larger "
        "window (context_window= / n_ctx=)",
        provider=getattr(turn.provider, "name", None),
    )


def _compact(
    session: ChatSession,
    plan: _Planner,
    turn: Turn,
    summary: Message | None,
    covered: int,
    full: int,
) -> Fit:
    """Summarise the turns not kept; store the summary; the fit that uses it."""
    allowance = max(64, min(1024, plan.window.tokens // 8))
    groups = plan.groups(covered)
    base = plan.cost([], "word " * allowance) - plan.reserve
    pinned_groups = [g for g in group_turns(plan.conv) if plan.pinned(g)]
    pinned_cost = sum(plan.size(g) for g in pinned_groups)
    # at most what rides along from summarised turns: the latest block of each context key
    carry_cost = plan.size([Message.of("user", _carried(plan.conv, [], plan.new))])
    room = max(0, plan.threshold - base - plan.reserve - pinned_cost - carry_cost) // 2
    keep_from = len(groups)
    used = 0
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if plan.pinned(group):
            keep_from = index
            continue
        size = plan.size(group)
        if used + size > room:
            break
        used += size
        keep_from = index
    fold = [g for g in groups[:keep_from] if not plan.pinned(g)]
    if not fold and summary is None:
        return Fit(plan.window, full, full, plan.reserve, plan.threshold)
    last_folded = covered + sum(len(g) for g in groups[:keep_from])
    text, usage, model = summarise(session, plan, summary, fold, allowance, turn)
    first = 0
    info = {
        "first": first,
        "last": last_folded - 1,
        "messages": last_folded - first,
        "turns": len(group_turns(plan.conv[:last_folded])),
        "first_at": plan.conv[first].created_at,
        "last_at": plan.conv[last_folded - 1].created_at,
    }
    stored = Message(
        role="system",
        content=(Text(text),),
        model=model,
        usage=usage,
        meta={SUMMARY_KEY: info},
    )
    _store_summary(session, turn, stored)
    fit = _use_summary(plan, stored, last_folded, full)
    fit.compacted = True
    if fit.used > plan.window.tokens and fit.carry and plan.window.source != "default":
        names = ", ".join(f"{b.key} (~{plan.counter.count(b.text):,})" for b in fit.carry[:3])
        raise ContextWindowError(
            f"the context sent in earlier turns ({names}) no longer fits {turn.model_id}'s "
            f"window of {plan.window.tokens:,} tokens with this turn; start afresh with "
            "%chat clear (or session.clear()) or use a larger window",
            provider=getattr(turn.provider, "name", None),
        )
    return fit


def _store_summary(session: ChatSession, turn: Turn, summary: Message) -> None:
    session._history.append(summary)
    if turn.replaces:
        turn.history = [*turn.history, summary]
    session._touch()
    session._persist()


# -- on demand, and previews ------------------------------------------------------------


def compact_now(session: ChatSession, **options: Any) -> Message | None:
    """Summarise everything but the recent turns now (``%chat compact``).

    Returns the stored summary, or ``None`` when there was nothing to fold.
    """
    from ._turnrunner import begin

    turn = begin(session, "(compaction)", dict(options))
    try:
        plan = _Planner(
            session, turn.provider, turn.system, [], turn.tools, turn.options, turn.history
        )
        summary, covered = latest_summary(turn.history)
        groups = plan.groups(covered)
        if len(groups) <= 1:
            return None
        keep = groups[-1:]
        fold = [g for g in groups[:-1] if not plan.pinned(g)]
        allowance = max(64, min(1024, plan.window.tokens // 8))
        text, usage, model = summarise(session, plan, summary, fold, allowance, turn)
        last = covered + sum(len(g) for g in groups) - sum(len(g) for g in keep) - 1
        info = {
            "first": 0,
            "last": last,
            "messages": last + 1,
            "turns": len(group_turns(plan.conv[: last + 1])),
            "first_at": plan.conv[0].created_at,
            "last_at": plan.conv[last].created_at,
        }
        stored = Message(
            role="system", content=(Text(text),), model=model, usage=usage, meta={SUMMARY_KEY: info}
        )
        _store_summary(session, turn, stored)
        return stored
    finally:
        session._busy.release()


def preview(session: ChatSession, prompt: str = "", **options: Any) -> dict[str, Any]:
    """What the next request would cost, by part, before sending (``%chat tokens``).

    Returns
    -------
    dict
        ``system``, ``history``, ``context``, ``tools``, ``images``, ``total`` (tokens
        of the request as it would be sent now), ``full`` (without compaction),
        ``reserve`` (room kept for the answer), ``window``, ``source``, ``threshold``,
        ``counter`` and ``summarised`` (an earlier summary would stand in for old turns).
    """
    from ._turnrunner import begin

    turn = begin(session, prompt or "…", dict(options))
    try:
        plan = _Planner(
            session, turn.provider, turn.system, turn.new, turn.tools, turn.options, turn.history
        )
        full = plan.cost(plan.conv)
        summary, covered = latest_summary(turn.history)
        fit = Fit(plan.window, full, full, plan.reserve, plan.threshold)
        if full > plan.threshold and summary is not None:
            fit = _use_summary(plan, summary, covered, full)
        sent = plan.conv if fit.sent is None else fit.sent
        parts = plan.parts(sent, fit.summary.text if fit.summary else None, fit.carry)
    finally:
        session._busy.release()
    return {
        **parts,
        "full": full - plan.reserve,
        "reserve": plan.reserve,
        "window": plan.window.tokens,
        "source": plan.window.source,
        "threshold": plan.threshold,
        "summarised": fit.summary is not None,
    }


def pin(session: ChatSession, turn: int | None, on: bool) -> None:
    """Pin (``on``) or unpin turn ``turn`` (1-based; ``None``: the last, or all to unpin).

    Raises :class:`ChatError` for a turn that does not exist.
    """
    starts = [g[0] for g in group_turns(m for m in session.history if m.role != "system")]
    starts = [m for m in starts if m.role == "user"]
    pins = pinned_stamps(session)
    if turn is None and not on:
        pins = set()
    else:
        if not starts:
            raise ChatError("there is no turn to pin yet; ask something first")
        index = len(starts) if turn is None else turn
        if not 1 <= index <= len(starts):
            raise ChatError(f"there is no turn {turn}; turns are numbered 1 to {len(starts)}")
        stamp = starts[index - 1].created_at
        pins = pins | {stamp} if on else pins - {stamp}
    order = {m.created_at: i for i, m in enumerate(session.history)}
    session.set_metadata(PINS_KEY, sorted(pins, key=lambda s: order.get(s, -1)))


def _checked(options: Mapping[str, Any]) -> None:
    """One-line errors for bad long-session options."""
    window = options.get("context_window")
    if window is not None and (
        isinstance(window, bool) or not isinstance(window, int) or window < 64
    ):
        raise ConfigError(f"context_window must be a whole number of tokens ≥ 64; got {window!r}")
    share = options.get("compact_at")
    if share is not None and (
        isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.1 <= share <= 1
    ):
        raise ConfigError(
            "compact_at must be a number from 0.1 to 1 (the share of the context window a "
            f"request may fill before older turns are summarised); got {share!r}"
        )
