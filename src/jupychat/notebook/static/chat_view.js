// The chat panel's transcript: finished messages, the live answer, code-block actions
// (anywidget ES module; the HTML it shows was rendered and escaped in the kernel).
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

  // Where the transcript was scrolled to, kept on the widget model in the page (never sent
  // to the kernel): a view drawn again (the panel opened again, moved, its tab re-shown)
  // starts where the reader left it: at the newest message unless they had scrolled up.
  const saved = model.get("_jc_scroll") || { stick: true, top: 0 };
  let stick = saved.stick;
  let restored = saved.stick; // a reader's place is put back once, when the view has a size
  // Only the reader unsticks the transcript: a scroll event that layout causes (the panel
  // resized, content drawn, the browser clamping scrollTop) must not, or a panel laid out
  // in steps would stop short of the newest message.
  let readerAt = 0;
  for (const kind of ["wheel", "touchmove", "keydown", "pointerdown"]) {
    scroller.addEventListener(kind, () => { readerAt = performance.now(); }, { passive: true });
  }
  scroller.addEventListener("scroll", () => {
    if (!scroller.clientHeight || !restored) return; // hidden, detached or not laid out yet
    const atEnd = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 48;
    if (atEnd || performance.now() - readerAt < 1000) stick = atEnd;
    model.set("_jc_scroll", { stick: stick, top: scroller.scrollTop });
  });
  const toBottom = () => { if (stick) scroller.scrollTop = scroller.scrollHeight; };
  // sizes change after render (attached later, tab shown, fonts, the panel resized):
  // keep the newest message in view, or put the reader's place back
  const sizer = new ResizeObserver(() => {
    if (!scroller.clientHeight) return;
    if (!restored) {
      scroller.scrollTop = saved.top;
      restored = true;
    }
    toBottom();
  });
  sizer.observe(scroller);
  sizer.observe(list);
  fitSideArea(el);
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
    if (button.dataset.jcAction === "replace") {
      const entry = (model.get("messages") || []).find((m) => m.id === id) || {};
      const done = entry.target && replaceCellCode(entry.target.code, text);
      model.send({ event: done ? "replaced" : "replace_failed", id: id, index: index });
      flash(button, done ? "Replaced" : "Not found");
      return;
    }
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
