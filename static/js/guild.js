/* The guild dashboard: cards, activity chart, leaderboards, channels, heatmap from the JSON API; rates and feed live. */
(function () {
  "use strict";
  const M = window.Mocha;
  const cfg = M.config();
  const base = `/api/guilds/${cfg.guild_id}`;
  const state = { interval: "day", load: 0, previousRanks: {} };
  let period = null;  // set below: presets, range, compare and role
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  // --- Headline cards ---------------------------------------------------------
  function renderCards(now) {
    const t = now.totals;
    const prev = now.previous || {};
    for (const card of M.$$("[data-card]")) {
      const key = card.dataset.card;
      const value = t[key];
      M.$(".stat-value", card).textContent = key === "voice_minutes" ? M.duration(value) : M.compact(value);
      const delta = M.$(".stat-delta", card);
      const c = key in prev ? M.change(value, prev[key], delta.dataset.invert === "1") : { text: `in ${period.label()}`, cls: "" };
      delta.textContent = c.text;
      delta.className = `stat-delta ${c.cls}`;
    }
  }

  // --- Leaderboards -------------------------------------------------------------
  function renderBoard(metric, entries) {
    const list = M.$(`[data-role="top-${metric}"]`);
    list.replaceChildren();
    if (!entries.length) {
      list.append(M.el("li", { class: "empty-note" }, metric === "voice" ? "Nobody has been in voice yet." : "No messages yet."));
      return;
    }
    const max = Math.max(...entries.map((e) => e.value), 1e-9);
    const before = state.previousRanks[metric];
    for (const e of entries) {
      list.append(M.el("li", { class: metric },
        M.el("span", { class: "fill", style: `width:${((e.value / max) * 100).toFixed(1)}%` }),
        M.el("span", { class: "rank" }, e.rank),
        M.el("a", { class: "name", href: `${cfg.guild_url}members/${e.user_id}/` }, e.name),
        before ? rankChange(e.rank, before[e.user_id]) : null,
        M.el("span", { class: "value" }, metric === "voice" ? M.duration(e.value) : M.compact(e.value))));
    }
  }

  // ▲3 (up three places), ▼1, "new" (not ranked in the previous period), nothing when unchanged.
  function rankChange(rank, previous) {
    if (previous === undefined) return null;
    if (previous === null) return M.el("span", { class: "rank-change new", title: "not ranked in the previous period" }, "new");
    const d = previous - rank;
    if (!d) return M.el("span", { class: "rank-change same", title: "same rank as the previous period" }, "=");
    return M.el("span", { class: `rank-change ${d > 0 ? "up" : "down"}`, title: `rank ${previous} in the previous period` }, `${d > 0 ? "▲" : "▼"}${Math.abs(d)}`);
  }

  function keepPreviousRanks(metric, entries) {
    state.previousRanks[metric] = period.state.compare
      ? Object.fromEntries(entries.map((e) => [e.user_id, e.previous_rank]))
      : null;
    return entries;
  }

  // --- Retention ------------------------------------------------------------------------
  function renderRetention(cohorts) {
    const body = M.$('[data-role="retention"] tbody');
    body.replaceChildren();
    const pct = (n, of) => (of ? `${Math.round((n / of) * 100)} %` : "—");
    for (const c of cohorts.slice().reverse()) {
      const still = c.still_member_after_30_days;
      body.append(M.el("tr", {},
        M.el("th", { scope: "row" }, c.week_start),
        M.el("td", { class: "num" }, M.compact(c.joined)),
        M.el("td", { class: "num" }, `${M.compact(c.active_first_day)} · ${pct(c.active_first_day, c.joined)}`),
        M.el("td", { class: "num" }, `${M.compact(c.active_first_week)} · ${pct(c.active_first_week, c.joined)}`),
        M.el("td", { class: "num" }, still === null ? M.el("span", { class: "muted", title: "30 days have not passed yet" }, "pending") : `${M.compact(still)} · ${pct(still, c.joined)}`)));
    }
    // A small cohort chart: per week, joiners (bar) and the share active within a week (dot).
    const svg = M.$('[data-role="retention-chart"]');
    const w = 320, h = 90, n = cohorts.length, step = w / Math.max(n, 1);
    const most = Math.max(1, ...cohorts.map((c) => c.joined));
    const ns = "http://www.w3.org/2000/svg";
    const shape = (tag, attrs, title) => {
      const node = document.createElementNS(ns, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (title) { const t = document.createElementNS(ns, "title"); t.textContent = title; node.append(t); }
      return node;
    };
    svg.replaceChildren();
    cohorts.forEach((c, i) => {
      const bh = (c.joined / most) * (h - 14);
      svg.append(shape("rect", { x: i * step + step * 0.2, y: h - bh, width: step * 0.6, height: bh, class: "joined" }, `week of ${c.week_start}: ${c.joined} joined`));
      const active = c.joined ? c.active_first_week / c.joined : 0;
      const kept = c.joined ? (c.active_first_day / c.joined) : 0;
      svg.append(shape("rect", { x: i * step + step * 0.2, y: h - bh * active, width: step * 0.6, height: bh * active, class: "active" }, `${Math.round(active * 100)} % active within a week`));
      if (c.joined) svg.append(shape("circle", { cx: i * step + step / 2, cy: h - kept * (h - 14), r: 2.5, class: "first-day" }, `${Math.round(kept * 100)} % active on their first day`));
    });
  }

  // --- Channels -------------------------------------------------------------------
  function renderChannels(channels) {
    const body = M.$('[data-role="channels"] tbody');
    body.replaceChildren();
    const rows = channels.filter((c) => c.messages || c.voice_minutes)
      .sort((a, b) => (b.messages - a.messages) || (b.voice_minutes - a.voice_minutes)).slice(0, 10);
    if (!rows.length) {
      body.append(M.el("tr", {}, M.el("td", { colspan: "4", class: "empty-note" }, "No channel activity in this period.")));
      return;
    }
    for (const c of rows) {
      body.append(M.el("tr", {},
        M.el("td", {}, M.el("a", { href: `${cfg.guild_url}channels/${c.channel_id}/` }, c.name || c.channel_id),
          c.deleted ? M.el("span", { class: "muted" }, " · deleted") : null),
        M.el("td", { class: "num" }, M.compact(c.messages)),
        M.el("td", { class: "num" }, M.duration(c.voice_minutes)),
        M.el("td", { class: "num" }, M.compact(c.active_members))));
    }
  }

  // --- Heatmap --------------------------------------------------------------------
  const WEEKDAY_NAMES = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  function renderHeatmap(cells) {
    M.$('[data-role="heatmap-table"] tbody').replaceChildren(...cells.map((row, d) => M.el("tr", {},
      M.el("th", { scope: "row" }, WEEKDAY_NAMES[d]), ...row.map((v) => M.el("td", { class: "num" }, M.compact(v))))));
    const node = M.$('[data-role="heatmap"]');
    node.replaceChildren(M.el("span"));
    for (let h = 0; h < 24; h++) node.append(M.el("span", { class: "hour" }, h % 3 === 0 ? h : ""));
    const max = Math.max(1, ...cells.flat());
    cells.forEach((row, d) => {
      node.append(M.el("span", { class: "day" }, WEEKDAYS[d]));
      row.forEach((v, h) => {
        const title = `${WEEKDAYS[d]} ${String(h).padStart(2, "0")}:00 — ${M.compact(v)} message${v === 1 ? "" : "s"}`;
        node.append(M.el("span", { class: v ? "cell" : "cell zero", title, style: `opacity:${(0.12 + 0.88 * Math.sqrt(v / max)).toFixed(2)}` }));  // sqrt: one busy hour must not wash out the rest
      });
    });
  }

  // --- Loading ---------------------------------------------------------------------
  async function loadChart(token) {
    const chart = M.$('[data-role="activity-chart"]');
    try {
      const stats = { ...period.params(true), interval: state.interval };
      if (period.state.compare) stats.compare = "previous";
      const before = period.state.compare ? period.previousRange() : null;
      const [s, gaps, prev] = await Promise.all([
        M.api(`${base}/stats`, stats),
        M.api(`${base}/incomplete`, period.params(false)).catch(() => ({ incomplete: [] })),
        before
          ? M.api(`${base}/stats`, { ...before, interval: state.interval, ...(period.state.role ? { role: period.state.role } : {}) }).catch(() => null)
          : null,
      ]);
      if (token !== state.load) return;
      const t = s.totals;
      if (!s.series.length || !(t.messages || t.voice_minutes || t.active_members)) {
        M.emptyState(chart, "No activity yet", `Nothing was counted in ${period.label()}. The chart fills as soon as the collector counts messages or voice time.`);
      } else {
        // The previous period, point by point: its day (or hour) i beside this period's day i.
        const overlay = prev ? { label: "Previous period", messages: prev.series.map((p) => p.messages) } : null;
        M.activityChart(chart, s.series, state.interval, gaps.incomplete, overlay);
        M.seriesTable(M.$('[data-role="activity-table"]'), s.series, state.interval);
      }
      return s;
    } catch (e) {
      M.emptyState(chart, "Couldn't load the chart", e.message);
      period.fail(e.message);
    }
  }

  async function loadAll() {
    const token = ++state.load;
    const p = period.params(true);
    const board = (metric) => {
      const q = { ...p, metric, limit: 10 };
      if (period.state.compare) q.compare = "previous";
      return M.api(`${base}/leaderboard`, q).then((r) => renderBoard(metric, keepPreviousRanks(metric, r.entries)));
    };
    const now = await loadChart(token);
    if (token !== state.load) return;
    if (now) renderCards(now);
    const jobs = [
      board("messages"),
      board("voice"),
      M.api(`${base}/channels`, p).then((r) => renderChannels(r.channels)),
      M.api(`${base}/heatmap`, p).then((r) => renderHeatmap(r.cells)),
    ];
    await Promise.allSettled(jobs);
  }

  // A new lookback brings its natural interval back: hourly bars over a year would be 8,760 slivers.
  const defaultInterval = (days) => (days <= 7 ? "hour" : "day");
  const setInterval_ = M.picker(M.$('[data-role="interval"]'), "interval", (v) => {
    state.interval = v;
    state.load += 1;
    loadChart(state.load);
  });
  let lastDays = null;
  period = M.periodControls(cfg, () => {
    if (period.state.days !== lastDays) {  // compare and role keep the interval the viewer chose
      lastDays = period.state.days;
      state.interval = defaultInterval(lastDays);
      setInterval_(state.interval);
    }
    loadAll();
  });
  lastDays = period.state.days;
  state.interval = defaultInterval(lastDays);
  setInterval_(state.interval);
  loadAll();
  M.api(`${base}/retention`, { weeks: 8 }).then((r) => renderRetention(r.cohorts)).catch(() => {});

  // --- Live ----------------------------------------------------------------------------
  const feed = M.feedList(M.$('[data-role="feed"]'), M.$('[data-role="feed-empty"]'), cfg.guild_url, 40);
  const spark = [];
  // Messages are frequent enough for a rate; joins are counted over the last hour (one join
  // in a few seconds must not read as a dozen a minute).
  function renderRates(r, lastHour) {
    M.$('[data-rate="messages"]').textContent = M.rate(r.messages);
    M.$('[data-last-hour="voice_joins"]').textContent = M.compact(lastHour.voice_joins || 0);
    M.$('[data-last-hour="member_joins"]').textContent = M.compact(lastHour.member_joins || 0);
    spark.push(r.messages || 0);
    if (spark.length > 120) spark.shift();
    M.sparkline(M.$('[data-role="spark"]'), spark);
  }
  const status = M.statusBadge(M.$('[data-role="live-status"]'));
  M.liveSocket(cfg.ws, {
    status,
    message(msg) {
      if (msg.type === "tick") {
        renderRates(msg.rates || {}, msg.last_hour || {});
        feed.add(msg.feed || []);
        if (msg.collector && !msg.collector.connected) status("warn", "live · collector offline");
        else status("on", "live");
      } else if (msg.type === "leaderboard" && !period.ranged() && !period.state.role && Number(msg.days) === period.state.days) {
        renderBoard(msg.metric, msg.entries || []);
      }
    },
  });
})();
