// jupychat sessions browser: local times, rename, delete, share. No framework, no innerHTML:
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

  function shareActions(article, path) {
    const panel = article.querySelector(".jc-share");
    if (!panel) return;
    const list = panel.querySelector(".jc-share-list");
    const link = panel.querySelector(".jc-share-link");
    link.textContent = window.location.origin + link.dataset.path;
    function show(names) {
      list.replaceChildren();
      for (const name of names) {
        const item = document.createElement("li");
        item.dataset.user = name;
        const label = document.createElement("span");
        label.textContent = name === "*" ? "everyone on the hub" : name;
        const revoke = document.createElement("button");
        revoke.type = "button";
        revoke.className = "jc-unshare";
        revoke.textContent = "Revoke";
        item.append(label, " ", revoke);
        list.append(item);
      }
    }
    list.addEventListener("click", async (event) => {
      const button = event.target.closest(".jc-unshare");
      if (!button) return;
      const name = button.closest("li").dataset.user;
      try {
        const answer = await call("DELETE", `${path}/shares?user=${encodeURIComponent(name)}`);
        show(answer.shared_with);
        flash(`Revoked ${name === "*" ? "everyone" : name}.`, false);
      } catch (err) {
        flash("Could not revoke: " + err.message, true);
      }
    });
    panel.querySelector(".jc-share-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const form = event.target;
      const users = form.users.value.split(/[\s,]+/).filter(Boolean);
      const body = { users, everyone: form.everyone.checked };
      try {
        const answer = await call("POST", `${path}/shares`, body);
        show(answer.shared_with);
        form.reset();
        flash("Shared read-only. Send them the link above.", false);
      } catch (err) {
        flash("Could not share: " + err.message, true);
      }
    });
  }

  function transcriptActions() {
    const article = document.querySelector(".jc-transcript");
    if (!article) return;
    const path = "sessions/" + article.dataset.quotedId;
    shareActions(article, path);
    const del = article.querySelector(".jc-delete");
    if (!del) return; // a session shared with you: read-only
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
