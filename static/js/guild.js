/* The guild dashboard: cards, activity chart, leaderboards, channels, heatmap from the JSON API; rates and feed live. */
(function () {
  "use strict";
  const M = window.Mocha;
  const cfg = M.config();
  const base = `/api/guilds/${cfg.guild_id}`;
  const state = { days: cfg.days, interval: "day", load: 0 };
  const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  // --- Headline cards ---------------------------------------------------------
  function renderCards(now, wide) {
    const t = now.totals;
    const prev = wide ? {
      messages: wide.totals.messages - t.messages,
      voice_minutes: wide.totals.voice_minutes - t.voice_minutes,
      joins: wide.totals.joins - t.joins,
      leaves: wide.totals.leaves - t.leaves,
    } : {};
    for (const card of M.$$("[data-card]")) {
      const key = card.dataset.card;
      const value = t[key];
      M.$(".stat-value", card).textContent = key === "voice_minutes" ? M.duration(value) : M.compact(value);
      const delta = M.$(".stat-delta", card);
      const c = key in prev ? M.change(value, prev[key], delta.dataset.invert === "1") : { text: `in ${state.days} days`, cls: "" };
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
    for (const e of entries) {
      list.append(M.el("li", { class: metric },
        M.el("span", { class: "fill", style: `width:${((e.value / max) * 100).toFixed(1)}%` }),
        M.el("span", { class: "rank" }, e.rank),
        M.el("a", { class: "name", href: `${cfg.guild_url}members/${e.user_id}/` }, e.name),
        M.el("span", { class: "value" }, metric === "voice" ? M.duration(e.value) : M.compact(e.value))));
    }
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
      const [s, gaps] = await Promise.all([
        M.api(`${base}/stats`, { days: state.days, interval: state.interval }),
        M.api(`${base}/incomplete`, { days: state.days }).catch(() => ({ incomplete: [] })),
      ]);
      if (token !== state.load) return;
      const t = s.totals;
      if (!s.series.length || !(t.messages || t.voice_minutes || t.active_members)) {
        M.emptyState(chart, "No activity yet", `Nothing was counted in the last ${state.days} days. The chart fills as soon as the collector counts messages or voice time.`);
      } else {
        M.activityChart(chart, s.series, state.interval, gaps.incomplete);
        M.seriesTable(M.$('[data-role="activity-table"]'), s.series, state.interval);
      }
      return s;
    } catch (e) {
      M.emptyState(chart, "Couldn't load the chart", e.message);
    }
  }

  async function loadAll() {
    const token = ++state.load;
    const d = state.days;
    const [now, wide] = await Promise.all([
      loadChart(token),
      M.api(`${base}/stats`, { days: Math.min(3650, 2 * d), interval: "day" }).catch(() => null),
    ]);
    if (token !== state.load) return;
    if (now) renderCards(now, wide);
    const jobs = [
      M.api(`${base}/leaderboard`, { metric: "messages", days: d, limit: 10 }).then((r) => renderBoard("messages", r.entries)),
      M.api(`${base}/leaderboard`, { metric: "voice", days: d, limit: 10 }).then((r) => renderBoard("voice", r.entries)),
      M.api(`${base}/channels`, { days: d }).then((r) => renderChannels(r.channels)),
      M.api(`${base}/heatmap`, { days: d }).then((r) => renderHeatmap(r.cells)),
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
  M.picker(M.$('[data-role="lookback"]'), "days", (v) => {
    state.days = Number(v);
    state.interval = defaultInterval(state.days);
    setInterval_(state.interval);
    loadAll();
  });
  state.interval = defaultInterval(state.days);
  setInterval_(state.interval);
  loadAll();

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
      } else if (msg.type === "leaderboard" && Number(msg.days) === state.days) {
        renderBoard(msg.metric, msg.entries || []);
      }
    },
  });
})();
