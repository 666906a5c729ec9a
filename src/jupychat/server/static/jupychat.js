// jupychat sessions browser: local times, rename, delete. No framework, no innerHTML:
// everything shown from the server's JSON goes through textContent.
(function () {
  "use strict";
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const api = meta("jupychat-api");
  const home = meta("jupychat-home");

  function flash(text, isError) {
    const box = document.getElementById("jc-flash");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("jc-error", !!isError);
    box.hidden = false;
  }

  async function call(method, path, body) {
    const response = await fetch(api + path, {
      method,
      credentials: "same-origin",
      headers: { "X-XSRFToken": meta("jupychat-xsrf"), "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      let message = `${response.status} ${response.statusText}`;
      try { message = (await response.json()).message || message; } catch (e) { /* not JSON */ }
      throw new Error(message);
    }
    return response.status === 204 ? null : response.json();
  }

  function localTimes() {
    for (const el of document.querySelectorAll("time[datetime]")) {
      const when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) continue;
      el.title = el.textContent;
      el.textContent = when.toLocaleString(undefined, {
        year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit",
      });
    }
  }

  function transcriptActions() {
    const article = document.querySelector(".jc-transcript");
    if (!article) return;
    const path = "sessions/" + article.dataset.quotedId;
    const del = article.querySelector(".jc-delete");
    del.addEventListener("click", async () => {
      if (!window.confirm(`Delete the chat session “${del.dataset.title}”? This cannot be undone.`)) return;
      del.disabled = true;
      try {
        await call("DELETE", path);
        sessionStorage.setItem("jupychat-flash", `Deleted “${del.dataset.title}”.`);
        window.location.assign(home);
      } catch (err) {
        del.disabled = false;
        flash("Could not delete: " + err.message, true);
      }
    });
    const rename = article.querySelector(".jc-rename");
    rename.addEventListener("click", async () => {
      const title = window.prompt("New title (empty: the automatic title)", rename.dataset.title);
      if (title === null) return;
      try {
        const summary = await call("PATCH", path, { title: title.trim() || null });
        const shown = summary.title || "(untitled)";
        document.getElementById("jc-title").textContent = shown;
        document.title = shown + " · jupychat";
        rename.dataset.title = summary.title || "";
        del.dataset.title = shown;
        flash("Renamed.", false);
      } catch (err) {
        flash("Could not rename: " + err.message, true);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const pending = sessionStorage.getItem("jupychat-flash");
    if (pending) {
      sessionStorage.removeItem("jupychat-flash");
      flash(pending, false);
    }
    localTimes();
    transcriptActions();
  });
})();
