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
    let m;
    try {
      m = await M.api(`/api/guilds/${cfg.guild_id}/members/${cfg.user_id}`, period.params(false));
    } catch (e) {
      M.emptyState(chart, "Couldn't load this member", e.message);
      return;
    }
    if (token !== state.load) return;
    M.$('[data-card="messages"] .stat-value').textContent = M.compact(m.messages);
    M.$('[data-card="voice_minutes"] .stat-value').textContent = M.duration(m.voice_minutes);
    const rank = m.rank || {};
    M.$('[data-role="rank-messages"]').textContent = rank.messages ? `${ordinal(rank.messages)} in the guild` : `in ${period.label()}`;
    M.$('[data-role="rank-voice"]').textContent = rank.voice ? `${ordinal(rank.voice)} in the guild` : `in ${period.label()}`;
    const series = m.series || [];
    if (!series.length || !(m.messages || m.voice_minutes)) {
      M.emptyState(chart, "No activity in this period", `${M.$("h1").textContent} has no counted messages or voice time in ${period.label()}.`);
    } else {
      M.activityChart(chart, series, "day");
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

  period = M.periodControls(cfg, load);
  load();
})();
