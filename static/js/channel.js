/* A channel's page: its totals and share of the guild from /api/guilds/<gid>/channels, and its slice of the live feed. */
(function () {
  "use strict";
  const M = window.Mocha;
  const cfg = M.config();
  const state = { load: 0 };
  let period = null;

  function share(part, whole) {
    if (!whole) return "";
    const pct = (part / whole) * 100;
    return `${pct < 10 ? pct.toFixed(1) : Math.round(pct)} % of the guild`;
  }

  async function load() {
    const token = ++state.load;
    let r;
    try {
      r = await M.api(`/api/guilds/${cfg.guild_id}/channels`, period.params(false));
    } catch (e) {
      M.$('[data-role="rank"]').textContent = e.message;
      return;
    }
    if (token !== state.load) return;
    const all = r.channels || [];
    const c = all.find((x) => String(x.channel_id) === cfg.channel_id) || { messages: 0, voice_minutes: 0, active_members: 0 };
    const sum = (k) => all.reduce((acc, x) => acc + (x[k] || 0), 0);
    M.$('[data-card="messages"] .stat-value').textContent = M.compact(c.messages);
    M.$('[data-card="voice_minutes"] .stat-value').textContent = M.duration(c.voice_minutes);
    M.$('[data-card="active_members"] .stat-value').textContent = M.compact(c.active_members);
    M.$('[data-role="share-messages"]').textContent = c.messages ? share(c.messages, sum("messages")) : `none in ${period.label()}`;
    M.$('[data-role="share-voice"]').textContent = c.voice_minutes ? share(c.voice_minutes, sum("voice_minutes")) : `none in ${period.label()}`;
    const rank = 1 + all.filter((x) => x.messages > c.messages).length;
    M.$('[data-role="rank"]').textContent = c.messages ? `#${rank} of ${all.length} channels by messages` : `in ${period.label()}`;
  }

  period = M.periodControls(cfg, load);
  load();

  const feed = M.feedList(M.$('[data-role="feed"]'), M.$('[data-role="feed-empty"]'), cfg.guild_url, 40);
  const status = M.statusBadge(M.$('[data-role="live-status"]'));
  M.liveSocket(cfg.ws, {
    status,
    message(msg) {
      if (msg.type === "tick") feed.add(msg.feed || [], (item) => item.channel_id === cfg.channel_id);
    },
  });
})();
