// The staff dashboard's few lines of script: read Telegram's signed initData once, send it with
// every request (Authorization: tma ...), put the server's HTML in place, follow the theme, the
// viewport and the back button. Works without telegram-web-app.js (the data is then read from the
// URL fragment Telegram opens the page with); without any initData it says to open it from the bot.
(function () {
  "use strict";
  var tg = window.Telegram && window.Telegram.WebApp ? window.Telegram.WebApp : null;
  var launch = new URLSearchParams(location.hash.replace(/^#/, ""));
  var initData = (tg && tg.initData) || launch.get("tgWebAppData") || "";
  var app = document.getElementById("app");
  var visited = [];  // the pages opened before this one (the back button)
  var current = null;

  var THEME = {
    bg_color: "--tg-bg", text_color: "--tg-text", hint_color: "--tg-hint", link_color: "--tg-link",
    button_color: "--tg-button", button_text_color: "--tg-button-text", secondary_bg_color: "--tg-secondary-bg",
    destructive_text_color: "--tg-destructive"
  };
  function applyTheme(params) {
    if (!params) return;
    var root = document.documentElement;
    Object.keys(THEME).forEach(function (key) {
      if (typeof params[key] === "string" && /^#[0-9a-fA-F]{3,8}$/.test(params[key])) {
        root.style.setProperty(THEME[key], params[key]);
      }
    });
    root.setAttribute("data-theme", "telegram");
  }
  function themeFromLaunch() {
    try { return JSON.parse(launch.get("tgWebAppThemeParams") || "null"); } catch (e) { return null; }
  }
  function applyViewport() {
    if (tg && tg.viewportStableHeight) {
      document.documentElement.style.setProperty("--tg-viewport-stable-height", tg.viewportStableHeight + "px");
    }
  }

  function show(html) { app.innerHTML = html; window.scrollTo(0, 0); }
  function headers() { return { "Authorization": "tma " + initData }; }

  function load(page, query, remember) {
    if (remember !== false && current) visited.push(current);
    current = { page: page, query: query || "" };
    updateBack();
    return fetch("api/" + page + (query ? "?" + query : ""), { headers: headers(), cache: "no-store" })
      .then(function (r) { return r.text(); })
      .then(show)
      .catch(function () { show('<div class="msg error">⚠</div>'); });
  }
  function back() {
    var previous = visited.pop();
    if (previous) load(previous.page, previous.query, false);
  }
  function updateBack() {
    if (!tg || !tg.BackButton) return;
    if (visited.length) tg.BackButton.show(); else tg.BackButton.hide();
  }

  function randomKey() {
    var bytes = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function act(form) {
    var body = new URLSearchParams(new FormData(form));
    if (form.dataset.action === "reply") body.set("key", form.dataset.key || (form.dataset.key = randomKey()));
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) { b.disabled = true; });
    return fetch("api/appeal/" + form.dataset.id + "/" + form.dataset.action, {
      method: "POST", headers: headers(), body: body, cache: "no-store"
    }).then(function (r) { return r.text(); }).then(show);
  }

  function download(link) {
    fetch("api/" + link.dataset.download, { headers: headers(), cache: "no-store" })
      .then(function (r) { return r.ok ? r.blob() : r.text().then(function (t) { show(t); return null; }); })
      .then(function (blob) {
        if (!blob) return;
        var a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = link.dataset.filename || "report.csv";
        document.body.appendChild(a); a.click(); a.remove();
      });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-page], a[data-download]");
    if (!link) return;
    event.preventDefault();
    if (link.dataset.download) download(link); else load(link.dataset.page, link.dataset.query || "");
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    event.preventDefault();
    if (form.classList.contains("filters")) {
      var query = new URLSearchParams();
      new FormData(form).forEach(function (value, key) { if (value) query.set(key, value); });
      load("appeals", query.toString());
    } else if (form.classList.contains("act")) {
      var question = form.dataset.confirm;
      if (!question) { act(form); return; }
      // Telegram's own dialog when the client has it (Bot API 6.2+), else the browser's
      if (tg && tg.showConfirm && tg.isVersionAtLeast && tg.isVersionAtLeast("6.2")) {
        tg.showConfirm(question, function (ok) { if (ok) act(form); });
      } else if (window.confirm(question)) {
        act(form);
      }
    }
  });

  applyTheme(tg && tg.themeParams && Object.keys(tg.themeParams).length ? tg.themeParams : themeFromLaunch());
  if (!initData) {
    app.hidden = true;
    document.getElementById("outside").hidden = false;
    return;
  }
  if (tg) {
    tg.ready();
    if (tg.expand) tg.expand();
    applyViewport();
    if (tg.onEvent) {
      tg.onEvent("viewportChanged", applyViewport);
      tg.onEvent("themeChanged", function () { applyTheme(tg.themeParams); });
    }
    if (tg.BackButton && tg.BackButton.onClick) tg.BackButton.onClick(back);
  }
  load("overview", "", false);
})();
