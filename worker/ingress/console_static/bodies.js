// Postino console, public bodies: organisations with their manage keys (ids and dates,
// never a key), and a service's history (who did what). Same token as console.js.
"use strict";

(function () {
  const KEY = "postino-admin-token";
  const $ = (id) => document.getElementById(id);
  const el = window.Postino.el; // from console.js, loaded first
  const when = (iso) => (iso ? new Date(iso).toLocaleString() : "–");
  const time = (iso) => (iso ? el("time", { datetime: iso }, when(iso)) : "–");
  async function api(path) {
    const resp = await fetch(path, {
      headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) }, cache: "no-store",
    });
    const body = await resp.json().catch(() => ({}));
    return { status: resp.status, body };
  }
  function table(caption, heads, rows) {
    return el("div", { class: "table-wrap" }, el("table", {},
      el("caption", { class: "hint" }, caption),
      el("thead", {}, el("tr", {}, ...heads.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, ...rows)));
  }
  function failed(out, status, body) {
    out.replaceChildren(el("p", { class: "error", role: "alert" },
      body.detail || "The request failed (" + status + ")."));
  }

  function keyList(keys) {
    if (!keys.length) return el("span", { class: "hint" }, "none");
    return el("ul", { class: "keys" }, ...keys.map((k) => el("li", { "data-key-id": k.id },
      el("code", {}, k.id), " issued ", time(k.created_at),
      k.revoked_at ? el("span", { class: "revoked" }, " · revoked ", time(k.revoked_at)) : " · live")));
  }
  async function loadBodies() {
    const out = $("bodies-list");
    out.replaceChildren(el("p", {}, "Loading…"));
    const { status, body } = await api("/api/v1/admin/organizations");
    if (status !== 200) return failed(out, status, body);
    if (!body.items.length) {
      out.replaceChildren(el("p", { class: "not-found" }, "No public body is registered yet."));
      return;
    }
    const rows = body.items.map((o) => el("tr", { "data-organization": o.fiscal_code },
      el("td", {}, o.name), el("td", { class: "mono" }, o.fiscal_code), el("td", {}, o.email),
      el("td", {}, time(o.created_at)), el("td", {}, keyList(o.manage_keys))));
    out.replaceChildren(table(`${body.items.length} public bod${body.items.length === 1 ? "y" : "ies"}`,
      ["Name", "Fiscal code", "Contact", "Registered", "Manage keys"], rows));
  }

  function who(actor) {
    if (actor.kind === "manage_key") return "manage key " + actor.id;
    return actor.kind === "admin" ? "platform admin" : "Postino";
  }
  async function loadHistory(serviceId) {
    const out = $("history-list");
    serviceId = serviceId.trim();
    if (!serviceId) return;
    const path = "/api/v1/admin/services/" + encodeURIComponent(serviceId) + "/history?order=ASC&limit=100";
    const { status, body } = await api(path);
    if (status === 404) {
      out.replaceChildren(el("p", { class: "not-found", role: "alert" }, "No service with id ", el("code", {}, serviceId), "."));
      return;
    }
    if (status !== 200) return failed(out, status, body);
    const rows = body.items.map((i) => el("tr", { "data-action": i.action },
      el("td", {}, time(i.last_update)), el("td", { class: "mono" }, i.action),
      el("td", {}, `${i.status.kind}: ${i.status.value}`), el("td", {}, who(i.actor)),
      el("td", {}, "v" + i.version), el("td", {}, i.status.reason || "–")));
    const more = body.continuationToken ? " (first 100)" : "";
    out.replaceChildren(table(`History of ${serviceId}, oldest first${more}`,
      ["When", "Action", "Status after", "Who", "Version", "Reason"], rows));
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("bodies-refresh").addEventListener("click", () => loadBodies());
    $("history-form").addEventListener("submit", (ev) => { ev.preventDefault(); loadHistory($("history-service").value); });
  });
})();
