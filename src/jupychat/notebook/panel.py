"""The chat panel: a sidebar (or inline) widget bound to the notebook's chat session.

Design note: the panel is a *view* of :class:`~jupychat.notebook.binding.NotebookChat`.
It draws every turn from the chat's events (:mod:`.events`: ``Started``, ``Status``,
``Delta``, ``Finished``, ``Failed``, ``SessionChanged``), whoever ran it: a ``%%chat``
cell, this panel, or ``%chat error``. Its own turns produce the same events (with
``source="panel"``), so other listeners see them too.

A panel turn runs through the notebook's one turn engine
(:meth:`~jupychat.notebook.binding.NotebookChat.aask`) on a background thread, so the kernel
stays free to handle widget messages: the Stop button, the pickers, even other cells.
Stop calls :meth:`~jupychat.notebook.binding.NotebookChat.stop`, which ends the answer at
once and keeps what arrived.

Widget updates from that thread are plain trait changes (sent as comm messages through
ipykernel's thread-safe IOPub channel); no ``Output`` capture is used anywhere. The
transcript itself (entries, the live answer, throttling) is drawn by
:class:`~.panel_transcript.Transcript` and the widgets are built by :mod:`.panel_build`;
this module is the controller: wiring, actions, pickers and the worker thread.

One panel per ``NotebookChat``: opening it again reuses it (see :func:`open_panel` and
:mod:`.panel_place` for where it goes).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from typing import Any

from jupychat.errors import ChatError

from .engine import Ask, Prepared
from .events import Finished, NotebookEvent, SessionChanged, Started, Status
from .panel_build import build_widgets
from .panel_layout import session_label, show_model
from .panel_place import Frontend, frontend, may_answer
from .panel_transcript import one_line

__all__ = ["ChatPanel", "close_panel", "get_panel", "open_panel"]

log = logging.getLogger("jupychat")

INSERT_TIMEOUT = 5.0  # seconds to wait for a new cell's editor before typing into it anyway
MAX_VARIABLES = 300


class ChatPanel:
    """The chat panel of one :class:`~jupychat.notebook.binding.NotebookChat`.

    Parameters
    ----------
    chat:
        The notebook's sessions and event bus.
    interval:
        Seconds between two updates of a streaming answer.

    Attributes
    ----------
    widget:
        The root ipywidget (display it, or let :func:`open_panel` place it).

    The other widgets are built by :func:`~.panel_build.build_widgets`.
    """

    # the widgets build_widgets sets (ipywidgets, or anywidgets from .panel_widgets)
    session_picker: Any
    new_button: Any
    model_picker: Any
    model_line: Any
    view: Any
    transcript: Any
    status: Any
    input: Any
    send_button: Any
    stop_button: Any
    continue_button: Any
    vars_picker: Any
    vars_refresh: Any
    vars_label: Any
    export_path: Any
    export_button: Any
    extras: Any
    widget: Any

    def __init__(self, chat: Any, *, interval: float = 0.1, front: Frontend | None = None) -> None:
        build_widgets(self, interval)

        self.chat = chat
        self.shell = chat.shell
        self.interval = interval
        self.front = front or frontend()
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self._session: Any = None
        self._worker_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._inserts: dict[Any, str] = {}
        self._quiet = False  # set while the kernel updates pickers (ignore their events)
        self._closed = False
        self.sidecar: Any = None
        self.holder: Any = None

        # -- wiring -----------------------------------------------------------------
        self.input.on("submit", lambda msg: self.send(str(msg.get("text", ""))))
        self.send_button.on_click(lambda _b: self.send(self.input.value))
        self.stop_button.on_click(lambda _b: self.stop())
        self.continue_button.on_click(lambda _b: self.continue_answer())
        self.new_button.on_click(lambda _b: self.new_session())
        self.session_picker.observe(self._on_pick_session, names="value")
        self.model_picker.observe(self._on_pick_model, names="value")
        self.vars_refresh.on_click(lambda _b: self.refresh_variables())
        self.vars_picker.observe(self._on_pick_vars, names="value")
        self.export_button.on_click(lambda _b: self.export(self.export_path.value))
        self.view.on("insert", self._on_insert)
        self.view.on("copy_failed", self._on_insert)
        self.view.on("replaced", lambda _m: self._set_status("cell replaced (Ctrl+Z undoes it)"))
        self.view.on(
            "replace_failed",
            lambda _m: self._set_status(
                "that cell is not open in this window: use Insert below", error=True
            ),
        )
        self.view.on("editor_ready", lambda msg: self._fill_cell(msg.get("token")))
        self._unsubscribe: Callable[[], None] = chat.subscribe(self._on_event)
        events = getattr(self.shell, "events", None)
        if events is not None:
            events.register("post_run_cell", self._post_run_cell)

        if may_answer(self.shell):  # no ipylab model where no Jupyter front end can load it
            self.front.when_known(self._on_frontend)
        self.show_session(chat.session(switch=False))
        self.refresh_variables()

    # -- public actions -------------------------------------------------------------------
    @property
    def session(self) -> Any:
        """The session the panel shows (and sends to)."""
        return self._session

    @property
    def busy(self) -> bool:
        """True while a panel turn is running."""
        thread = self._worker_thread
        return thread is not None and thread.is_alive()

    def send(self, text: str) -> threading.Thread | None:
        """Ask ``text`` in the background; returns the worker thread (``None`` if refused)."""
        text = text or ""
        if not text.strip():
            return None
        if self.busy:
            self._set_status("still answering; press Stop first", error=True)
            return None
        names = [n for n in self.vars_picker.value if n in self.shell.user_ns]
        try:
            # in the kernel's main thread: the variables are described before the worker runs
            prepared = self.chat.prepare(Ask(text, source="panel", context=names))
        except ChatError as exc:
            self._set_status(one_line(exc), error=True)
            return None
        except Exception as exc:  # a broken describer must not break the panel
            self._set_status(one_line(f"{type(exc).__name__}: {exc}"), error=True)
            return None
        if self._session is None or prepared.session.id != self._session.id:
            self.show_session(prepared.session)
        self.input.value = ""
        return self._start(prepared)

    def continue_answer(self) -> threading.Thread | None:
        """Continue the last answer, cut at max tokens, in the background (like Send)."""
        from .._compaction import CONTINUE_PROMPT

        if self.busy or self._session is None:
            return None
        ask = Ask(CONTINUE_PROMPT, source="continue", expand=False)
        return self._start(Prepared(ask, self._session, CONTINUE_PROMPT, {"continue_answer": True}))

    def _start(self, prepared: Any) -> threading.Thread:
        self._set_status("")
        self._set_running(True)
        self._stopping.clear()
        thread = threading.Thread(
            target=self._worker, args=(prepared,), name="jupychat-panel-turn", daemon=True
        )
        self._worker_thread = thread
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop the running answer (the panel's or a cell's), keeping what arrived."""
        if not (self.busy or self.chat.busy):
            return
        self._stopping.set()
        self.chat.stop()
        self._set_status("stopping…")

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running panel turn to end; True when none is running."""
        thread = self._worker_thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def new_session(self) -> Any:
        """Start a fresh session for this notebook (the old one stays in the store)."""
        if self.busy:
            self._set_status("still answering; press Stop first", error=True)
            return None
        try:
            return self.chat.new_session(self.chat.current_name)
        except ChatError as exc:
            self._set_status(one_line(exc), error=True)
            return None

    def use(self, session_id: str) -> Any:
        """Switch the notebook to the stored session ``session_id``."""
        if self.busy:
            self._set_status("still answering; press Stop first", error=True)
            self._refresh_sessions()
            return None
        try:
            return self.chat.use(session_id)
        except ChatError as exc:
            self._set_status(one_line(exc), error=True)
            self._refresh_sessions()
            return None

    def switch_model(self, model: str) -> bool:
        """Use ``model`` for this session from the next turn on (and for new sessions)."""
        model = (model or "").strip()
        session = self._session
        if not model or session is None or model == session.model_id:
            return False
        try:
            session.switch_model(model)
        except ChatError as exc:
            self._set_status(one_line(exc), error=True)
            self._refresh_model()
            return False
        self.chat.model_override = model
        self._set_status(f"model: {session.model_id}")
        self.chat.emit(SessionChanged(session))
        return True

    def export(self, path: str) -> Any:
        """Export the shown session to ``path`` (.md, .json or .ipynb); returns the path."""
        from .namespace import export_session

        if not (path or "").strip():
            self._set_status("type a path ending in .md, .json or .ipynb first", error=True)
            return None
        try:
            target = export_session(self._session, path.strip(), self.chat.store)
        except ChatError as exc:
            self._set_status(one_line(exc), error=True)
            return None
        except OSError as exc:
            self._set_status(one_line(f"cannot write {path}: {exc.strerror or exc}"), error=True)
            return None
        self._set_status(f"exported to {target}")
        return target

    def refresh_variables(self) -> None:
        """Re-read the notebook's variables into the context picker (keeps the selection)."""
        from .namespace import variable_lines

        lines = variable_lines(self.shell, limit=MAX_VARIABLES)
        with self._lock:
            selected = [n for n in self.vars_picker.value if n in lines]
            options = [(f"{name} — {line}" if line else name, name) for name, line in lines.items()]
            self._quiet = True
            try:
                self.vars_picker.options = options
                self.vars_picker.value = tuple(selected)
            finally:
                self._quiet = False
        self._title_vars()

    def insert_code(self, message_id: str, index: int) -> bool:
        """Put code block ``index`` of message ``message_id`` into a new cell below.

        The cell is created at once; its text follows when the front end reports that the
        cell's editor exists (``editor_ready``), or after ``INSERT_TIMEOUT`` seconds.
        """
        code = self.code_of(message_id, index)
        if code is None:
            return False
        if not self.front.execute("notebook:insert-cell-below"):
            self._set_status(
                "cannot insert cells from here (needs JupyterLab with ipylab); use Copy",
                error=True,
            )
            return False
        token = next(self._ids)
        self._inserts[token] = code
        timer = threading.Timer(INSERT_TIMEOUT, self._fill_cell, args=(token,))
        timer.daemon = True
        timer.start()
        self.view.send({"event": "await_editor", "token": token})
        return True

    def _fill_cell(self, token: Any) -> None:
        code = self._inserts.pop(token, None)  # the first view (or the timer) to answer wins
        if code is not None and not self._closed:
            self.front.execute("notebook:replace-selection", {"text": code})
            self._set_status("code inserted below the active cell")

    def code_of(self, message_id: str, index: int) -> str | None:
        """The source of code block ``index`` in message ``message_id``."""
        return self.transcript.code_of(message_id, index)

    def close(self) -> None:
        """Stop listening, stop a running answer and close the widgets."""
        self.stop()
        self._closed = True
        self._unsubscribe()
        events = getattr(self.shell, "events", None)
        if events is not None:
            try:
                events.unregister("post_run_cell", self._post_run_cell)
            except ValueError:
                pass
        self.transcript.close()
        if self.sidecar is not None:
            self.sidecar.close()
            self.sidecar = None
        _close_tree(self.widget)
        from .panel_open import forget

        forget(self)

    # -- showing a session -------------------------------------------------------------------
    def show_session(self, session: Any) -> None:
        """Show ``session``'s conversation (on every ``SessionChanged``)."""
        with self._lock:
            self._session = session
            self.transcript.show(session)
        self._refresh_model()
        self._refresh_sessions()

    # -- events from the chat --------------------------------------------------------------
    def _shown(self, session: Any) -> bool:
        return session is not None and self._session is not None and session.id == self._session.id

    def _on_event(self, event: NotebookEvent) -> None:
        if self._closed:
            return
        with self._lock:
            if isinstance(event, SessionChanged):
                self.show_session(event.session)
                return
            if not self._shown(event.session):
                return
            if isinstance(event, Status):
                self._set_status(event.text)
                return
            self.transcript.on_event(event)
            if isinstance(event, Started) and event.source == "panel" and self._stopping.is_set():
                self.chat.stop()  # Stop was pressed before the turn had started
            elif isinstance(event, Finished):
                if event.source == "continue":  # the answer grew: show it as stored
                    self.show_session(event.session)
                self._refresh_sessions()

    # -- the worker --------------------------------------------------------------------------
    def _worker(self, prepared: Any) -> None:
        try:
            asyncio.run(self.chat.aask(prepared))
        except BaseException as exc:  # never let the thread die silently
            log.exception("jupychat panel turn crashed")
            self._set_status(one_line(f"{type(exc).__name__}: {exc}"), error=True)
        finally:
            self._set_running(False)
            if not self._closed and self._stopping.is_set():
                self._set_status("stopped")

    # -- widget callbacks -------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        self.send_button.disabled = running
        self.stop_button.disabled = not running
        self.continue_button.disabled = running or not _cut(self._session)
        self.new_button.disabled = running
        self.session_picker.disabled = running

    def _set_status(self, text: str, error: bool = False) -> None:
        if self._closed:
            return
        import html

        body = html.escape(one_line(text)) if text else ""
        colour = "var(--jp-error-color1, #c62828)" if error else "var(--jp-ui-font-color2, #666)"
        self.status.value = (
            f'<div class="jc-status" style="color:{colour};font-size:0.85em;'
            f'overflow-wrap:anywhere;line-height:1.3" '
            f'title="{body}">{body}</div>'
            if body
            else ""
        )

    def _refresh_model(self) -> None:
        session = self._session
        if session is None:
            return
        from jupychat import config

        current = session.model_id
        configured = config.resolve("model")
        choices = [current]
        from jupychat.catalog import suggested

        for name in (configured, *suggested()):
            if name and name not in choices:
                choices.append(str(name))
        self._quiet = True
        try:
            self.model_picker.options = choices
            self.model_picker.value = current
            show_model(self, current)
        finally:
            self._quiet = False

    def _refresh_sessions(self) -> None:
        session = self._session
        if session is None:
            return
        rows: list[tuple[str, str]] = []
        store = self.chat.store
        items: list[dict[str, Any]] = []
        if store is not None:
            try:
                items = store.sessions(limit=25, notebook=self.chat.notebook)
            except ChatError as exc:
                self._set_status(one_line(exc), error=True)
        seen = set()
        for item in items:
            seen.add(item["id"])
            rows.append((session_label(item), item["id"]))
        if session.id not in seen:
            rows.insert(
                0,
                (
                    session_label(
                        {
                            "title": session.title,
                            "message_count": len(session),
                            "updated_at": session.updated_at,
                        }
                    ),
                    session.id,
                ),
            )
        self._quiet = True
        try:
            self.session_picker.options = rows
            self.session_picker.value = session.id
            self.session_picker.tooltip = {v: k for k, v in rows}.get(session.id, "")
        finally:
            self._quiet = False

    def _on_pick_session(self, change: Any) -> None:
        if self._quiet or not change.get("new"):
            return
        if self._session is not None and change["new"] == self._session.id:
            return
        self.use(change["new"])

    def _on_pick_model(self, change: Any) -> None:
        if self._quiet:
            return
        self.switch_model(str(change.get("new") or ""))

    def _on_pick_vars(self, change: Any) -> None:
        if not self._quiet:
            self._title_vars()

    def _title_vars(self) -> None:
        count = len(self.vars_picker.value)
        self.extras.set_title(
            0, f"Context variables ({count} attached)" if count else "Context variables"
        )

    def _on_insert(self, message: dict[str, Any]) -> None:
        try:
            index = int(message.get("index", -1))
        except (TypeError, ValueError):
            return
        self.insert_code(str(message.get("id", "")), index)

    def _on_frontend(self, kind: str) -> None:
        self.view.can_insert = self.front.can_run_commands

    def _post_run_cell(self, *_args: Any) -> None:
        if not self._closed:
            try:
                self.refresh_variables()
            except Exception:  # never disturb the user's cell
                log.debug("jupychat: variable refresh failed", exc_info=True)


def _close_tree(widget: Any) -> None:
    """Close ``widget`` and every widget inside it (accordions, boxes)."""
    for child in getattr(widget, "children", ()) or ():
        _close_tree(child)
    widget.close()


# opening and closing the one panel of a notebook (re-exported here)
from .panel_open import close_panel, get_panel, open_panel  # noqa: E402


def _cut(session: Any) -> bool:
    """True when the session's last answer was cut at max tokens (it can be continued)."""
    history = session.history if session is not None else []
    last = next((m for m in reversed(history) if m.role != "system"), None)
    return last is not None and last.role == "assistant" and last.finish_reason == "length"
