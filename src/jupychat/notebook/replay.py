"""Replay: a ``%%chat`` cell whose inputs match a recording shows it, with no request.

Design note: every ``%%chat`` turn is a :class:`~jupychat._recording.Recording` (its
inputs and its answer). :func:`begin` runs once a cell's turn is prepared (prompt
expanded, variables described): it computes the turn's :class:`Inputs` and, in replay
mode, looks them up, in this order: recordings made in this kernel, the store
(:class:`~jupychat.store.recordings.RecordingStore`), then the blocks saved in the
notebook file's outputs. A hit is shown through the same events and renderer as a live
answer, with the recorded footer marked "replayed", and added to the session's history
(with the context blocks it carried) so later turns see the conversation. A miss says
which input changed, comparing with the cell's earlier recording (found by cell id, by
its source, else by its position among the ``%%chat`` cells), then asks the model
(``auto``) or fails the cell with one line (``strict``).

Why output metadata: the kernel cannot write the ``.ipynb`` while a front end owns it,
but it owns its outputs. Each answer's ``display_data`` carries the compact block in its
``metadata["jupychat"]``; JupyterLab, Notebook, VS Code and nbclient save output metadata
with the notebook, and ``update_display_data`` replaces it with the final one. On a
re-run the kernel reads the saved file (``JPY_SESSION_NAME``, via nbformat) once and keeps
what it found, so a Run All that clears outputs, or an autosave mid-run, loses nothing.
No front-end code is needed, and an ``.ipynb`` stays a plain notebook.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .. import config
from .._recording import BLOCK_KEY, FOOTER_FIELDS, Inputs, Recording, digest
from .._sanitize import clean_text
from ..errors import ChatError, ConfigError
from .replay_inputs import _inlined, inputs_of

if TYPE_CHECKING:
    from .binding import NotebookChat
    from .engine import Prepared
    from .events import Finished

__all__ = [
    "MODES",
    "CellTurn",
    "begin",
    "cell_source_digest",
    "ensure_model",
    "inputs_of",
    "replay_mode",
    "state_of",
]

log = logging.getLogger("jupychat")
MODES = {"on": "auto", "auto": "auto", "strict": "strict", "off": "off"}
_WORDS = {"1": "auto", "true": "auto", "yes": "auto", "0": "off", "false": "off", "no": "off"}
REPLAYED = "replayed"


def parse_mode(word: Any) -> str:
    """``"auto"``, ``"strict"`` or ``"off"`` for a setting's value; one-line error if bad."""
    if word is None or word is False:
        return "off"
    if word is True:
        return "auto"
    text = str(word).strip().lower()
    if not text:
        return "off"
    mode = MODES.get(text) or _WORDS.get(text)
    if mode is None:
        raise ChatError(f"replay mode {word!r} is not one of on, off, auto, strict")
    return mode


def replay_mode() -> str:
    """The replay mode now: ``%chat replay`` / ``%config`` > ``JUPYCHAT_REPLAY`` > file."""
    return parse_mode(config.resolve("replay"))


def cell_source_digest(line: str, body: str) -> str:
    """The digest that identifies a ``%%chat`` cell's text (options line and body)."""
    return digest(" ".join(line.split()) + "\n" + body.strip())


# -- what this kernel knows ----------------------------------------------------------------


@dataclass
class FileEntry:
    """A recording found in the saved notebook, with where it was."""

    recording: Recording
    cell_id: str | None
    source: str
    ordinal: int  # among the notebook's %%chat cells, in page order


@dataclass
class ReplayState:
    """One notebook's replay state: recordings seen, the saved file's, the next refresh."""

    chat: NotebookChat
    refresh_next: bool = False
    ordinal: int = 0
    recent: dict[str, Recording] = field(default_factory=dict)
    file: dict[str, FileEntry] = field(default_factory=dict)
    file_loose: dict[str, FileEntry] = field(default_factory=dict)
    file_seen: tuple[str, float, int] | None = None

    @property
    def store(self) -> Any:
        store = self.chat.store
        if store is None:
            return None
        from ..store.recordings import RecordingStore

        return RecordingStore(store)

    def load_file(self) -> list[FileEntry]:
        """The recordings in the saved notebook (read again only when the file changed;
        what was found before is kept, so outputs cleared by a Run All are not lost)."""
        from ..context.notebook_file import notebook_path

        path = notebook_path()
        if path is None:
            return list(self.file.values())
        try:
            stat = path.stat()
        except OSError:
            return list(self.file.values())
        seen = (str(path), stat.st_mtime, stat.st_size)
        if seen != self.file_seen:
            self.file_seen = seen
            for entry in read_recordings(path):
                self.file.setdefault(entry.recording.key, entry)
                self.file_loose.setdefault(entry.recording.inputs.loose_key, entry)
        return list(self.file.values())

    def find(self, inputs: Inputs, any_model: bool = False) -> Recording | None:
        """The recording of ``inputs``: here, in the store, in the saved notebook; with
        ``any_model`` (the notebook does not choose its model), one made by any model."""
        found = self._find(inputs.key, exact=True)
        if found is None and any_model:
            found = self._find(inputs.loose_key, exact=False)
        return found

    def _find(self, key: str, exact: bool) -> Recording | None:
        if exact and key in self.recent:
            return self.recent[key]
        if not exact:
            for rec in reversed(list(self.recent.values())):
                if rec.inputs.loose_key == key:
                    return rec
        store = self.store
        if store is not None:
            try:
                found = store.get(key) if exact else store.get_loose(key)
            except ChatError as exc:
                log.warning("jupychat: cannot read recordings: %s", exc)
                found = None
            if found is not None:
                return found
        self.load_file()
        entry = (self.file if exact else self.file_loose).get(key)
        return entry.recording if entry is not None else None

    def earlier(self, cell_id: str | None, source: str, ordinal: int) -> Recording | None:
        """The cell's earlier recording, to say what changed (id, source, position)."""
        entries = self.load_file()
        for rec in reversed(list(self.recent.values())):
            if (cell_id and rec.cell_id == cell_id) or rec.source == source:
                return rec
        store = self.store
        if store is not None:
            try:
                found = store.latest_for(self.chat.notebook, source, cell_id)
            except ChatError:
                found = None
            if found is not None:
                return found
        for test in (
            lambda e: bool(cell_id) and e.cell_id == cell_id,
            lambda e: e.source == source,
            lambda e: e.ordinal == ordinal,
        ):
            match = next((e for e in entries if test(e)), None)
            if match is not None:
                return match.recording
        return None

    def keep(self, recording: Recording, session: Any = None) -> None:
        """Remember ``recording`` here and in the store (a store failure only warns).

        With the turn's ``session``, the store write goes aside when the session
        writes aside (a cell: once the answer is shown), in the turn's own transaction
        (SQLite; PostgreSQL right after it), and is durable when the cell returns.
        """
        self.recent[recording.key] = recording
        store = self.store
        if store is None:
            return
        notebook = self.chat.notebook

        def failed(exc: Exception) -> None:
            log.warning("jupychat: recording not saved: %s", exc)

        def put() -> None:
            try:
                store.put(recording, notebook)
            except ChatError as exc:
                failed(exc)

        if session is None:
            put()
            return
        # in the turn's transaction; PostgreSQL (no statement): its own, after the turn's
        session._write_joined(store.statement(recording, notebook), put, failed)


def state_of(chat: NotebookChat) -> ReplayState:
    """The notebook's replay state (created on first use)."""
    state = chat.__dict__.get("_replay")
    if state is None:
        state = chat.__dict__["_replay"] = ReplayState(chat)
    return state


def read_recordings(path: Any) -> list[FileEntry]:
    """Every well-formed recording in a saved notebook's ``%%chat`` cells (page order).

    A block that is malformed, of another version, or whose answer does not match its
    digest is skipped (logged at debug level): a notebook is untrusted input.
    """
    from ..context.notebook_file import MAX_FILE_BYTES

    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return []
        import nbformat

        with open(path, encoding="utf-8") as handle:
            nb = nbformat.read(handle, as_version=4)
    except Exception as exc:
        log.debug("cannot read recordings from %s: %s", path, exc)
        return []
    out: list[FileEntry] = []
    ordinal = 0
    for cell in nb.get("cells", []):
        parsed = chat_cell(cell)
        if parsed is None:
            continue
        ordinal += 1
        line, body = parsed
        cell_id = cell.get("id") if isinstance(cell.get("id"), str) else None
        for recording in _cell_recordings(cell):
            out.append(FileEntry(recording, cell_id, cell_source_digest(line, body), ordinal))
    return out


def chat_cell(cell: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(options line, body)`` of a saved ``%%chat`` code cell, else None."""
    if cell.get("cell_type") != "code":
        return None
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else str(source)
    first, _, body = source.lstrip().partition("\n")
    if first.split()[:1] != ["%%chat"]:
        return None
    return first.strip()[len("%%chat") :].strip(), body


def _cell_recordings(cell: Mapping[str, Any]) -> list[Recording]:
    found = []
    blocks: list[tuple[Any, Any]] = []
    meta = cell.get("metadata") or {}
    if isinstance(meta, Mapping) and BLOCK_KEY in meta:
        blocks.append((meta[BLOCK_KEY], None))
    for output in cell.get("outputs") or []:
        if not isinstance(output, Mapping):
            continue
        out_meta = output.get("metadata") or {}
        if isinstance(out_meta, Mapping) and BLOCK_KEY in out_meta:
            data = output.get("data") or {}
            shown = data.get("text/plain") if isinstance(data, Mapping) else None
            if isinstance(shown, list):
                shown = "".join(shown)
            blocks.append((out_meta[BLOCK_KEY], shown))
    for block, shown in blocks:
        try:
            found.append(Recording.from_block(block, shown))
        except (ValueError, TypeError) as exc:
            log.debug("skipped a recording: %s", exc)
    return found


# -- one cell's turn -------------------------------------------------------------------


class CellTurn:
    """A ``%%chat`` cell's turn as replay sees it: its inputs, and the recording it hit."""

    def __init__(
        self, chat: NotebookChat, prepared: Prepared, source: str, cell_id: str | None
    ) -> None:
        self.chat = chat
        self.prepared = prepared
        self.state = state_of(chat)
        self._inlined = _inlined(prepared, chat.shell.user_ns)  # the values as sent, now
        self.source = source
        self.cell_id = cell_id
        self.hit: Recording | None = None
        # the cell (-m) or the notebook (%chat model) chose the model: it must match
        self.model_pinned = prepared.ask.model is not None or chat.model_override is not None
        self.state.ordinal += 1
        self.ordinal = self.state.ordinal

    @functools.cached_property
    def inputs(self) -> Inputs:
        """Worked out when first wanted: by :meth:`lookup` in replay mode, else while the
        model thinks (:meth:`while_waiting`) or, failing that, when the answer is kept."""
        return inputs_of(self.prepared, inlined=self._inlined)

    def while_waiting(self) -> None:
        """The turn's ``while_waiting``: its inputs and their keys, while the request is out."""
        inputs = self.inputs
        inputs.key, inputs.loose_key  # noqa: B018 (worked out once, kept on the inputs)

    def lookup(self, mode: str, refresh: bool = False) -> None:
        """Find the recording (sets :attr:`hit`); on a miss, say why, then either go on
        to ask the model (``auto``) or raise a one-line ChatError (``strict``)."""
        if mode == "off" or refresh:
            return
        self.hit = self.state.find(self.inputs, any_model=not self.model_pinned)
        if self.hit is not None:
            return
        why = self.why()
        if mode == "strict":
            raise ChatError(
                f"replay (strict): no recording matches this cell: {why}; "
                "re-ask it with %chat replay refresh (or %chat replay auto)"
            )
        print(f"replay: no recording matches ({why}); asking the model")

    def why(self) -> str:
        earlier = self.state.earlier(self.cell_id, self.source, self.ordinal)
        if earlier is None:
            return "this cell has no recording yet"
        recorded = earlier.inputs
        if not self.model_pinned:  # any model would do: its change is not why it missed
            recorded = replace(recorded, model=self.inputs.model)
        changes = self.inputs.changes(recorded) or ["its recording differs"]
        return " ".join("; ".join(changes).split())[:400]

    def replay(self, view: Any) -> Any:
        """Show the hit as this cell's answer and add it to the session's history."""
        from .engine import Footer, TurnRun, _window_note
        from .events import Finished

        assert self.hit is not None
        run = TurnRun(self.chat, self.prepared, view)
        run.start()
        response = commit_replayed(self.prepared, self.hit)
        recorded = {k: v for k, v in self.hit.footer.items() if k != "window"}
        # the window note is rendered from the answer's meta, as for a live answer
        footer = Footer(**recorded, window=_window_note(response.message), note=REPLAYED)
        run.emit(
            Finished(self.session, run.id, run.source, response, footer, False, self.prepared.cell)
        )
        return response

    @property
    def session(self) -> Any:
        return self.prepared.session

    def recorded(self, event: Finished) -> dict[str, Any] | None:
        """The block for this answer's output metadata; a new answer is kept first."""
        if self.hit is not None:
            recording = self.hit
            if recording.key not in self.state.recent:
                self.state.keep(recording, self.prepared.session)  # from the file: now stored too
        else:
            if event.stopped or event.response.interrupted or event.footer.note:
                return None
            footer: dict[str, Any] = {
                k: getattr(event.footer, k) for k in FOOTER_FIELDS if k != "window"
            }  # the window note is recorded from the answer's meta, below
            window = (event.response.message.meta or {}).get("window")
            if isinstance(window, dict) and window.get("size"):
                footer["window"] = {
                    "size": int(window["size"]),
                    "used": int(window.get("used", 0)),
                    **({"summarised": True} if window.get("summarised") else {}),
                }
            try:
                inputs = self.inputs
            except Exception as exc:  # (worked out after the request) the answer stands
                reason = clean_text(str(exc))  # (no known secret in a log)
                log.warning("jupychat: this answer is not kept for replay: %s", reason)
                return None
            recording = Recording(
                inputs=inputs,
                answer=clean_text(event.response.text),
                footer=footer,
                source=self.source,
                cell_id=self.cell_id,
            )
            self.state.keep(recording, self.prepared.session)
        return {BLOCK_KEY: recording.to_block(recording.answer)}


def ensure_model(chat: NotebookChat) -> None:
    """In replay mode with no model available at all (none named, no key, no embedded
    model), take the saved notebook's recorded model, so its cells can replay: a reader
    needs no model to see recorded answers. Anything else is left alone."""
    if replay_mode() == "off" or chat.model_override or config.resolve("model"):
        return
    from ..providers.registry import default_model

    try:
        default_model()
        return
    except ConfigError:
        pass
    entries = sorted(state_of(chat).load_file(), key=lambda e: e.ordinal)
    if entries:
        config.set_override("model", entries[0].recording.inputs.model)


def begin(
    chat: NotebookChat, prepared: Prepared, line: str, body: str, cell_id: str | None
) -> CellTurn:
    """Start replay's part of a cell's turn: inputs computed, recording looked up."""
    turn = CellTurn(chat, prepared, cell_source_digest(line, body), cell_id)
    state = turn.state
    refresh, state.refresh_next = state.refresh_next, False
    turn.lookup(replay_mode(), refresh=refresh)
    return turn


def commit_replayed(prepared: Prepared, recording: Recording) -> Any:
    """Add the replayed turn to the session (replacing the cell's earlier turn, as a live
    turn would) and return its Response; no request is made."""
    from .._sanitize import clean_message
    from .._turnstate import Response, as_parts
    from ..types import Message, Text, Usage

    session = prepared.session
    opts = prepared.options
    footer = recording.footer
    usage = Usage(
        int(footer.get("input_tokens", 0)),
        int(footer.get("output_tokens", 0)),
        int(footer.get("cached_tokens", 0)),
    )
    meta = {**dict(opts.get("meta") or {}), REPLAYED: True}
    with session._exclusive():
        replace, place = opts.get("replace"), opts.get("place")
        below: list[Message] = []
        if place is not None:  # the cell's place in the notebook, as a live turn would
            from .._turnplace import split_history

            base, below, replaced = split_history(session._history, replace, place)
        elif replace:
            base, replaced = session._without_turns(replace)
        else:
            base, replaced = session.history, 0
        blocks = session._context_blocks(opts.get("context"), base)
        user = Message(role="user", content=tuple(blocks) + as_parts(prepared.content), meta=meta)
        answer = Message(
            role="assistant",
            content=(Text(recording.answer),),
            model=recording.inputs.model,  # who wrote the recorded answer
            usage=usage,
            finish_reason="length" if footer.get("cut") else "stop",
            meta={
                REPLAYED: True,
                "latency": footer.get("latency", 0.0),
                # the footer shows how full the window was when the answer was recorded
                **({"window": dict(footer["window"])} if footer.get("window") else {}),
            },
        )
        messages = [clean_message(user), clean_message(answer)]
        data = None
        if prepared.ask.schema is not None:
            data = _structured(prepared, recording.answer)
        response = Response(
            text=recording.answer,
            message=messages[-1],
            messages=tuple(messages),
            usage=usage,
            finish_reason=answer.finish_reason,
            model=answer.model,
            latency=float(footer.get("latency", 0.0)),
            data=data,
        )
        session._commit(messages, response, base if (replaced or below) else None, below)
    return response


def _structured(prepared: Prepared, text: str) -> Any:
    from ..structured import compile_schema, to_frame

    spec = compile_schema(prepared.ask.schema, as_frame=prepared.ask.as_frame)
    value = spec.parse(text)
    return to_frame(value, spec.columns) if prepared.ask.as_frame else value
