"""``%chat`` commands for long sessions: ``tokens``, ``compact``, ``pin``, ``unpin``, ``continue``.

Design note: a mixin of :class:`~.magics.ChatMagics` (like :mod:`.commands`), each command
a ``_cmd_NAME`` method that prints one result or raises a one-line ``UsageError``. The
work is the session's (:mod:`jupychat._compaction`); ``continue`` runs through the
notebook's engine like any turn, so the continued answer streams into the cell with its
footer, and the panel sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .commands import whole_number

if TYPE_CHECKING:
    from .binding import NotebookChat

__all__ = ["LongSessionCommands", "window_line"]

LONG_HELP = """\
%chat tokens [TEXT]   what the next request would cost (history, context, tools) and how
                      full the model's context window is, before sending
%chat compact         summarise older turns now (the store keeps them all)
%chat pin [N]         keep turn N (default: the last) verbatim when older turns are summarised
%chat unpin [N]       let turn N be summarised again (no N: every turn)
%chat continue        continue the last answer where it was cut at max tokens"""


def window_line(session: Any) -> str:
    """``context window: 1,234 of 4,096 tokens (30%; llama.cpp n_ctx) · 2 summaries``."""
    from .._compaction import is_summary, preview
    from ..errors import ChatError

    summaries = sum(is_summary(m) for m in session.history)
    try:
        figures = preview(session)
    except ChatError:  # answering now: the figure of the last answer
        last = session.stats().get("window")
        if not last:
            return "context window: unknown while the first answer is running"
        size, used = int(last["size"]), int(last["used"])
        line = f"context window at the last answer: {used:,} of {size:,} tokens ({used / size:.0%})"
    else:
        size = figures["window"]
        used = figures["total"] + figures["reserve"]
        line = (
            f"context window: {used:,} of {size:,} tokens ({used / size:.0%}, "
            f"{figures['source']}; compacts at {figures['threshold'] / size:.0%})"
        )
    if summaries:
        spent = session.stats()["summary_tokens"]
        line += (
            f" · {summaries} summar{'y' if summaries == 1 else 'ies'} of older turns "
            f"({spent:,} tokens to write)"
        )
    return line


class LongSessionCommands:
    """The long-session commands of ``%chat`` (mixed into ``ChatMagics``)."""

    nbchat: NotebookChat

    def _cmd_tokens(self, rest: list[str]) -> None:
        from .._compaction import preview
        from .._sanitize import TURN_OPTIONS
        from .engine import Ask

        # prepared as a cell would be: the notebook's context (inventory, @vars) counts too
        prepared = self.nbchat.prepare(Ask(" ".join(rest) or "…", source="tokens"))
        session = prepared.session
        options = {k: v for k, v in prepared.options.items() if k in TURN_OPTIONS}
        figures = preview(session, prepared.prompt, **options)
        size = figures["window"]
        total = figures["total"]
        lines = [
            f"next request to {session.model_id} (counted with {figures['counter']}):",
            f"  system prompt {figures['system']:>8,}",
            f"  history       {figures['history']:>8,}"
            + ("  (older turns summarised)" if figures["summarised"] else ""),
            f"  context       {figures['context']:>8,}",
            f"  tools         {figures['tools']:>8,}",
        ]
        if figures["images"]:
            lines.append(f"  images        {figures['images']:>8,}")
        lines += [
            f"  total         {total:>8,}  + {figures['reserve']:,} kept for the answer",
            f"context window: {size:,} tokens ({figures['source']}); this request fills "
            f"{(total + figures['reserve']) / size:.0%}, compaction starts at "
            f"{figures['threshold'] / size:.0%}",
        ]
        if figures["full"] != total:
            lines.append(f"without compaction the request would be {figures['full']:,} tokens")
        print("\n".join(lines))

    def _cmd_compact(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        summary = session.compact()
        if summary is None:
            print("nothing to compact: the conversation has at most one turn")
            return
        info = summary.meta["summary"]
        print(
            f"summarised {info['turns']} turns ({info['messages']} messages; all kept in the "
            f"store) in {len(summary.text):,} characters:\n{summary.text}"
        )
        self.nbchat._changed(session)

    def _turn_number(self, rest: list[str], command: str) -> int | None:
        if not rest:
            return None
        return whole_number(rest[0], f"%chat {command} takes a turn number, e.g. %chat {command} 3")

    def _cmd_pin(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        session.pin(self._turn_number(rest, "pin"))
        print(f"pinned turns: {_pinned(session)}")

    def _cmd_unpin(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        session.unpin(self._turn_number(rest, "unpin"))
        print(f"pinned turns: {_pinned(session)}")

    def _cmd_continue(self, rest: list[str]) -> Any:
        from .._compaction import CONTINUE_PROMPT
        from .engine import Ask, Prepared

        session = self.nbchat.session()
        last = next((m for m in reversed(session.history) if m.role != "system"), None)
        if last is None or last.role != "assistant" or last.finish_reason != "length":
            raise UsageError("nothing to continue: the last answer was not cut at the token limit")
        ask = Ask(CONTINUE_PROMPT, source="continue", expand=False)
        prepared = Prepared(ask, session, CONTINUE_PROMPT, {"continue_answer": True})
        self._ask(prepared)  # type: ignore[attr-defined]


def _pinned(session: Any) -> str:
    from .._compaction import pinned_stamps
    from .._sessionstats import group_turns

    stamps = pinned_stamps(session)
    starts = [
        g[0]
        for g in group_turns(m for m in session.history if m.role != "system")
        if g[0].role == "user"
    ]
    numbers = [str(i) for i, m in enumerate(starts, 1) if m.created_at in stamps]
    return ", ".join(numbers) or "none"
