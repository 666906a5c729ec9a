"""The two custom widgets of the chat panel: the transcript and the input box.

Design note: both are ``anywidget`` widgets: a few dozen lines of plain ES-module
JavaScript shipped as a string, with no TypeScript build and no lab extension of our own;
they render in JupyterLab, Notebook 7, VS Code and Colab alike. Everything else in the
panel is stock ipywidgets.

- :class:`ChatInput` is a ``<textarea>`` where Enter sends and Shift+Enter adds a line
  (stock ``ipywidgets.Textarea`` cannot tell the two apart: both add a newline). It sends
  ``{"event": "submit", "text": ...}`` to the kernel.
- :class:`ChatView` shows the finished messages (``messages``: a list of small dicts with
  pre-rendered, escaped HTML) and the answer being streamed (``live``), keeps the view
  scrolled to the bottom while the reader is there, and wires each code block's "Copy"
  button to the browser clipboard and "Insert below" to a ``{"event": "insert"}``
  message. When the clipboard is refused (plain-HTTP pages, strict browsers) it sends
  ``{"event": "copy_failed"}`` so the kernel can insert the code instead.

Finished messages change only at turn boundaries, while ``live`` changes up to ~10 times a
second, so a long conversation is not re-sent on every streamed chunk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

from .panel_render import PANEL_CSS

__all__ = ["ChatInput", "ChatView"]

_INPUT_ESM = r"""
function render({ model, el }) {
  el.classList.add("jc-root", "jc-input-root");
  el.setAttribute("data-lm-suppress-shortcuts", "true");
  const ta = document.createElement("textarea");
  ta.className = "jc-input";
  const sync = () => {
    ta.placeholder = model.get("placeholder");
    ta.rows = model.get("rows");
    ta.disabled = model.get("disabled");
    if (ta.value !== model.get("value")) ta.value = model.get("value");
  };
  ta.addEventListener("input", () => {
    model.set("value", ta.value);
    model.save_changes();
  });
  ta.addEventListener("keydown", (event) => {
    // Keep JupyterLab's notebook shortcuts (Shift+Enter runs a cell, "a" adds one...)
    // out of the box; Ctrl/Cmd combinations other than Enter (Ctrl+S...) still work.
    if (!(event.ctrlKey || event.metaKey) || event.key === "Enter") event.stopPropagation();
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      const text = ta.value;
      if (!text.trim()) return;
      model.set("value", text);
      model.save_changes();
      model.send({ event: "submit", text: text });
    }
  });
  model.on("change:value", sync);
  model.on("change:disabled", sync);
  model.on("change:placeholder", sync);
  model.on("msg:custom", (msg) => { if (msg && msg.event === "focus") ta.focus(); });
  sync();
  el.appendChild(ta);
}
export default { render };
"""

_VIEW_ESM = r"""
function fallbackCopy(text) {
  const area = document.createElement("textarea");
  area.value = text;
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.appendChild(area);
  area.select();
  let ok = false;
  try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
  area.remove();
  return ok;
}

function flash(button, label) {
  const old = button.dataset.label || button.textContent;
  button.dataset.label = old;
  button.textContent = label;
  setTimeout(() => { button.textContent = old; }, 1200);
}

function messageNode(m) {
  const div = document.createElement("div");
  div.className = "jc-msg jc-" + m.role;
  div.dataset.id = m.id;
  if (m.label) {
    const label = document.createElement("div");
    label.className = "jc-label";
    label.textContent = m.label;
    div.appendChild(label);
  }
  const body = document.createElement("div");
  body.className = "jc-body";
  if (m.role === "error" || m.role === "note") body.textContent = m.text || "";
  else body.innerHTML = m.html || "";
  if (m.role === "error") div.title = m.text || "";
  div.appendChild(body);
  if (m.footer) {
    const foot = document.createElement("div");
    foot.className = "jc-footer";
    foot.textContent = m.footer;
    div.appendChild(foot);
  }
  return div;
}

function render({ model, el }) {
  el.classList.add("jc-root", "jc-view");
  const scroller = document.createElement("div");
  scroller.className = "jc-scroll";
  const list = document.createElement("div");
  list.className = "jc-list";
  const live = document.createElement("div");
  live.className = "jc-live-holder";
  scroller.append(list, live);
  el.appendChild(scroller);

  let stick = true;
  scroller.addEventListener("scroll", () => {
    stick = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
  });
  const toBottom = () => { if (stick) scroller.scrollTop = scroller.scrollHeight; };
  const sizes = () => {
    scroller.style.height = model.get("height") || "";
    scroller.style.maxHeight = model.get("max_height") || "";
  };
  const flags = () => {
    el.classList.toggle("jc-no-insert", !model.get("can_insert"));
  };
  const renderList = () => {
    const messages = model.get("messages") || [];
    if (!messages.length && !(model.get("live") || {}).id) {
      const empty = document.createElement("div");
      empty.className = "jc-empty";
      empty.textContent = model.get("empty_text") || "";
      list.replaceChildren(empty);
    } else {
      list.replaceChildren(...messages.map(messageNode));
    }
    toBottom();
  };
  const renderLive = () => {
    const m = model.get("live") || {};
    if (!m.id) { live.replaceChildren(); renderList(); return; }
    const node = messageNode(m);
    if (m.streaming) node.querySelector(".jc-body").classList.add("jc-cursor");
    live.replaceChildren(node);
    if (list.querySelector(".jc-empty")) list.replaceChildren();
    toBottom();
  };

  el.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-jc-action]");
    if (!button || !el.contains(button)) return;
    const block = button.closest(".jc-codeblock");
    const message = button.closest(".jc-msg");
    if (!block || !message) return;
    const index = Number(block.dataset.index);
    const id = message.dataset.id;
    if (button.dataset.jcAction === "insert") {
      model.send({ event: "insert", id: id, index: index });
      flash(button, "Inserted");
      return;
    }
    const code = block.querySelector("pre code");
    const text = code ? code.innerText.replace(/\n$/, "") : "";
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch (e) { ok = false; }
    if (!ok) ok = fallbackCopy(text);
    if (ok) { flash(button, "Copied"); model.send({ event: "copied", id: id, index: index }); }
    else { model.send({ event: "copy_failed", id: id, index: index }); flash(button, "Inserted"); }
  });

  // "Insert below": the kernel has just asked JupyterLab for a new cell; tell it when the
  // new cell's editor exists, so the code is not typed into an editor not yet there.
  model.on("msg:custom", (msg) => {
    if (!msg || msg.event !== "await_editor") return;
    const started = Date.now();
    const poll = () => {
      const editor = document.querySelector(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell.jp-mod-active .cm-content");
      const waited = Date.now() - started;
      if (editor || waited > 3000) {
        requestAnimationFrame(() => model.send(
          { event: "editor_ready", token: msg.token, found: !!editor }));
      } else {
        setTimeout(poll, 30);
      }
    };
    poll();
  });

  model.on("change:messages", renderList);
  model.on("change:live", renderLive);
  model.on("change:can_insert", flags);
  model.on("change:height", sizes);
  model.on("change:max_height", sizes);
  model.on("change:empty_text", renderList);
  sizes();
  flags();
  renderList();
  renderLive();
}
export default { render };
"""


class _Messages(anywidget.AnyWidget):
    """Shared plumbing: route ``{"event": ...}`` messages from the front end to handlers."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._handlers: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        self.on_msg(self._receive)

    def on(self, event: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        """Call ``handler(message)`` when the front end sends ``{"event": event, ...}``."""
        self._handlers.setdefault(event, []).append(handler)

    def _receive(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict):
            self.dispatch(content)

    def dispatch(self, content: dict[str, Any]) -> None:
        """Handle one front-end message (also what the Python-side tests call)."""
        for handler in self._handlers.get(str(content.get("event")), []):
            handler(content)


class ChatInput(_Messages):
    """A text box where Enter sends and Shift+Enter adds a line."""

    _esm = _INPUT_ESM
    _css = PANEL_CSS
    value = traitlets.Unicode("").tag(sync=True)
    placeholder = traitlets.Unicode("").tag(sync=True)
    rows = traitlets.Int(3).tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)

    def focus(self) -> None:
        """Put the keyboard focus in the box."""
        self.send({"event": "focus"})


class ChatView(_Messages):
    """The conversation: finished ``messages`` plus the ``live`` (streaming) answer.

    Each message is ``{"id", "role", "html" | "text", "label", "footer"}`` where ``role``
    is ``user``, ``assistant``, ``error`` or ``note``; ``html`` must already be safe.
    """

    _esm = _VIEW_ESM
    _css = PANEL_CSS
    messages = traitlets.List(traitlets.Dict()).tag(sync=True)
    live = traitlets.Dict().tag(sync=True)
    can_insert = traitlets.Bool(False).tag(sync=True)
    height = traitlets.Unicode("").tag(sync=True)
    max_height = traitlets.Unicode("").tag(sync=True)
    empty_text = traitlets.Unicode("").tag(sync=True)
