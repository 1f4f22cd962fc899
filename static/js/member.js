/* A member's page: totals with ranks, activity chart, channels, from /api/guilds/<gid>/members/<uid>. */
(function () {
  "use strict";
  const M = window.Mocha;
  const cfg = M.config();
  const state = { load: 0 };
  let period = null;

  function ordinal(n) {
    const s = ["th", "st", "nd", "rd"], v = n % 100;
    return n + (s[(v - 20) % 10] || s[v] || s[0]);
  }

  async function load() {
    const token = ++state.load;
    const chart = M.$('[data-role="activity-chart"]');
    let m, ctx;
    try {
      [m, ctx] = await Promise.all([
        M.api(`/api/guilds/${cfg.guild_id}/members/${cfg.user_id}`, period.params(false)),
        M.api(`/api/guilds/${cfg.guild_id}/members/${cfg.user_id}/context`, { ...period.params(false), compare: "previous" })
          .catch(() => null),
      ]);
    } catch (e) {
      M.emptyState(chart, "Couldn't load this member", e.message);
      period.fail(e.message);
      return;
    }
    if (token !== state.load) return;
    M.$('[data-card="messages"] .stat-value').textContent = M.compact(m.messages);
    M.$('[data-card="voice_minutes"] .stat-value').textContent = M.duration(m.voice_minutes);
    const rank = m.rank || {};
    const before = (ctx && ctx.previous && ctx.previous.rank) || {};
    const rankText = (now, was) => {
      const text = now ? `${ordinal(now)} in the guild` : `in ${period.label()}`;
      return was ? `${text} · was ${ordinal(was)} the period before` : text;
    };
    M.$('[data-role="rank-messages"]').textContent = rankText(rank.messages, before.messages);
    M.$('[data-role="rank-voice"]').textContent = rankText(rank.voice, before.voice);
    renderHours(ctx ? ctx.hours : null);
    renderRankHistory(ctx ? ctx.rank_history : null);
    const series = m.series || [];
    if (!series.length || !(m.messages || m.voice_minutes)) {
      M.emptyState(chart, "No activity in this period", `${M.$("h1").textContent} has no counted messages or voice time in ${period.label()}.`);
    } else {
      const median = ctx && ctx.median ? { label: "Median member", messages: ctx.median.map((p) => p.messages) } : null;
      M.activityChart(chart, series, "day", [], median);
      M.seriesTable(M.$('[data-role="activity-table"]'), series, "day");
    }
    const body = M.$('[data-role="channels"] tbody');
    body.replaceChildren();
    const rows = (m.channels || []).filter((c) => c.messages || c.voice_minutes);
    if (!rows.length) body.append(M.el("tr", {}, M.el("td", { colspan: "3", class: "empty-note" }, "No channel activity in this period.")));
    for (const c of rows) {
      body.append(M.el("tr", {},
        M.el("td", {}, M.el("a", { href: `${cfg.guild_url}channels/${c.channel_id}/` }, c.name || c.channel_id),
          c.deleted ? M.el("span", { class: "muted" }, " · deleted") : null),
        M.el("td", { class: "num" }, M.compact(c.messages)),
        M.el("td", { class: "num" }, M.duration(c.voice_minutes))));
    }
  }

  // The member's messages by local hour: a bar per hour, the busiest three named.
  function renderHours(hours) {
    const node = M.$('[data-role="hours"]');
    const note = M.$('[data-role="top-hours"]');
    node.replaceChildren();
    if (!hours) { note.textContent = ""; return; }
    const max = Math.max(1, ...hours);
    hours.forEach((v, h) => node.append(M.el("span", {
      class: v ? "hour-bar" : "hour-bar zero",
      style: `height:${Math.max(2, (v / max) * 100).toFixed(1)}%`,
      title: `${String(h).padStart(2, "0")}:00 — ${M.compact(v)} message${v === 1 ? "" : "s"}`,
    })));
    const top = hours.map((v, h) => [v, h]).filter(([v]) => v).sort((a, b) => b[0] - a[0]).slice(0, 3);
    note.textContent = top.length
      ? `Most active at ${top.map(([, h]) => `${String(h).padStart(2, "0")}:00`).join(", ")} (${cfg.timezone})`
      : "No messages in this period.";
  }

  function renderRankHistory(weeks) {
    const list = M.$('[data-role="rank-history"]');
    list.replaceChildren();
    if (!weeks) {
      list.append(M.el("li", { class: "empty-note" }, "Pick a period of a year or less."));
      return;
    }
    for (const w of weeks) {
      const day = new Date(`${w.week_start}T00:00:00Z`).toLocaleDateString(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
      list.append(M.el("li", { class: w.rank ? "" : "unranked" },
        M.el("span", { class: "week" }, day),
        M.el("span", { class: "place" }, w.rank ? `#${w.rank}` : "—")));
    }
  }

  period = M.periodControls(cfg, load);
  load();
})();
