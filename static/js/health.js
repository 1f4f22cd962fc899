/* The health page: panels re-rendered from every /ws/health/ message (the /metrics document plus panel documents). */
(function () {
  "use strict";
  const M = window.Mocha;
  const eps = [];

  function renderPanel(p) {
    const stats = M.el("dl", { class: "kv" }, ...p.stats.map((s) =>
      M.el("div", { class: s.warn ? "warn" : null }, M.el("dt", {}, s.label), M.el("dd", {}, s.value))));
    const parts = [M.el("div", { class: "card-head" }, M.el("h2", {}, p.title), M.el("span", { class: "muted panel-summary" }, p.summary)), stats];
    if (p.table && p.table.rows && p.table.rows.length) {
      parts.push(M.el("div", { class: "table-wrap" }, M.el("table", { class: "table" },
        M.el("thead", {}, M.el("tr", {}, ...p.table.columns.map((c) => M.el("th", {}, c)))),
        M.el("tbody", {}, ...p.table.rows.map((row) => M.el("tr", {}, ...row.map((cell) => M.el("td", {}, cell))))))));
    }
    parts.push(M.el("ul", { class: "warnings" }, ...p.warnings.map((w) => M.el("li", {}, w))));
    return M.el("section", { class: "card panel", "data-panel": p.id }, ...parts);
  }

  const root = M.$('[data-role="panels"]');
  M.liveSocket("/ws/health/", {
    status: M.statusBadge(M.$('[data-role="live-status"]')),
    message(msg) {
      if (Array.isArray(msg.panels)) root.replaceChildren(...msg.panels.map(renderPanel));
      if (typeof msg.events_per_sec === "number") {
        eps.push(msg.events_per_sec);
        if (eps.length > 120) eps.shift();
        M.$('[data-role="eps-now"]').textContent = `${M.rate(msg.events_per_sec)} events/s`;
        M.sparkline(M.$('[data-role="eps-spark"]'), eps);
      }
      document.body.dataset.healthUpdates = String(Number(document.body.dataset.healthUpdates || 0) + 1);
    },
  });
})();
