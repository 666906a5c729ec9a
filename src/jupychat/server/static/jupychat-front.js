// jupychat sessions browser: follow the Jupyter front end that opened the page.
// - Theme: the opening JupyterLab/Notebook window's own theme when it is ours (same
//   origin), else the theme in the user's Jupyter settings, else the system setting.
//   The last answer is kept so the next page paints in the right colours at once.
// - The "back" link: the front end that opened the page (JupyterLab or Notebook 7),
//   kept for the tab so pages reached from the list link back to the same place.
// Loaded before the page is drawn (not deferred); it only reads, never runs what it finds.
(function () {
  "use strict";
  const root = document.documentElement;
  const meta = (name) => (document.querySelector(`meta[name="${name}"]`) || {}).content || "";
  const THEME_KEY = "jupychat:theme";
  const FRONT_KEY = "jupychat:front";
  const store = (area, key, value) => { try { area.setItem(key, value); } catch (e) { /* off */ } };
  const read = (area, key) => { try { return area.getItem(key); } catch (e) { return null; } };

  function setTheme(dark, remember) {
    root.dataset.theme = dark ? "dark" : "light";
    if (remember) store(localStorage, THEME_KEY, root.dataset.theme);
  }

  function openerBody() {
    try {
      const body = window.opener && window.opener.document && window.opener.document.body;
      return body && body.dataset ? body : null; // null when another origin opened us
    } catch (e) { return null; }
  }

  function isDarkName(name) { return /dark/i.test(String(name || "")); }

  async function themeFromSettings() {
    const base = meta("jupychat-base") || "/";
    const url = base + "lab/api/settings/@jupyterlab/apputils-extension:themes";
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return null;
    const data = await response.json();
    const user = data.settings || {};
    const props = (data.schema && data.schema.properties) || {};
    const pick = (key) => (key in user ? user[key] : (props[key] || {}).default);
    if (pick("adaptive-theme")) {
      const dark = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)").matches;
      return isDarkName(pick(dark ? "preferred-dark-theme" : "preferred-light-theme")) || dark;
    }
    return isDarkName(pick("theme"));
  }

  // 1. paint with the last known theme, 2. the opener's exact theme, 3. the settings
  const last = read(localStorage, THEME_KEY);
  if (last === "dark" || last === "light") root.dataset.theme = last;
  const body = openerBody();
  if (body && body.dataset.jpThemeLight) {
    setTheme(body.dataset.jpThemeLight === "false", true);
  } else {
    themeFromSettings().then((dark) => { if (dark !== null) setTheme(dark, true); })
      .catch(() => { /* no Jupyter settings here: the system setting decides */ });
  }

  const FRONTS = {
    lab: { name: "JupyterLab", path: "lab" },
    notebook: { name: "Jupyter Notebook", path: "tree" },
  };
  const SEGMENTS = { lab: "lab", tree: "notebook", notebooks: "notebook", edit: "notebook",
    consoles: "notebook", terminals: "notebook" };

  function frontFrom(href) {
    // "lab" or "notebook" for a page of this server's front ends, else null
    let url;
    try { url = new URL(href, window.location.href); } catch (e) { return null; }
    if (url.origin !== window.location.origin) return null;
    const base = meta("jupychat-base") || "/";
    if (!url.pathname.startsWith(base)) return null;
    const first = url.pathname.slice(base.length).split("/")[0];
    return SEGMENTS[first] || null;
  }

  document.addEventListener("DOMContentLoaded", () => {
    let kind = null;
    try { if (window.opener) kind = frontFrom(window.opener.location.href); } catch (e) { /* */ }
    if (!kind && document.referrer) kind = frontFrom(document.referrer);
    if (kind) store(sessionStorage, FRONT_KEY, kind);
    else kind = read(sessionStorage, FRONT_KEY);
    const front = Object.prototype.hasOwnProperty.call(FRONTS, kind) ? FRONTS[kind] : null;
    const link = document.getElementById("jc-front");
    if (link && front) {
      link.textContent = front.name;
      link.setAttribute("href", (meta("jupychat-base") || "/") + front.path);
    }
  });
})();
