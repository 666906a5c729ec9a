// The chat panel's input box: Enter sends, Shift+Enter adds a line (anywidget ES module).
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
