// The chat panel in JupyterLab's right side area: take a fair share of a wide window, and
// come back at the width the user last dragged the area to (kept in localStorage).
// The width is JupyterLab's (a Lumino split panel); it is changed the way a user does it,
// by dragging the split handle, so JupyterLab's own layout (and its saved workspace) agree.
const JC_SIDE_KEY = "jupychat:side-width";
const JC_SIDE_DEFAULT = 0.22; // of the window, when the user has not chosen a width
const JC_SIDE_MAX = 480; // px, the default's cap
const JC_SIDE_LIMIT = 0.6; // of the window: never more, even when remembered

function jcSideHandle(stack) {
  // the split handle just left of the side area (a sibling of the area or of a box
  // holding it: JupyterLab puts the stack and its tab bar in one box)
  const left = stack.getBoundingClientRect().left;
  for (let node = stack; node && node.parentElement; node = node.parentElement) {
    let best = null;
    let distance = Infinity;
    for (const sibling of node.parentElement.children) {
      if (!sibling.classList.contains("lm-SplitPanel-handle")) continue;
      const r = sibling.getBoundingClientRect();
      if (!r.height) continue;
      const d = Math.abs(r.right - left);
      if (d < distance) { best = sibling; distance = d; }
    }
    if (best && distance <= 40) return best;
    if (node.id === "jp-main-split-panel" || node === document.body) break;
  }
  return null;
}

function jcDrag(handle, dx) {
  const r = handle.getBoundingClientRect();
  const y = r.top + r.height / 2;
  const x = r.left + r.width / 2;
  const at = (cx, buttons) => ({ bubbles: true, cancelable: true, composed: true, button: 0,
    buttons: buttons, clientX: cx, clientY: y, pointerId: 1, isPrimary: true,
    pointerType: "mouse" });
  handle.dispatchEvent(new PointerEvent("pointerdown", at(x, 1)));
  document.dispatchEvent(new PointerEvent("pointermove", at(x + dx, 1)));
  document.dispatchEvent(new PointerEvent("pointerup", at(x + dx, 0)));
}

function jcWatchDrags() {
  // remember a width the *user* chose (trusted events on the side area's handle only)
  if (window.__jupychatSideWatch) return;
  window.__jupychatSideWatch = true;
  let dragging = false;
  document.addEventListener("pointerdown", (event) => {
    const stack = document.getElementById("jp-right-stack");
    const handle = event.target && event.target.closest
      ? event.target.closest(".lm-SplitPanel-handle") : null;
    dragging = !!(event.isTrusted && stack && handle && jcSideHandle(stack) === handle);
  }, true);
  document.addEventListener("pointerup", (event) => {
    if (!dragging || !event.isTrusted) return;
    dragging = false;
    requestAnimationFrame(() => {
      const stack = document.getElementById("jp-right-stack");
      const width = stack ? Math.round(stack.getBoundingClientRect().width) : 0;
      if (width > 0) {
        try { localStorage.setItem(JC_SIDE_KEY, String(width)); } catch (e) { /* private mode */ }
      }
    });
  }, true);
}

function jcRemembered() {
  try { return Number(localStorage.getItem(JC_SIDE_KEY)) || 0; } catch (e) { return 0; }
}

// Size the side area once `el` shows in it (nothing happens for an inline panel).
function fitSideArea(el) {
  let done = false;
  const observer = new ResizeObserver(() => {
    if (done || !el.isConnected) return;
    const stack = el.closest("#jp-right-stack");
    if (!stack) { done = true; observer.disconnect(); return; }
    const width = stack.getBoundingClientRect().width;
    if (!width) return; // hidden tab: wait until it is shown
    done = true;
    observer.disconnect();
    jcWatchDrags();
    const remembered = jcRemembered();
    const fair = Math.min(Math.round(window.innerWidth * JC_SIDE_DEFAULT), JC_SIDE_MAX);
    let target = remembered || fair;
    target = Math.min(target, Math.round(window.innerWidth * JC_SIDE_LIMIT));
    if (!remembered && target <= width) return; // the default only ever widens
    if (Math.abs(target - width) < 3) return;
    const handle = jcSideHandle(stack);
    if (handle) jcDrag(handle, width - target); // left widens the right-hand area
  });
  observer.observe(el);
}
