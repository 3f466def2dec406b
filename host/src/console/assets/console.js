// The wasmgate console: one page, plain JavaScript, no dependencies. Every
// value from the server is put into the page as text (never as HTML).
"use strict";

let csrf = null;
let persistent = true;
let persistenceNote = "";

const $ = (id) => document.getElementById(id);

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((t) => h("th", {}, t)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
}

function flash(text, kind) {
  const el = $("flash");
  el.textContent = text;
  el.className = "banner " + (kind || "");
  el.hidden = !text;
}

function when(ms) {
  return ms ? new Date(ms).toLocaleString() : "–";
}

function duration(secs) {
  if (secs === null || secs === undefined) return "–";
  secs = Math.round(secs);
  if (secs < 90) return secs + " s";
  if (secs < 5400) return Math.round(secs / 60) + " min";
  if (secs < 172800) return Math.round(secs / 3600) + " h";
  return Math.round(secs / 86400) + " d";
}

async function api(method, path, body, raw) {
  const headers = {};
  if (csrf) headers["x-csrf-token"] = csrf;
  let payload;
  if (raw !== undefined) {
    payload = raw;
    headers["content-type"] = "application/wasm";
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers["content-type"] = "application/json";
  }
  const response = await fetch("api/" + path, { method, headers, body: payload, credentials: "same-origin" });
  if (response.status === 401) {
    showSignIn("Your session ended: sign in again.");
    throw new Error("signed out");
  }
  let data = null;
  try { data = await response.json(); } catch (_) { data = null; }
  if (!response.ok) {
    const message = (data && data.error && data.error.message) || response.statusText;
    const error = new Error(message);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function showOnly(id) {
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== id;
}

function showSignIn(message) {
  csrf = null;
  $("nav").hidden = true;
  $("signout").hidden = true;
  showOnly("signin");
  const err = $("signin-error");
  err.textContent = message || "";
  err.hidden = !message;
}

// ── Sign-in ────────────────────────────────────────────────────────────────

async function start() {
  if (window.top !== window.self) $("framed").hidden = false;
  const params = new URLSearchParams(location.search);
  const session = await (await fetch("api/session", { credentials: "same-origin" })).json();
  if (!session.admin_enabled) { showOnly("off"); return; }
  if (!session.signed_in) {
    showSignIn(params.get("error") === "wrong-key" ? "Wrong admin key." : "");
    return;
  }
  csrf = session.csrf;
  signedIn();
}

function signedIn() {
  $("nav").hidden = false;
  $("signout").hidden = false;
  route();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const response = await fetch("login", {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json" },
    body: JSON.stringify({ key: $("key").value }),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (response.ok) {
    $("key").value = "";
    csrf = data.csrf;
    if (history.replaceState) history.replaceState(null, "", location.pathname + location.hash);
    signedIn();
  } else if (response.status === 429) {
    const wait = response.headers.get("retry-after");
    showSignIn("Too many wrong keys: wait " + (wait || "a few") + " seconds before trying again.");
  } else {
    showSignIn((data.error && data.error.message) || "Sign-in failed.");
  }
});

$("signout").addEventListener("click", async () => {
  await fetch("logout", { method: "POST", headers: { "x-csrf-token": csrf || "" }, credentials: "same-origin" });
  showSignIn("Signed out.");
});

// ── Pages ──────────────────────────────────────────────────────────────────

const pages = { overview, routes, accounts, config, plugins, logs };

async function route() {
  if (!csrf) return;
  const name = (location.hash || "#overview").slice(1);
  const page = pages[name] ? name : "overview";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
  showOnly("page-" + page);
  flash("");
  try {
    await pages[page]();
  } catch (e) {
    if (e.message !== "signed out") flash(e.message, "bad");
  }
}
window.addEventListener("hashchange", route);

function persistenceBanner(isPersistent, note) {
  persistent = isPersistent;
  persistenceNote = note;
  const el = $("persistence");
  el.textContent = isPersistent ? "" : note;
  el.hidden = isPersistent;
}

/// Before saving anything: on a data directory that does not outlive a
/// restart, say so and ask.
function confirmPersistence() {
  return persistent || confirm(persistenceNote + "\n\nSave anyway (until the next restart)?");
}

async function overview() {
  const o = await api("GET", "overview");
  persistenceBanner(o.persistent, o.persistence_note);
  const fact = (label, value) => h("div", {}, h("b", {}, label), value);
  $("overview-facts").replaceChildren(
    fact("Version", o.version),
    fact("Up for", duration(o.uptime_secs)),
    fact("Data directory", (o.data_dir || "none") + (o.persistent ? "" : " (not persistent)")),
    fact("Configuration", o.config_source + " (" + o.config_from + ")"),
    fact("Reloads", o.reloads),
  );
  $("failing").replaceChildren(...(o.failing.length ? o.failing.map((f) =>
    h("li", {}, h("b", {}, f.what), f.state ? " (" + f.state.replace(/_/g, " ") + (f.seconds_left ? ", " + duration(f.seconds_left) + " left" : "") + ")" : "", ": ", f.why))
    : [h("li", { class: "ok" }, "Nothing.")]));
  const traffic = [];
  for (const [label, w] of Object.entries(o.windows)) {
    const rows = [];
    const add = (kind, map) => {
      for (const [name, s] of Object.entries(map)) rows.push([kind, name, s.requests, s.errors, s.p50_ms + " ms", s.p95_ms + " ms"]);
    };
    if (w.all) add("all", { "": w.all });
    add("plugin", w.plugins);
    add("model", w.models);
    add("account", w.accounts);
    traffic.push(h("h3", {}, "Last " + label));
    traffic.push(rows.length ? table(["", "Name", "Requests", "Errors", "p50 to first event", "p95"], rows) : h("p", { class: "muted" }, "No requests."));
  }
  $("traffic").replaceChildren(...traffic);
  $("totals").replaceChildren(table(["Plugin", "Account", "State", "Requests", "Failures", "Prompt tokens", "Completion tokens"],
    o.accounts.map((a) => [a.plugin, a.account, h("span", { class: "state-" + a.state }, a.state.replace(/_/g, " ")), a.requests, a.failures, a.prompt_tokens, a.completion_tokens])));
}

async function routes() {
  const r = await api("GET", "routes");
  $("routes-table").replaceChildren(table(["Name", "Goes to (in order)"], r.routes.map((route) => [
    h("code", {}, route.pattern),
    h("div", {}, route.targets.map((t) => h("div", {},
      h("b", {}, t.plugin), t.model ? " as " + t.model : "",
      t.loaded ? "" : h("span", { class: "missing" }, " — not loaded"),
      t.loaded && !t.serves_now ? h("span", { class: "missing" }, " — no usable account") : "",
      t.accounts.length ? " — " : "",
      t.accounts.map((a, i) => h("span", { class: "state-" + a.state }, (i ? ", " : "") + a.id + " " + a.state.replace(/_/g, " ")))))),
  ])));
  $("models-now").textContent = r.models_now.length ? r.models_now.map((m) => m.model).join(", ") : "No model can be served now.";
  const select = $("try-model");
  const chosen = select.value;
  select.replaceChildren(...r.models_now.map((m) => h("option", { value: m.model }, m.model)));
  const names = r.routes.map((x) => x.pattern).filter((p) => !p.includes("*") && !r.models_now.some((m) => m.model === p));
  for (const name of names) select.append(h("option", { value: name }, name + " (no account now)"));
  if (chosen) select.value = chosen;
}

$("try-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const out = $("try-output");
  out.textContent = "";
  out.classList.remove("error");
  const response = await fetch("api/try", {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": csrf },
    body: JSON.stringify({ model: $("try-model").value, stream: true, messages: [{ role: "user", content: $("try-prompt").value }] }),
  });
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    out.classList.add("error");
    out.textContent = response.status + ": " + ((data.error && data.error.message) || response.statusText);
    return;
  }
  const served = response.headers.get("x-wasmgate-plugin");
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split("\n")) {
        if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
        try {
          const chunk = JSON.parse(line.slice(6));
          if (chunk.error) { out.textContent += "\n[error] " + chunk.error.message; continue; }
          const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
          if (delta && delta.content) out.textContent += delta.content;
        } catch (_) { /* a heartbeat or comment */ }
      }
    }
  }
  if (served) out.append(h("div", { class: "muted" }, "— served by " + served));
});

async function accounts() {
  const [pools, secrets] = await Promise.all([api("GET", "accounts"), api("GET", "secrets")]);
  persistenceBanner(secrets.persistent, secrets.persistence_note);
  const cards = [];
  for (const [plugin, pool] of Object.entries(pools)) {
    const rows = pool.accounts.map((a) => [
      a.id,
      h("span", { class: "state-" + a.state }, a.state.replace(/_/g, " ") + (a.seconds_left ? " (" + duration(a.seconds_left) + " left)" : "")),
      a.cooldowns.length ? a.cooldowns.map((c) => h("div", {}, c.model + ": " + c.reason.replace(/_/g, " ") + ", " + duration(c.seconds_left))) : "–",
      a.last_error ? a.last_error.kind.replace(/_/g, " ") + ": " + a.last_error.message + " (" + when(a.last_error.at) + ")" : "–",
      a.requests + " / " + a.failures,
      a.prompt_tokens + " / " + a.completion_tokens,
      a.expires_at ? when(a.expires_at) : "–",
      h("div", {}, Object.entries(a.secrets).map(([k, v]) => h("div", {}, k + ": " + v))),
      h("div", { class: "buttons" },
        ["disable", "enable", "reset"].map((action) => h("button", {
          class: "secondary", type: "button", "data-action": action, "data-account": plugin + "/" + a.id,
          onclick: async () => {
            try {
              await api("POST", "accounts/" + encodeURIComponent(plugin) + "/" + encodeURIComponent(a.id) + "/" + action);
              await accounts();
              flash(plugin + "/" + a.id + ": " + action + " done.", "");
            } catch (e) { flash(e.message, "bad"); }
          },
        }, action))),
    ]);
    cards.push(h("div", { class: "card", "data-plugin": plugin }, h("h3", {}, plugin),
      rows.length ? table(["Account", "State", "Cooldowns", "Last error", "Requests / failures", "Tokens in / out", "Expires", "Secrets (fingerprints)", ""], rows)
        : h("p", { class: "missing" }, "No account: set one of the variables below.")));
  }
  $("accounts-list").replaceChildren(...(cards.length ? cards : [h("p", { class: "muted" }, "No plugin is loaded.")]));
  const names = new Set();
  const rows = [];
  for (const [plugin, vars] of Object.entries(secrets.plugins)) {
    for (const v of vars) {
      names.add(v.suggest || v.name.replace("{n}", "1"));
      rows.push([plugin, h("code", {}, v.name), v.set ? h("span", { class: "ok" }, v.in_console ? "set (console)" : "set") : h("span", { class: "missing" }, "not set")]);
    }
  }
  $("secret-names").replaceChildren(...[...names].map((n) => h("option", { value: n })));
  $("variables").replaceChildren(table(["Plugin", "Variable ({n}: any number)", "Now"], rows));
  $("stored").replaceChildren(secrets.stored.length ? table(["Variable", "Fingerprint", "Saved", ""], secrets.stored.map((s) => [
    h("code", {}, s.name), s.fingerprint, when(s.updated * 1000),
    h("button", { class: "danger", type: "button", onclick: async () => {
      if (!confirm("Forget " + s.name + "? The environment's value (if any) is used again.")) return;
      try { await api("DELETE", "secrets/" + encodeURIComponent(s.name)); await accounts(); flash(s.name + " removed."); } catch (e) { flash(e.message, "bad"); }
    } }, "Delete"),
  ])) : h("p", { class: "muted" }, "Nothing pasted yet."));
}

$("secret-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!confirmPersistence()) return;
  const name = $("secret-name").value.trim();
  try {
    const r = await api("PUT", "secrets/" + encodeURIComponent(name), { value: $("secret-value").value });
    $("secret-value").value = "";
    await accounts();
    flash(name + " saved (" + r.stored.fingerprint + "); the accounts were read again.");
  } catch (e) { flash(e.message, "bad"); }
});

function showDiff(diff) {
  const el = $("config-diff");
  el.replaceChildren(...diff.split("\n").filter((l) => l).map((line) =>
    h("div", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "" }, line)));
  el.hidden = !diff;
}

function configMessage(kind, text) {
  $("config-error").hidden = kind !== "error";
  $("config-ok").hidden = kind !== "ok";
  $(kind === "error" ? "config-error" : "config-ok").textContent = text;
}

async function config() {
  const [c, h_] = await Promise.all([api("GET", "config"), api("GET", "config/history")]);
  persistenceBanner(c.persistent, c.persistence_note);
  const from = { console: "saved from this console (data directory)", shipped: "the shipped file", embedded: "the built-in default" }[c.from];
  $("config-where").replaceChildren(
    h("div", {}, h("b", {}, "Live"), c.path + " — " + from),
    h("div", {}, h("b", {}, "Shipped file"), c.shipped || "none (built-in default)"),
    ...(c.error ? [h("div", { class: "error" }, h("b", {}, "Newest file not applied"), c.error)] : []),
  );
  $("config-text").value = c.text;
  $("config-reset").disabled = c.from !== "console";
  configMessage("", "");
  showDiff("");
  $("history").replaceChildren(h_.versions.length ? table(["Applied", "Size", ""], h_.versions.map((v, i) => [
    when(v.id) + (i === 0 ? " (newest)" : ""), v.bytes + " bytes",
    h("div", { class: "buttons" },
      h("button", { class: "secondary", type: "button", onclick: async () => {
        const r = await api("GET", "config/history/" + v.id);
        showDiff(r.diff || "(the same as the live configuration)");
      } }, "Diff against live"),
      h("button", { class: "secondary", type: "button", "data-rollback": v.id, onclick: async () => {
        if (!confirmPersistence()) return;
        try {
          await api("POST", "config/rollback/" + v.id);
          await config();
          configMessage("ok", "Rolled back to the version of " + when(v.id) + "; it is live.");
        } catch (e) { configMessage("error", e.message); }
      } }, "Roll back to this")),
  ])) : h("p", { class: "muted" }, "No version applied from the console yet."));
}

/// Puts the cursor on a line of the editor, selected, so the mistake shows.
function selectLine(textarea, line) {
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  const end = start + (lines[line - 1] || "").length;
  textarea.focus();
  textarea.setSelectionRange(start, end);
  const lineHeight = textarea.scrollHeight / Math.max(lines.length, 1);
  textarea.scrollTop = Math.max(0, (line - 5) * lineHeight);
}

async function validate() {
  const r = await api("POST", "config/validate", { text: $("config-text").value });
  showDiff(r.diff || "");
  if (r.valid) configMessage("ok", r.diff ? "Valid. The changes are below." : "Valid, and the same as the live configuration.");
  else {
    configMessage("error", (r.line ? "Line " + r.line + ": " : "") + r.error);
    if (r.line) selectLine($("config-text"), r.line);
  }
  return r;
}

$("config-validate").addEventListener("click", () => validate().catch((e) => configMessage("error", e.message)));
$("config-apply").addEventListener("click", async () => {
  try {
    const r = await validate();
    if (!r.valid) return;
    if (!confirmPersistence()) return;
    await api("POST", "config", { text: $("config-text").value });
    await config();
    configMessage("ok", "Applied: the gateway follows the new configuration now.");
  } catch (e) { configMessage("error", e.message); }
});
$("config-reset").addEventListener("click", async () => {
  if (!confirm("Remove the console's copy and go back to the shipped file? Earlier versions stay in the history.")) return;
  try { await api("POST", "config/reset"); await config(); configMessage("ok", "The shipped file is live again."); } catch (e) { configMessage("error", e.message); }
});

async function plugins() {
  const p = await api("GET", "plugins");
  const rows = Object.entries(p.plugins).map(([name, x]) => [
    h("b", {}, name),
    x.version || "–",
    x.sha256 ? h("code", { title: x.sha256 }, x.sha256.slice(0, 12) + "…") : "–",
    x.uploaded ? "uploaded (data directory)" : "shipped (plugins/)",
    x.live ? h("span", { class: "ok" }, "live" + (x.configured === false ? ", on its manifest" : "")) : h("span", { class: "missing" }, "not live"),
    x.manifest ? h("div", {},
      h("div", {}, x.manifest.description),
      h("div", {}, h("b", {}, "Models: "), x.manifest.models.map((m) => m.id).join(", ") || "–"),
      h("div", {}, h("b", {}, "Secrets: "), x.manifest.secrets.map((s) => s.name + (s.required ? "" : " (optional)")).join(", ") || "–"),
      h("div", {}, h("b", {}, "Hosts asked for: "), x.manifest.hosts.join(", ") || "–"),
      h("div", {}, h("b", {}, "Granted: "), (x.grants || []).join(", ") || "–"),
      h("div", {}, h("b", {}, "Accounts: "), x.accounts)) : "–",
    x.error ? h("span", { class: "error" }, x.error) : "–",
    x.uploaded ? h("button", { class: "danger", type: "button", "data-remove": name, onclick: async () => {
      if (!confirm("Remove the uploaded plugin " + name + "?")) return;
      try { await api("DELETE", "plugins/" + encodeURIComponent(name)); await plugins(); flash(name + " removed."); } catch (e) { flash(e.message, "bad"); }
    } }, "Remove") : "",
  ]);
  $("plugins-list").replaceChildren(table(["Plugin", "Version", "SHA-256", "From", "State", "Manifest and grants", "Load error", ""], rows));
}

$("upload-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("upload-file").files[0];
  if (!file) return;
  if (!confirmPersistence()) return;
  const name = file.name.replace(/\.wasm$/, "");
  flash("Uploading and validating " + file.name + "…");
  try {
    const r = await api("PUT", "plugins/" + encodeURIComponent(name), undefined, await file.arrayBuffer());
    $("upload-file").value = "";
    await plugins();
    flash(r.name + " " + r.version + " is live.");
  } catch (e) { flash(file.name + ": " + e.message, "bad"); }
});

async function logs() {
  const q = encodeURIComponent($("logs-q").value);
  const only = $("logs-errors").checked ? "&only=errors" : "";
  const l = await api("GET", "logs?q=" + q + only);
  $("logs-requests").replaceChildren(l.requests.length ? table(["Time", "Request id", "Request", "Status", "First event", "Model", "Plugin", "Account"],
    l.requests.map((r) => [when(r.at), h("code", {}, r.id), r.method + " " + r.path,
      h("span", { class: r.status >= 400 ? "error" : "ok" }, r.status), r.first_ms + " ms", r.model || "", r.plugin || "", r.account || ""]))
    : h("p", { class: "muted" }, "No request matches."));
  $("logs-events").replaceChildren(l.events.length ? table(["Time", "Level", "Message"],
    l.events.map((e) => [when(e.at), e.level, e.message])) : h("p", { class: "muted" }, "Nothing."));
}

$("logs-form").addEventListener("submit", (event) => { event.preventDefault(); logs().catch((e) => flash(e.message, "bad")); });

start().catch((e) => flash("The console cannot reach the gateway: " + e.message, "bad"));
