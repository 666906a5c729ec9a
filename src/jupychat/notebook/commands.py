"""``%chat`` line commands that manage sessions and settings.

Design note: :class:`~.magics.ChatMagics` dispatches ``%chat NAME ARGS`` to a method
``_cmd_NAME``. The commands that ask the model (``ask``, ``error``, ``fix``), show what a
turn would send (``context``, ``cells``) or open the panel live with the magics; the ones
here only read or change the notebook's sessions, the store and the settings: ``model``,
``models``, ``history``, ``clear``, ``new``, ``sessions``, ``fork``, ``merge``, ``rename``,
``import``, ``use``, ``export``, ``stats``, ``memory``, ``config`` and ``key``. Each ends
in a printed result or a one-line ``UsageError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError

from .. import config

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

    from .binding import NotebookChat

__all__ = ["SessionCommands", "whole_number"]


def whole_number(word: str | None, usage: str) -> int:
    """``word`` as a plain (ASCII) whole number, else a one-line ``UsageError(usage)``.

    ``"²".isdigit()`` is True but ``int("²")`` fails: digits are checked as ASCII.
    """
    if not word or not (word.isascii() and word.isdigit()):
        raise UsageError(usage)
    return int(word)


class SessionCommands:
    """The session and settings commands of ``%chat`` (mixed into ``ChatMagics``)."""

    nbchat: NotebookChat
    shell: InteractiveShell | None

    def _cmd_model(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        if rest:
            session.switch_model(rest[0])
            self.nbchat.model_override = rest[0]
            self.nbchat._changed(session)
        from ..providers.registry import reason_for

        why = None if rest else reason_for(session.model_id)
        print(f"model: {session.model_id}" + (f" — {why}" if why else ""))

    def _cmd_models(self, rest: list[str]) -> None:
        from ..catalog import MODELS
        from ..providers import registry

        lines = ["providers: " + ", ".join(registry.available())]
        by_provider: dict[str, list[str]] = {}
        for m in MODELS:
            label = m.name + (" (images)" if m.vision else "")
            by_provider.setdefault(m.provider, []).append(label)
        for provider, names in by_provider.items():
            lines.append(f"{provider}: " + ", ".join(sorted(names)))
        lines.append("local: the embedded SmolLM2-135M model, or local:/path/to/model.gguf")
        lines.append("ollama:NAME, openai-compatible:NAME@http://host:port/v1, fake (offline echo)")
        from ..providers import discover

        if not discover.enabled():
            lines.append("on this machine: not looked for (the discover setting is off)")
        else:
            found = discover.found().lines()
            lines.append("on this machine: " + ("" if found else "no local server or chat GGUF"))
            lines += [f"  {line}" for line in found]
        print("\n".join(lines))

    def _cmd_history(self, rest: list[str]) -> None:
        from IPython.display import display

        from .render import history_bundle, is_terminal

        session = self.nbchat.session()
        limit = None
        if rest:
            usage = "%chat history takes a number of messages, e.g. %chat history 10"
            limit = whole_number(rest[0], usage)
        messages = [m for m in session.history if m.role in ("user", "assistant") and m.text]
        if limit:
            messages = messages[-limit:]
        if not messages:
            print("(no conversation yet)")
            return
        bundle = history_bundle(messages)
        if is_terminal(self.shell):  # the plain text, control characters made visible
            print(bundle["text/plain"])
        else:
            display(bundle, raw=True)

    def _cmd_clear(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        session.clear()
        self.nbchat._changed(session)
        print("conversation cleared (system prompt kept)")

    def _cmd_new(self, rest: list[str]) -> None:
        session = self.nbchat.new_session(rest[0] if rest else None)
        print(f"new session {session.id[:8]}")

    def _store(self) -> Any:
        store = self.nbchat.store
        if store is None:
            raise UsageError("no session store is available; sessions are not being saved")
        return store

    def _cmd_sessions(self, rest: list[str]) -> None:
        store = self._store()
        current = self.nbchat.session(switch=False).id
        if rest:
            text = " ".join(rest)
            groups = [("match", store.sessions(limit=20, search=text))]
        else:
            notebook = self.nbchat.notebook
            mine = store.sessions(limit=20, notebook=notebook) if notebook else []
            groups = [("this notebook", mine), ("recent", store.sessions(limit=10))]
        seen: set[str] = set()
        rows = []
        for label, items in groups:
            for item in items:
                if item["id"] in seen:
                    continue
                seen.add(item["id"])
                mark = "*" if item["id"] == current else " "
                rows.append(
                    f"{mark} {item['id'][:8]}  {label:<13} "
                    f"{str(item.get('updated_at', ''))[:16]:<16}"
                    f"  {item.get('message_count', 0):>4} msgs  {item.get('model') or '':<22}"
                    f"  {item.get('title') or '(untitled)'}"
                )
                if item.get("snippet"):
                    rows.append(f"            … {item['snippet']}")
        print("\n".join(rows) if rows else "(no stored sessions)")

    def _cmd_fork(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        at = None
        if rest:
            try:
                at = int(rest[0])
            except ValueError:
                raise UsageError(
                    "%chat fork takes a number of messages, e.g. %chat fork 4"
                ) from None
        branch = self.nbchat.adopt(session.fork(at=at))
        print(
            f"forked {session.id[:8]} → {branch.id[:8]} ({len(branch)} messages); "
            "now using the fork"
        )

    def _cmd_merge(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat merge needs the ids of the sessions to merge with this one")
        store = self._store()
        session = self.nbchat.session()
        ids = [session.id, *(self.nbchat.expand_id(r) for r in rest)]
        merged = self.nbchat.use(store.merge(ids))
        print(
            f"merged {len(ids)} sessions into {merged.id[:8]} ({len(merged)} messages); "
            "now using it"
        )

    def _cmd_rename(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat rename needs a title, e.g. %chat rename churn analysis")
        session = self.nbchat.session()
        session.title = " ".join(rest)
        if session.store is not None:
            session.store.rename(session.id, session.title)
        print(f"session {session.id[:8]} is now titled {session.title!r}")

    def _cmd_import(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat import needs the path of a .json session export")
        new_id = self._store().import_(rest[0], new_id=True)
        session = self.nbchat.use(new_id)
        print(f"imported {rest[0]} as {session.id[:8]} ({len(session)} messages); now using it")

    def _cmd_use(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError(
                "%chat use needs a session name (as in %%chat --session NAME; 'default' for "
                "the notebook's own) or a session id (see %chat sessions)"
            )
        session = self.nbchat.named(rest[0]) or self.nbchat.use(rest[0])
        label = f" ({session.name!r})" if session.name else ""
        print(
            f"using session {session.id[:8]}{label}: {session.title or '(untitled)'} "
            f"({len(session)} messages)"
        )

    def _cmd_export(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat export needs a path ending in .json, .md or .ipynb")
        from .namespace import export_session

        path = export_session(self.nbchat.session(), rest[0], self.nbchat.store)
        print(f"exported to {path}")

    def _cmd_stats(self, rest: list[str]) -> None:
        stats = self.nbchat.session().stats()
        cost = stats["cost"]
        about = "~" if stats.get("estimated_turns") else ""  # some figures are estimates
        cost_text = "unknown (no price for this model)" if cost is None else f"{about}${cost:.4f}"
        if cost is not None and stats["turns"]:
            last = stats["per_turn"][-1]["cost"]
            cost_text += f" (${cost / stats['turns']:.4f} a turn; last turn ${last:.4f})"
        lines = [
            f"model: {stats['model']}",
            f"turns: {stats['turns']}  messages: {stats['messages']}  "
            f"tool calls: {stats['tool_calls']}",
            f"tokens: {about}{stats['input_tokens']:,} in ({stats['cached_tokens']:,} cached"
            + (
                f", {stats['cache_write_tokens']:,} written to the cache"
                if stats.get("cache_write_tokens")
                else ""
            )
            + f") / {about}{stats['output_tokens']:,} out",
            f"cost: {cost_text}",
        ]
        if about:
            turns = stats["estimated_turns"]
            lines.insert(
                3,
                f"  ~ estimated: {turns} turn{'s' if turns > 1 else ''} stopped before "
                "the provider reported usage",
            )
        if stats["latency_mean"] is not None:
            ttft = stats["ttft_mean"]
            lines.append(
                f"latency: {stats['latency_mean']:.2f}s mean per turn"
                + (f", first token after {ttft:.2f}s" if ttft is not None else "")
            )
        from .longcmds import window_line

        lines.append(window_line(self.nbchat.session()))
        print("\n".join(lines))

    def _cmd_memory(self, rest: list[str]) -> None:
        session = self.nbchat.session()
        if rest[:1] == ["set"] and len(rest) >= 3:
            session.set_memory(rest[1], " ".join(rest[2:]))
        elif rest[:1] == ["clear"]:
            session.clear_memory(rest[1:] or None)
        keys = session.list_memory()
        print("\n".join(f"{k}: {session.get_memory(k)!r}" for k in keys) or "(memory is empty)")

    def _cmd_config(self, rest: list[str]) -> None:
        from ..providers.registry import KEYED_DEFAULTS

        names = (
            "model",
            "store",
            "resume",
            "temperature",
            "max_tokens",
            "values",
            "connect_timeout",
            "read_timeout",
            "max_retries",
        )
        lines = [f"{name}: {config.resolve(name)!r}" for name in names]
        lines.append(f"config file: {config.config_path()}")
        from ..prompts import notebook_system
        from ..providers import discover

        session = self.nbchat.session(switch=False)
        lines.append(f"discover (look for local servers and GGUF files): {discover.enabled()}")
        if session.system_prompt:
            lines.append("system prompt (this session's own):")
            lines += [f"  {line}" for line in session.system_prompt.splitlines()]
        elif getattr(session.provider, "tiny", False):
            from ..prompts import TINY_SYSTEM

            lines.append("system prompt (the tiny embedded model's):")
            lines.append(f"  {TINY_SYSTEM}")
        prompt = notebook_system()
        lines.append(
            "notebook_system_prompt (for capable models; %config "
            "ChatMagics.notebook_system_prompt = '...' changes it, '' sends none):"
        )
        lines += [f"  {line}" for line in prompt.splitlines()] or ["  (none)"]
        for provider, env_var, _ in KEYED_DEFAULTS:
            state = "set" if config.api_key(provider, env_var) else "not set"
            lines.append(f"{provider} key: {state}")
        print("\n".join(lines))

    def _cmd_key(self, rest: list[str]) -> None:
        if not rest:
            raise UsageError("%chat key needs a provider name, e.g. %chat key openai")
        import getpass

        provider = rest[0]
        key = getpass.getpass(f"API key for {provider} (kept in this kernel's memory only): ")
        config.set_api_key(provider, key.strip() or None)
        print(f"{provider} key {'set' if key.strip() else 'cleared'} for this kernel")
