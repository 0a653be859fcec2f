// The metrics page: draws the board's flow metrics with Chart.js and redraws them when the
// board's websocket announces a new snapshot (type "metrics.updated"). An ES module; Chart.js
// itself stays the classic UMD script before it (its ES build imports "@kurkle/color" by a bare
// name, which a browser resolves only through an import map, an inline script the CSP refuses).
import { api } from "./lib/api.js";
import { LiveSocket } from "./lib/socket.js";

const root = document.querySelector(".metrics");
if (root && window.Chart) drawMetrics(root, window.Chart);

function drawMetrics(root, Chart) {
  const boardId = root.dataset.boardId;
  const live = root.dataset.defaultWindow === "true";
  // Stage colours for the first column of each stage; further columns of a stage take these.
  const palette = ["#a855f7", "#0ea5e9", "#f97316", "#ec4899", "#14b8a6", "#84cc16", "#64748b"];
  const stageColour = { backlog: "#cbd5e1", wait: "#fbbf24", active: "#3b82f6", done: "#10b981" };
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475569";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  const charts = {};

  function fmt(n, digits = 1) { return n === null || n === undefined ? "–" : Number(n).toFixed(digits); }
  function dayLabel(iso) { return iso.slice(5); }

  function columnColours(columns) {
    const seen = {};
    let extra = 0;
    return columns.map((c) => {
      seen[c.stage] = (seen[c.stage] || 0) + 1;
      return seen[c.stage] === 1 && stageColour[c.stage] ? stageColour[c.stage] : palette[extra++ % palette.length];
    });
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function render(m) {
    document.getElementById("kpi-lead").textContent = fmt(m.lead_time.p85);
    document.getElementById("kpi-cycle").textContent = fmt(m.cycle_time.p85);
    document.getElementById("kpi-throughput").textContent = m.lead_time.count;
    document.getElementById("kpi-efficiency").textContent =
      m.flow_efficiency.value === null ? "–" : Math.round(m.flow_efficiency.value * 100) + " %";
    document.getElementById("kpi-blocked").textContent = fmt(m.blocked.blocked_days);
    document.getElementById("kpi-blocked-now").textContent = m.blocked.currently_blocked;
    const computed = document.getElementById("computed-at");
    computed.dateTime = m.computed_at;
    computed.textContent = (m.computed_at || "").slice(0, 16).replace("T", " ");

    // Cumulative flow: done at the bottom, backlog on top, as the eye reads a CFD.
    const columns = m.cfd.columns.slice().reverse();
    const colours = columnColours(m.cfd.columns).reverse();
    draw("chart-cfd", {
      type: "line",
      data: {
        labels: m.cfd.days.map(dayLabel),
        datasets: columns.map((c, i) => ({
          label: c.name, data: c.counts, fill: i === 0 ? "origin" : "-1",
          backgroundColor: colours[i] + "cc", borderColor: colours[i], borderWidth: 1, pointRadius: 0,
        })),
      },
      options: { scales: { y: { stacked: true, beginAtZero: true, title: { display: true, text: "cards" } },
                           x: { ticks: { maxTicksLimit: 12 } } },
                 plugins: { legend: { position: "bottom" } }, interaction: { mode: "index", intersect: false } },
    });

    // Lead-time scatter with percentile lines.
    const start = Date.parse(m.window.from + "T00:00:00Z");
    const points = m.finished.map((f) => ({ x: (Date.parse(f.finished_at) - start) / 864e5, y: f.lead_days, title: f.title }));
    const span = (Date.parse(m.window.to + "T00:00:00Z") - start) / 864e5 + 1;
    const line = (value, label, colour) => ({
      type: "line", label: label + " " + fmt(value) + " d", data: value === null ? [] : [{ x: 0, y: value }, { x: span, y: value }],
      borderColor: colour, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0,
    });
    draw("chart-lead", {
      type: "scatter",
      data: { datasets: [
        { label: "finished cards", data: points, backgroundColor: "#2563eb99", pointRadius: 3 },
        line(m.lead_time.p50, "p50", "#10b981"), line(m.lead_time.p85, "p85", "#f59e0b"), line(m.lead_time.p95, "p95", "#ef4444"),
      ] },
      options: {
        scales: {
          x: { min: 0, max: span, title: { display: true, text: "finished on" },
               ticks: { callback: (v) => new Date(start + v * 864e5).toISOString().slice(5, 10) } },
          y: { beginAtZero: true, title: { display: true, text: "lead time (days)" } },
        },
        plugins: { legend: { position: "bottom" },
                   tooltip: { callbacks: { label: (ctx) => (ctx.raw.title ? ctx.raw.title + ": " : "") + fmt(ctx.raw.y) + " d" } } },
      },
    });

    draw("chart-throughput", {
      type: "bar",
      data: { labels: m.throughput.map((w) => w.week.slice(5)),
              datasets: [{ label: "finished", data: m.throughput.map((w) => w.count), backgroundColor: "#10b981" }] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { display: false } } },
    });

    // Ageing WIP: columns of the wait and active stages, one dot per card.
    const wipColumns = m.wip.filter((c) => c.stage === "wait" || c.stage === "active");
    const index = Object.fromEntries(wipColumns.map((c, i) => [c.column, i]));
    const ageing = m.ageing.filter((a) => a.column in index)
      .map((a) => ({ x: index[a.column] + (Math.random() - 0.5) * 0.5, y: a.age_days, title: a.title, blocked: a.blocked }));
    draw("chart-ageing", {
      type: "scatter",
      data: { datasets: [
        { label: "cards in progress", data: ageing, pointRadius: 4,
          backgroundColor: ageing.map((a) => (a.blocked ? "#ef4444cc" : "#2563eb99")) },
        { type: "line", label: "cycle time p85 " + fmt(m.cycle_time.p85) + " d",
          data: m.cycle_time.p85 === null ? [] : [{ x: -0.5, y: m.cycle_time.p85 }, { x: wipColumns.length - 0.5, y: m.cycle_time.p85 }],
          borderColor: "#f59e0b", borderDash: [6, 4], pointRadius: 0 },
      ] },
      options: {
        scales: {
          x: { min: -0.5, max: Math.max(wipColumns.length - 0.5, 0.5),
               afterBuildTicks: (axis) => { axis.ticks = wipColumns.map((_, i) => ({ value: i })); },
               ticks: { callback: (v) => (wipColumns[v] ? wipColumns[v].name : "") }, grid: { display: false } },
          y: { beginAtZero: true, title: { display: true, text: "age (days)" } },
        },
        plugins: { legend: { position: "bottom" },
                   tooltip: { callbacks: { label: (ctx) => (ctx.raw.title || "") + ": " + fmt(ctx.raw.y) + " d" } } },
      },
    });

    // Work in progress: the committed, unfinished columns (backlog and done are not WIP).
    const inProgress = m.wip.filter((c) => c.stage === "wait" || c.stage === "active");
    draw("chart-wip", {
      type: "bar",
      data: { labels: inProgress.map((c) => c.name), datasets: [
        { label: "WIP", data: inProgress.map((c) => c.wip),
          backgroundColor: inProgress.map((c) => (c.wip_limit && c.wip > c.wip_limit ? "#ef4444" : stageColour[c.stage] || "#94a3b8")) },
        { type: "line", label: "WIP limit", data: inProgress.map((c) => c.wip_limit), borderColor: "#0f172a", showLine: false,
          pointStyle: "line", pointRadius: 18, pointHoverRadius: 18, pointBorderWidth: 3 },
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }, plugins: { legend: { position: "bottom" } } },
    });
  }

  render(JSON.parse(document.getElementById("metrics-data").textContent));
  root.dataset.rendered = "true";

  if (!live) return;
  // Live: a new snapshot is announced on the board's websocket; fetch it and redraw.
  async function refresh() {
    const metrics = await api("GET", `/boards/${boardId}/metrics/`).catch(() => null);
    if (!metrics) return;
    render(metrics);
    root.dataset.refreshed = String(Number(root.dataset.refreshed || 0) + 1);
  }
  new LiveSocket(`/ws/boards/${boardId}/`, {
    onMessage(event) {
      if (event.type === "metrics.updated") refresh();
    },
  }).connect();
}
