// Postino console: plain JavaScript, no library, nothing loaded from elsewhere.
// Data comes from /api/v1/status/... with the admin token kept in sessionStorage.
"use strict";

(function () {
  const KEY = "postino-admin-token";
  const SVG = "http://www.w3.org/2000/svg";
  const W = 480, H = 190, PAD_L = 64, PAD_B = 20, PAD_T = 8;
  // Each series: a dash pattern and a marker shape, so nothing relies on colour.
  const STYLES = [
    { cls: "s1", dash: "", shape: "circle" },
    { cls: "s2", dash: "6 3", shape: "square" },
    { cls: "s3", dash: "2 3", shape: "triangle" },
    { cls: "s4", dash: "10 3 2 3", shape: "diamond" },
    { cls: "s5", dash: "1 2", shape: "cross" },
    { cls: "s6", dash: "12 4", shape: "bar" },
  ];
  let timer = null;
  let refreshMs = 3000;
  let windowSeconds = 900;
  let lastFlow = null;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v; else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  // Shared with bodies.js, which index.html loads after this file.
  window.Postino = Object.freeze({ el });
  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  const $ = (id) => document.getElementById(id);

  // -- token -----------------------------------------------------------------
  function token() { return sessionStorage.getItem(KEY); }
  function takeTokenFromFragment() {
    const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
    if (match) {
      sessionStorage.setItem(KEY, decodeURIComponent(match[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }
  function showLogin(message) {
    stopPolling();
    $("console").hidden = true;
    $("sign-out").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("freshness").textContent = "Not connected";
    $("token").focus();
  }
  function showConsole() {
    $("login").hidden = true;
    $("console").hidden = false;
    $("sign-out").hidden = false;
  }

  class Unauthorized extends Error {}
  async function api(path) {
    const resp = await fetch(path, { headers: { Authorization: "Bearer " + token() }, cache: "no-store" });
    if (resp.status === 401) throw new Unauthorized();
    const body = await resp.json().catch(() => ({}));
    return { status: resp.status, body };
  }

  // -- formatting ------------------------------------------------------------
  const fmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 1) return (value < 0.01 ? fmt.format(value * 1000) : Math.round(value * 1000)) + " ms";
    return fmt.format(value) + " s";
  }
  function when(iso) {
    if (!iso) return "";
    return new Date(iso).toLocaleString(undefined, { hour12: false });
  }
  function age(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 90) return s + " s ago";
    if (s < 5400) return Math.round(s / 60) + " min ago";
    if (s < 129600) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " d ago";
  }
  const sum = (xs) => xs.reduce((a, b) => a + (b || 0), 0);

  // -- charts ----------------------------------------------------------------
  function marker(style, x, y, size) {
    const r = size;
    switch (style.shape) {
      case "square": return svg("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r });
      case "triangle": return svg("path", { d: `M${x} ${y - r}L${x + r} ${y + r}L${x - r} ${y + r}Z` });
      case "diamond": return svg("path", { d: `M${x} ${y - r}L${x + r} ${y}L${x} ${y + r}L${x - r} ${y}Z` });
      case "cross": return svg("path", { d: `M${x - r} ${y - r}L${x + r} ${y + r}M${x - r} ${y + r}L${x + r} ${y - r}`, "stroke-width": 1.5 });
      case "bar": return svg("rect", { x: x - r / 2, y: y - r, width: r, height: 2 * r });
      default: return svg("circle", { cx: x, cy: y, r: r });
    }
  }
  function legendSwatch(style) {
    const s = svg("svg", { viewBox: "0 0 34 12", "aria-hidden": "true", focusable: "false" });
    s.append(svg("line", { x1: 1, y1: 6, x2: 33, y2: 6, class: "line " + style.cls, "stroke-dasharray": style.dash, "stroke-width": 2 }));
    const m = marker(style, 17, 6, 3.5);
    m.setAttribute("class", style.cls);
    s.append(m);
    return s;
  }
  // series: [{key, label, values: [..]}]; t0/step: seconds of the first point and spacing.
  function chart(id, title, series, opts) {
    opts = opts || {};
    const unit = opts.unit || "per second";
    const figure = el("figure", { class: "chart", "data-chart": id });
    const titleId = "chart-" + id + "-title";
    figure.append(el("figcaption", { id: titleId }, title + " (" + unit + ")"));
    const all = series.flatMap((s) => s.values.filter((v) => v !== null));
    const max = Math.max(opts.minMax === undefined ? 2 : opts.minMax, ...all);
    const legend = el("ul", { class: "legend" });
    const plot = svg("svg", { class: "plot", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": titleId + " " + titleId + "-desc" });
    const desc = svg("desc", { id: titleId + "-desc" });
    const parts = [];
    const chartW = W - PAD_L - 4, chartH = H - PAD_B - PAD_T;
    for (const frac of [0, 0.5, 1]) {
      const y = PAD_T + chartH * (1 - frac);
      plot.append(svg("line", { class: "axis", x1: PAD_L, x2: W - 4, y1: y, y2: y }));
      const tick = svg("text", { class: "tick", x: PAD_L - 4, y: y + 4, "text-anchor": "end" });
      tick.textContent = opts.format ? opts.format(max * frac) : fmt.format(max * frac);
      plot.append(tick);
    }
    const minutes = windowSeconds / 60;
    const labels = [["−" + minutes + " min", 0], ["−" + minutes / 2 + " min", 0.5], ["now", 1]];
    for (const [text, frac] of labels) {
      const t = svg("text", { class: "tick", x: PAD_L + chartW * frac, y: H - 4, "text-anchor": frac === 0 ? "start" : frac === 1 ? "end" : "middle" });
      t.textContent = text;
      plot.append(t);
    }
    series.forEach((s, i) => {
      const style = STYLES[i % STYLES.length];
      const n = s.values.length;
      const x = (k) => PAD_L + (n <= 1 ? chartW : (chartW * k) / (n - 1));
      const y = (v) => PAD_T + chartH * (1 - v / max);
      const g = svg("g", { "data-series": s.key, class: style.cls });
      let d = "";
      let pen = false;
      s.values.forEach((v, k) => {
        if (v === null) { pen = false; return; }
        d += (pen ? "L" : "M") + x(k).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
      });
      if (d) g.append(svg("path", { d, class: "line " + style.cls, "stroke-dasharray": style.dash }));
      let nonZero = 0;
      s.values.forEach((v, k) => {
        if (!v) return;
        nonZero += 1;
        const m = marker(style, x(k), y(v), 2.6);
        m.setAttribute("class", "pt " + style.cls);
        m.setAttribute("data-series", s.key);
        m.setAttribute("data-value", String(v));
        g.append(m);
      });
      g.setAttribute("data-nonzero", String(nonZero));
      plot.append(g);
      const total = opts.summary ? opts.summary(s.values) : fmt.format(sum(s.values));
      legend.append(el("li", { "data-series": s.key }, legendSwatch(style), el("span", {}, s.label + ": " + total)));
      parts.push(s.label + " " + total);
    });
    if (!series.length) {
      const t = svg("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" });
      t.textContent = "nothing yet";
      plot.append(t);
    }
    desc.textContent = parts.length ? parts.join("; ") : "no data";
    plot.prepend(desc);
    figure.append(legend, plot);
    return figure;
  }

  // The last `windowSeconds` of a per-second series (the payload holds 15 minutes).
  const recent = (values) => values.slice(-windowSeconds);
  function pick(flow, defs) {
    const zeros = new Array(flow.end - flow.start + 1).fill(0);
    return defs.map(([key, label]) => ({ key, label, values: recent(flow.series[key] || zeros) }));
  }
  function withPrefix(flow, prefix, labelOf) {
    return Object.keys(flow.series).filter((k) => k.startsWith(prefix)).sort()
      .map((key) => ({ key, label: labelOf(key.slice(prefix.length)), values: recent(flow.series[key]) }));
  }

  function renderFlow(flow) {
    lastFlow = flow;
    const charts = [];
    const total = (k) => sum(recent(flow.series[k] || []));
    charts.push(chart("messages", "Messages", pick(flow, [
      ["accepted", "accepted"], ["message:PROCESSED", "processed"],
      ["message:REJECTED", "rejected"], ["message:FAILED", "failed"],
    ])));
    const channels = new Set(["PUSH", "EMAIL"]);
    for (const k of Object.keys(flow.series)) if (k.startsWith("notification:")) channels.add(k.split(":")[1]);
    for (const ch of [...channels].sort().reverse()) {
      charts.push(chart("notifications-" + ch.toLowerCase(), "Notifications, " + ch, pick(flow, [
        [`notification:${ch}:SENT`, "sent"], [`notification:${ch}:THROTTLED`, "throttled (retry)"],
        [`notification:${ch}:EXPIRED`, "expired"], [`notification:${ch}:FAILED`, "failed"],
      ])));
    }
    charts.push(chart("callbacks", "Callbacks", pick(flow, [
      ["callback:delivered", "delivered"], ["callback:failed", "retried"],
      ["callback:refused", "refused"], ["callback:given_up", "given up"],
    ])));
    charts.push(chart("dlq", "Dead letters", withPrefix(flow, "dlq:", (t) => t)));
    const lat = flow.latency;
    const steps = Math.max(1, Math.round(windowSeconds / lat.step_seconds));
    const maxOf = (vs) => seconds(Math.max(0, ...vs.filter((v) => v !== null))) + " max";
    charts.push(chart("latency", "Accept → processed latency", [
      { key: "p50", label: "p50", values: lat.p50_series.slice(-steps) },
      { key: "p99", label: "p99", values: lat.p99_series.slice(-steps) },
    ], { unit: "seconds, per " + lat.step_seconds + " s", format: seconds, summary: maxOf, minMax: 0.01 }));
    const since = flow.end - windowSeconds;
    const keep = flow.lag.t.map((t) => t > since);
    const lagSeries = Object.entries(flow.lag.series)
      .map(([key, values]) => ({ key, label: key, values: values.filter((_, i) => keep[i]) }))
      .filter((s) => s.values.some((v) => v > 0));
    const lagNowOf = (vs) => fmt.format(vs[vs.length - 1] || 0) + " now";
    charts.push(chart("lag", "Consumer lag", lagSeries, { unit: "records, sampled while the console is open", summary: lagNowOf }));
    $("charts").replaceChildren(...charts);

    const lagNow = flow.lag.now || {};
    let maxLag = 0;
    const rows = [];
    for (const group of Object.keys(lagNow).sort()) {
      for (const topic of Object.keys(lagNow[group]).sort()) {
        const v = lagNow[group][topic];
        maxLag = Math.max(maxLag, v);
        rows.push(el("tr", {}, el("td", { class: "mono" }, group), el("td", { class: "mono" }, topic), el("td", { class: "num" }, fmt.format(v))));
      }
    }
    $("lag-table").tBodies[0].replaceChildren(...rows);
    const whole = windowSeconds === 900;
    const summary = [
      ["Accepted", fmt.format(total("accepted"))],
      ["Processed", fmt.format(total("message:PROCESSED"))],
      ["Rejected", fmt.format(total("message:REJECTED"))],
      ["Failed", fmt.format(total("message:FAILED"))],
      ["Latency p50 (15 min)", seconds(lat.p50)],
      ["Latency p99 (15 min)", seconds(lat.p99)],
      ["Dead letters", fmt.format(sum(Object.keys(flow.series).filter((k) => k.startsWith("dlq:")).map(total)))],
      ["Max lag now", fmt.format(maxLag)],
    ];
    $("summary").replaceChildren(...summary.map(([k, v]) => el("div", { "data-key": k }, el("dt", {}, k), el("dd", {}, v))));
    $("flow-h").textContent = "Flow, last " + windowSeconds / 60 + (whole ? " minutes" : windowSeconds === 60 ? " minute" : " minutes");
    const errors = Object.entries(flow.errors || {}).map(([k, v]) => k + ": " + v);
    $("flow-errors").textContent = errors.length ? "Some figures are stale (" + errors.join(", ") + ")" : "";
    $("freshness").textContent = "Updated " + new Date(flow.generated_at).toLocaleTimeString(undefined, { hour12: false }) + ", every " + flow.refresh_seconds + " s";
    refreshMs = Math.max(1000, (flow.refresh_seconds || 3) * 1000);
  }

  // -- dead letters ----------------------------------------------------------
  function messageLink(id) {
    if (!id) return "–";
    const b = el("button", { type: "button", class: "link", "data-message-id": id }, id);
    b.addEventListener("click", () => { $("message-id").value = id; lookup(id); });
    return b;
  }
  function renderDlq(dlq) {
    const items = dlq.topics.map((t) => {
      const head = el("p", {}, `${fmt.format(t.records)} record(s), ${fmt.format(t.pending)} not yet replayed. Replay with `, el("code", {}, t.replay_command));
      const article = el("article", { class: "dlq", "data-topic": t.topic }, el("h3", {}, t.topic), head);
      if (t.recent.length) {
        const rows = t.recent.map((r) => el("tr", {},
          el("td", {}, el("time", { datetime: new Date(r.timestamp_ms).toISOString(), title: new Date(r.timestamp_ms).toLocaleString() }, age(r.timestamp_ms))),
          el("td", { class: "mono" }, r.code),
          el("td", {}, r.detail || "–"),
          el("td", { class: "mono" }, r.original_topic ? `${r.original_topic}[${r.original_partition}]@${r.original_offset}` : "–"),
          el("td", {}, messageLink(r.message_id))));
        const table = el("table", {}, el("caption", { class: "hint" }, "Most recent dead letters of " + t.topic),
          el("thead", {}, el("tr", {}, ...["Age", "Code", "Detail", "Original topic[partition]@offset", "Message"].map((h) => el("th", { scope: "col" }, h)))),
          el("tbody", {}, ...rows));
        article.append(el("div", { class: "table-wrap" }, table));
      }
      return article;
    });
    const nonEmpty = items.filter((a, i) => dlq.topics[i].records > 0);
    const quiet = dlq.topics.filter((t) => t.records === 0).map((t) => t.topic);
    const parts = nonEmpty.length ? nonEmpty : [el("p", {}, "No dead letters. ")];
    if (quiet.length) parts.push(el("p", { class: "hint" }, "Empty: " + quiet.join(", ")));
    $("dlq-list").replaceChildren(...parts);
  }

  // -- timeline --------------------------------------------------------------
  const BAD = new Set(["rejected", "failed", "dlq"]);
  const BAD_OUTCOMES = new Set(["FAILED", "EXPIRED", "THROTTLED", "failed", "refused", "given_up"]);
  function renderTimeline(t) {
    const facts = (s) => {
      const bits = [];
      if (s.attempt) bits.push("attempt " + s.attempt);
      if (s.tier) bits.push((s.kind === "callback" ? "from " : "next try in ") + s.tier);
      if (s.status_code) bits.push("receiver answered " + s.status_code);
      else if (s.kind === "callback" && s.outcome === "delivered") bits.push("receiver answered 2xx");
      if (s.code) bits.push("code " + s.code);
      if (s.origin) bits.push("from " + s.origin);
      if (s.reason && !(s.status_code && s.reason.includes("answered " + s.status_code))) bits.push(s.reason);
      if (s.trace_id) bits.push("trace " + s.trace_id);
      return bits.length ? el("p", { class: "facts" }, bits.join(" · ")) : null;
    };
    const items = t.steps.map((s) => el("li", { "data-kind": s.kind, "data-bad": BAD.has(s.kind) || BAD_OUTCOMES.has(s.outcome) ? "true" : "false" },
      el("span", { class: "kind" }, s.kind),
      s.at ? el("time", { datetime: s.at }, when(s.at)) : null,
      el("strong", {}, s.title),
      facts(s)));
    const traces = t.trace_ids.length ? "Trace ids: " + t.trace_ids.join(", ") : "No trace id recorded (tracing off, or not propagated to these steps).";
    return el("article", { class: "found", "data-message-id": t.id },
      el("h3", {}, "Message ", el("code", {}, t.id)),
      el("p", {}, `Service ${t.service_id || "unknown"} · ${t.feature_level_type || ""} · status ${t.status}` +
        (t.template ? ` · template ${t.template.id} version ${t.template.version}` : "")),
      el("ol", { class: "timeline", "aria-label": "Timeline of message " + t.id }, ...items),
      el("p", { class: "hint" }, traces));
  }
  async function lookup(id) {
    id = id.trim();
    if (!id) return;
    const out = $("search-result");
    out.replaceChildren(el("p", {}, "Looking for " + id + "…"));
    try {
      const { status, body } = await api("/api/v1/status/messages/" + encodeURIComponent(id));
      if (status === 404) {
        out.replaceChildren(el("p", { class: "not-found", role: "alert" }, el("strong", {}, "Not found: "),
          "no message with id ", el("code", {}, id), " is known. An id accepted seconds ago may not be stored yet; check the id and try again."));
      } else if (status !== 200) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, body.detail || "The search failed (" + status + ")."));
      } else {
        out.replaceChildren(renderTimeline(body));
      }
    } catch (e) {
      handle(e);
    }
  }
  async function listByService(form) {
    const data = new FormData(form);
    const params = new URLSearchParams({ service_id: data.get("service_id") });
    for (const k of ["since", "until"]) if (data.get(k)) params.set(k, new Date(data.get(k)).toISOString());
    const out = $("search-result");
    try {
      const { status, body } = await api("/api/v1/status/messages?" + params);
      if (status !== 200) {
        out.replaceChildren(el("p", { class: "error", role: "alert" }, body.detail || "The search failed."));
        return;
      }
      if (!body.messages.length) {
        out.replaceChildren(el("p", { class: "not-found", role: "alert" }, "No message of service ", el("code", {}, body.service_id), " in that range."));
        return;
      }
      const rows = body.messages.map((m) => el("tr", {}, el("td", {}, messageLink(m.id)), el("td", {}, when(m.created_at)), el("td", {}, m.status)));
      out.replaceChildren(el("div", { class: "table-wrap" }, el("table", {},
        el("caption", { class: "hint" }, `${body.messages.length} message(s) of ${body.service_id}, newest first (at most 100)`),
        el("thead", {}, el("tr", {}, ...["Message id", "Accepted", "Status"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, ...rows))));
    } catch (e) {
      handle(e);
    }
  }

  // -- polling ---------------------------------------------------------------
  function handle(e) {
    if (e instanceof Unauthorized) {
      sessionStorage.removeItem(KEY);
      showLogin("That token was refused. Paste the admin token again.");
    } else {
      $("freshness").textContent = "Connection problem, retrying…";
    }
  }
  async function poll() {
    try {
      const [flow, dlq] = await Promise.all([api("/api/v1/status/flow"), api("/api/v1/status/dlq")]);
      if (flow.status === 200 && flow.body.series) renderFlow(flow.body);
      if (dlq.status === 200 && dlq.body.topics) renderDlq(dlq.body);
      document.body.setAttribute("data-polls", String(Number(document.body.getAttribute("data-polls") || 0) + 1));
    } catch (e) {
      handle(e);
      if (e instanceof Unauthorized) return;
    }
    timer = setTimeout(poll, refreshMs);
  }
  function stopPolling() { if (timer) clearTimeout(timer); timer = null; }
  function start() {
    showConsole();
    stopPolling();
    poll();
  }

  document.addEventListener("DOMContentLoaded", () => {
    takeTokenFromFragment();
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = "";
      start();
    });
    $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(""); });
    for (const radio of document.querySelectorAll("input[name=window]")) {
      radio.addEventListener("change", () => {
        windowSeconds = Number(radio.value);
        if (lastFlow) renderFlow(lastFlow);
      });
    }
    $("search-form").addEventListener("submit", (ev) => { ev.preventDefault(); lookup($("message-id").value); });
    $("service-form").addEventListener("submit", (ev) => { ev.preventDefault(); listByService(ev.target); });
    if (token()) start(); else showLogin("");
  });
})();
