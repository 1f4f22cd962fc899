/* Mocha's shared browser helpers: formatting for people, the JSON API, a reconnecting socket, DOM and charts. */
(function () {
  "use strict";

  // --- Numbers and times, for people -------------------------------------
  function compact(n) {
    if (n == null || isNaN(n)) return "—";
    const abs = Math.abs(n);
    const units = [[1e9, "G"], [1e6, "M"], [1e3, "k"]];
    for (const [limit, suffix] of units) {
      if (abs >= limit) {
        const v = n / limit;
        return (abs >= limit * 100 ? Math.round(v) : v.toFixed(1).replace(/\.0$/, "")) + suffix;
      }
    }
    if (Number.isInteger(n)) return String(n);
    return abs >= 10 ? String(Math.round(n)) : n.toFixed(1).replace(/\.0$/, "");
  }

  // Minutes → "3 h 20 min", "45 min", "2 d 4 h", "30 s".
  function duration(minutes) {
    if (minutes == null || isNaN(minutes)) return "—";
    const s = Math.round(minutes * 60);
    if (s === 0) return "0 min";
    if (s < 60) return s + " s";
    const m = Math.round(s / 60);
    if (m < 60) return m + " min";
    const h = Math.floor(m / 60), rm = m % 60;
    if (h < 48) return rm ? `${h} h ${rm} min` : `${h} h`;
    const d = Math.floor(h / 24), rh = h % 24;
    if (d >= 100) return compact(h) + " h";
    return rh ? `${d} d ${rh} h` : `${d} d`;
  }

  // Voice axis ticks land on whole minutes, hours and days, never on 0.25 min.
  const MINUTE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 7200, 14400, 43200, 144000];

  // Short durations for chart axes: "40 min", "1.5 h", "12 h", "3 d".
  function axisDuration(minutes) {
    if (minutes == null) return "";
    if (minutes < 60) return `${Math.round(minutes)} min`;
    const h = minutes / 60;
    if (h < 48) return `${h < 10 ? h.toFixed(1).replace(/\.0$/, "") : Math.round(h)} h`;
    return `${compact(Math.round(h / 24))} d`;
  }

  function ago(iso, now) {
    const t = Date.parse(iso);
    if (isNaN(t)) return "";
    const s = Math.max(0, Math.round(((now || Date.now()) - t) / 1000));
    if (s < 5) return "now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 86400) return Math.floor(s / 3600) + " h ago";
    return Math.floor(s / 86400) + " d ago";
  }

  function rate(v) {
    if (!v) return "0";
    return v >= 10 ? compact(Math.round(v)) : v.toFixed(1).replace(/\.0$/, "");
  }

  // Change of `now` against `before`: {text, cls} with an arrow, or a neutral note.
  function change(now, before, invert) {
    if (before == null || now == null) return { text: "", cls: "" };
    if (before === 0) return now === 0 ? { text: "no change", cls: "" } : { text: "new this period", cls: invert ? "down" : "up" };
    const pct = ((now - before) / before) * 100;
    if (Math.abs(pct) < 0.5) return { text: "≈ previous period", cls: "" };
    const up = pct > 0;
    const good = invert ? !up : up;
    if (pct >= 900) return { text: `▲ ${compact(Math.round(now / before))}× previous`, cls: good ? "up" : "down" };
    const shown = Math.abs(pct).toFixed(Math.abs(pct) < 10 ? 1 : 0);
    return { text: `${up ? "▲" : "▼"} ${shown} % vs previous`, cls: good ? "up" : "down" };
  }

  // --- DOM -----------------------------------------------------------------
  // el("a", {href: "/x", class: "c"}, "text", child): text always goes in as text, never as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "style") node.style.cssText = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c instanceof Node ? c : String(c));
    return node;
  }
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function config() {
    const node = document.getElementById("page-config");
    return node ? JSON.parse(node.textContent) : {};
  }

  // Segmented picker: calls onPick(value) when a button is pressed; returns a setter.
  function picker(root, attr, onPick) {
    const buttons = $$("button", root);
    function set(value) {
      for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset[attr] === String(value)));
    }
    for (const b of buttons) b.addEventListener("click", () => { set(b.dataset[attr]); onPick(b.dataset[attr]); });
    return set;
  }

  // --- Period: presets, a date range, and (dashboard) compare and role, kept in the URL ---------
  // Calls onChange() after every change; returns the current state and its API parameters.
  function periodControls(cfg, onChange) {
    const root = $('[data-role="period"]');
    const q = new URL(location.href).searchParams;
    const state = {
      days: cfg.days,
      start: cfg.start || "",
      end: cfg.end || "",
      compare: q.get("compare") !== "off",
      role: /^[0-9]{1,19}$/.test(q.get("role") || "") ? q.get("role") : "",
    };
    const form = $('[data-role="range"]', root);
    const compare = $('[data-role="compare"]', root);
    const role = $('[data-role="role-filter"]', root);
    const error = $('[data-role="period-error"]', root);
    const setPreset = picker($('[data-role="lookback"]', root), "days", (v) => {
      state.days = Number(v);
      state.start = state.end = "";
      changed();
    });
    const ranged = () => Boolean(state.start && state.end);
    function writeUrl() {
      const url = new URL(location.href);
      for (const k of ["days", "start", "end", "compare", "role"]) url.searchParams.delete(k);
      if (ranged()) {
        url.searchParams.set("start", state.start);
        url.searchParams.set("end", state.end);
      } else {
        url.searchParams.set("days", state.days);
      }
      if (compare && !state.compare) url.searchParams.set("compare", "off");
      if (state.role) url.searchParams.set("role", state.role);
      history.replaceState(null, "", url);
    }
    function show() {
      setPreset(ranged() ? "" : state.days);
      form.elements.start.value = state.start;
      form.elements.end.value = state.end;
      if (compare) compare.checked = state.compare;
    }
    function changed() {
      error.hidden = true;
      show();
      writeUrl();
      onChange();
    }
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const start = form.elements.start.value, end = form.elements.end.value;
      if (!start || !end || end < start) {
        error.textContent = "Pick a start date and an end date on or after it.";
        error.hidden = false;
        return;
      }
      state.start = start;
      state.end = end;
      state.days = Math.round((Date.parse(end) - Date.parse(start)) / 86400000) + 1;
      changed();
    });
    if (compare) compare.addEventListener("change", () => { state.compare = compare.checked; changed(); });
    if (role) {
      role.addEventListener("change", () => { state.role = role.value; changed(); });
      api(`/api/guilds/${cfg.guild_id}/roles`).then((r) => {
        for (const x of r.roles) role.append(el("option", { value: x.id }, `${x.name} (${compact(x.members)})`));
        role.value = state.role;
        if (role.value !== state.role) state.role = "";
        paintRole(r.roles);
        role.addEventListener("change", () => paintRole(r.roles));
      }).catch(() => {});
    }
    function paintRole(roles) {
      const found = roles.find((x) => x.id === state.role);
      const swatch = $('[data-role="role-swatch"]', root);
      swatch.style.background = found && found.color ? found.color : "transparent";
    }
    if (ranged()) state.days = Math.round((Date.parse(state.end) - Date.parse(state.start)) / 86400000) + 1;
    show();
    return {
      state,
      ranged,
      // The API's period parameters (and the role filter where the endpoint takes it).
      params(withRole) {
        const p = ranged() ? { start: state.start, end: state.end } : { days: state.days };
        if (withRole && state.role) p.role = state.role;
        return p;
      },
      label() { return ranged() ? `${state.start} – ${state.end}` : `the last ${state.days} days`; },
      // The local dates of the period of equal length just before (cfg.today: the guild's today).
      previousRange() {
        const day = (text, delta) => new Date(Date.parse(text) + delta * 86400000).toISOString().slice(0, 10);
        const first = ranged() ? state.start : day(cfg.today, 1 - state.days);
        if (day(first, -state.days) < "2015-01-01") return null;
        return { start: day(first, -state.days), end: day(first, -1) };
      },
      fail(message) { error.textContent = message; error.hidden = false; },
    };
  }

  // --- API -----------------------------------------------------------------
  async function api(path, params) {
    const url = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) url.searchParams.set(k, v);
    const res = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || `HTTP ${res.status}`);
    return body;
  }

  // --- Live socket -----------------------------------------------------------
  // Reconnects by itself with exponential backoff (1 s → 30 s, jittered); gives up on 4403 (refused).
  function liveSocket(path, handlers) {
    let ws = null, attempt = 0, timer = null, closedByUs = false;
    const status = handlers.status || (() => {});
    function open() {
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      ws = new WebSocket(`${proto}//${location.host}${path}`);
      ws.onopen = () => { attempt = 0; status("on", "live"); };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (handlers.message) handlers.message(msg);
      };
      ws.onclose = (ev) => {
        if (closedByUs) return;
        if (ev.code === 4403) { status("off", "not allowed"); return; }
        const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
        attempt += 1;
        status("off", `reconnecting in ${Math.round(delay / 1000)} s`);
        timer = setTimeout(open, delay);
      };
      ws.onerror = () => { /* onclose follows and schedules the retry */ };
    }
    open();
    return {
      close() { closedByUs = true; clearTimeout(timer); if (ws) ws.close(); },
      get socket() { return ws; },
    };
  }

  function statusBadge(node) {
    return (state, text) => {
      if (!node) return;
      for (const cls of ["on", "off", "warn"]) node.classList.toggle(cls, state === cls);
      $(".status-text", node).textContent = text;
    };
  }

  // --- Live feed list ----------------------------------------------------------
  const VERBS = {
    message: "sent a message",
    voice_join: "joined voice",
    voice_leave: "left voice",
    member_join: "joined the server",
    member_leave: "left the server",
  };

  // A feed list that dedupes by event id (a reconnect's first tick repeats recent events).
  function feedList(list, emptyNote, guildUrl, max) {
    const seen = new Set();
    const limit = max || 40;
    function add(items, filter) {
      let added = 0;
      for (const item of items) {
        const key = item.id != null ? item.id : `${item.kind}:${item.user_id}:${item.t}`;
        if (seen.has(key) || (filter && !filter(item))) continue;
        seen.add(key);
        const who = el("a", { href: `${guildUrl}members/${item.user_id}/`, class: "who" }, item.name || item.user_id);
        const where = item.channel ? [" in ", el("a", { href: `${guildUrl}channels/${item.channel_id}/` }, (item.kind === "message" ? "#" : "") + item.channel)] : [];
        const li = el("li", { "data-t": item.t, "data-kind": item.kind },
          el("span", { class: `kind ${item.kind}`, "aria-hidden": "true" }),
          el("span", { class: "what" }, who, " " + (VERBS[item.kind] || item.kind), ...where),
          el("time", { class: "when", datetime: item.t }, ago(item.t)));
        list.prepend(li);
        added += 1;
      }
      while (list.children.length > limit) list.lastElementChild.remove();
      if (seen.size > 2000) seen.clear();  // bounded memory; old ids can no longer repeat by then
      if (emptyNote) emptyNote.hidden = list.children.length > 0;
      return added;
    }
    setInterval(() => { for (const t of $$("time.when", list)) t.textContent = ago(t.getAttribute("datetime")); }, 1000);
    return { add };
  }

  // --- Charts (uPlot) ----------------------------------------------------------
  function cssVar(name) { return getComputedStyle(document.documentElement).getPropertyValue(name).trim(); }

  function emptyState(node, title, text) {
    node.replaceChildren(el("div", { class: "placeholder" }, el("div", {}, el("strong", {}, title), text)));
  }

  // series: [{t, messages, voice_minutes, active_members}] → bars of messages, a voice line, active members (toggle).
  // Hours the collector was away are shaded: messages come back from history, voice and joins do not.
  function shadeSpans(spans) {
    const ranges = (spans || []).map((s) => [Date.parse(s.start) / 1000, Date.parse(s.end) / 1000]);
    return (u) => {
      if (!ranges.length) return;
      const ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = cssVar("--warn-bg");
      for (const [a, b] of ranges) {
        const x0 = Math.max(u.bbox.left, u.valToPos(a, "x", true));
        const x1 = Math.min(u.bbox.left + u.bbox.width, u.valToPos(b, "x", true));
        if (x1 > x0) ctx.fillRect(x0, u.bbox.top, Math.max(1, x1 - x0), u.bbox.height);
      }
      ctx.restore();
    };
  }

  // `overlay` ({label, messages}): a dashed line of messages on the same points — the guild's
  // median active member (member page), or the previous period day by day (dashboard).
  function activityChart(node, series, interval, incomplete = [], overlay = null) {
    node.replaceChildren();
    const xs = series.map((p) => Date.parse(p.t) / 1000);
    const data = [xs, series.map((p) => p.messages), series.map((p) => p.voice_minutes ?? null), series.map((p) => p.active_members ?? null)];
    if (overlay) data.push(series.map((p, i) => overlay.messages[i] ?? null));
    const muted = cssVar("--muted"), grid = cssVar("--border");
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const bars = uPlot.paths && uPlot.paths.bars ? uPlot.paths.bars({ size: [0.7, 40] }) : undefined;
    const width = () => Math.max(260, node.clientWidth);
    const opts = {
      width: width(),
      height: 300,
      cursor: { points: { size: 6 } },
      hooks: { drawClear: [shadeSpans(incomplete)] },
      scales: { x: { time: true }, v: { auto: true, range: (u, min, max) => [0, Math.max(1, max)] }, m: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [
        { ...axis },
        { ...axis, scale: "m", size: 50, values: (u, vals) => vals.map(compact) },
        { ...axis, scale: "v", side: 1, size: 64, grid: { show: false }, incrs: MINUTE_STEPS, values: (u, vals) => vals.map(axisDuration) },
      ],
      series: [
        { value: (u, v) => v == null ? "—" : new Date(v * 1000).toLocaleString(undefined, interval === "hour" ? { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" } : { month: "short", day: "numeric", year: "numeric" }) },
        { label: "Messages", scale: "m", stroke: cssVar("--accent"), fill: cssVar("--accent-soft"), width: 1, paths: bars, value: (u, v) => compact(v) },
        // A member who never joined voice gets no flat voice line (the legend still toggles it).
        { label: "Voice", scale: "v", stroke: cssVar("--accent-2"), width: 2, show: data[2].some((v) => v > 0), value: (u, v) => duration(v) },
        { label: "Active members", scale: "m", stroke: cssVar("--accent-3"), width: 1.5, dash: [4, 4], show: false, value: (u, v) => compact(v) },
        ...(overlay ? [{ label: overlay.label, scale: "m", stroke: muted, width: 2, dash: [6, 3], value: (u, v) => v == null ? "—" : compact(v) }] : []),
      ],
    };
    const plot = new uPlot(opts, data, node);
    if (incomplete.length) {
      node.append(el("p", { class: "chart-note", "data-role": "incomplete-note" },
        `Shaded: ${incomplete.length === 1 ? "a time" : `${incomplete.length} times`} the collector was away. ` +
        "Messages were recovered from Discord's history; voice minutes and joins of those hours cannot be."));
    }
    const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 300 }));
    ro.observe(node);
    return plot;
  }

  // The chart's text alternative: the same series as rows of a table (in a <details> under the chart).
  function seriesTable(details, series, interval) {
    const body = $("tbody", details);
    const when = interval === "hour"
      ? { weekday: "short", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" }
      : { weekday: "short", month: "short", day: "numeric", year: "numeric" };
    body.replaceChildren(...series.map((p) => el("tr", {},
      el("th", { scope: "row" }, new Date(p.t).toLocaleString(undefined, when)),
      el("td", { class: "num" }, compact(p.messages)),
      el("td", { class: "num" }, duration(p.voice_minutes)),
      el("td", { class: "num" }, compact(p.active_members)))));
  }

  function sparkline(svg, values) {
    const line = $("polyline", svg);
    if (!values.length) { line.setAttribute("points", ""); return; }
    const max = Math.max(1, ...values);
    const step = 120 / Math.max(1, values.length - 1);
    line.setAttribute("points", values.map((v, i) => `${(i * step).toFixed(1)},${(23 - (v / max) * 22).toFixed(1)}`).join(" "));
  }

  window.Mocha = { compact, duration, ago, rate, change, el, $, $$, config, picker, periodControls, api, liveSocket, statusBadge, feedList, activityChart, seriesTable, emptyState, sparkline };
})();
