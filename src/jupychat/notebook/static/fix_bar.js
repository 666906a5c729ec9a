// The bar under a "%chat fix" answer: replace the failing cell's code with the fix (an
// ordinary, undoable edit of that cell), or copy the fix. Needs cell_edit.js before it.
function render({ model, el }) {
  el.classList.add("jc-root", "jc-fixbar");
  const replace = document.createElement("button");
  replace.type = "button";
  replace.className = "jc-action jc-replace";
  const copy = document.createElement("button");
  copy.type = "button";
  copy.className = "jc-action";
  copy.textContent = "Copy the fix";
  const note = document.createElement("span");
  note.className = "jc-fixnote";
  const show = () => {
    replace.textContent = "Replace " + (model.get("label") || "the cell") + " with the fix";
    replace.title = "Ctrl+Z in that cell brings the old code back";
    note.textContent = model.get("status") || "";
  };
  replace.addEventListener("click", () => {
    const done = replaceCellCode(model.get("target"), model.get("code"));
    model.set("status", done ? "replaced (Ctrl+Z in the cell undoes it)"
      : "that cell was not found as it ran (edited since?): copy the fix instead");
    model.save_changes();
    model.send({ event: done ? "replaced" : "replace_failed" });
  });
  copy.addEventListener("click", async () => {
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(model.get("code"));
        ok = true;
      }
    } catch (e) { ok = false; }
    model.set("status", ok ? "copied" : "the browser refused the clipboard");
    model.save_changes();
  });
  model.on("change:status", show);
  model.on("change:label", show);
  show();
  el.append(replace, copy, note);
}
export default { render };
