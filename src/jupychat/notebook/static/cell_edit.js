// Replacing a notebook cell's code from a widget, as a normal edit of that cell's editor
// (so Ctrl+Z in the cell brings the old code back). Shared by the chat panel's transcript and
// the "%chat fix" bar: their modules are this file followed by their own.
//
// The kernel does not know where a cell sits in the page, only its code; the cell is found
// by its text among the open notebooks' code cells (JupyterLab and Notebook 7 render the
// same CodeMirror 6 editors). Nothing here runs code: it edits text the user can see.

function cellText(content) {
  return [...content.querySelectorAll(".cm-line")].map((line) => line.textContent).join("\n");
}

function sameCode(a, b) {
  const norm = (s) => (s || "").replace(/\r\n?/g, "\n").replace(/\s+$/, "");
  return norm(a) === norm(b);
}

function findCellEditor(code) {
  const visible = document.querySelectorAll(
    ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .cm-content");
  const editors = visible.length ? visible : document.querySelectorAll(".jp-CodeCell .cm-content");
  const matches = [...editors].filter((content) => sameCode(cellText(content), code));
  return matches.length ? matches[matches.length - 1] : null;
}

function replaceCellCode(oldCode, newCode) {
  const content = findCellEditor(oldCode);
  if (!content) return false;
  content.focus();
  document.execCommand("selectAll");
  // an input event CodeMirror turns into one undoable change of that cell
  return document.execCommand("insertText", false, newCode) && sameCode(cellText(content), newCode);
}
