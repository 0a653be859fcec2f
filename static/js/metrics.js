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
  // Dates carry their year: a 90-day window, or one picked by hand, may span two.
  const dateFormat = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
  function dayLabel(iso) { return dateFormat.format(new Date(iso.slice(0, 10) + "T00:00:00Z")); }
  // "2026-W48" -> "23 Nov 2026" (its Monday: ISO week 1 holds 4 January).
  function weekLabel(isoWeek) {
    const [year, week] = isoWeek.split("-W").map(Number);
    const jan4 = Date.UTC(year, 0, 4);
    const monday = jan4 - ((new Date(jan4).getUTCDay() + 6) % 7) * 864e5 + (week - 1) * 7 * 864e5;
    return dateFormat.format(new Date(monday));
  }
  // The board's one ageing threshold (selectors.typical_cycle_time_days), as the board page,
  // the stand-up and the ageing alerts use it; empty while no card has finished.
  const ageingAfter = root.dataset.ageingAfter === "" ? null : Number(root.dataset.ageingAfter);
  const axis = (text) => ({ display: true, text });

  function columnColours(columns) {
    const seen = {};
    let extra = 0;
    return columns.map((c) => {
      seen[c.stage] = (seen[c.stage] || 0) + 1;
      return seen[c.stage] === 1 && stageColour[c.stage] ? stageColour[c.stage] : palette[extra++ % palette.length];
    });
  }

  // A chart with nothing to draw says what would fill it instead of showing empty axes.
  function draw(id, config, emptyMessage = null) {
    if (charts[id]) charts[id].destroy();
    delete charts[id];
    const canvas = document.getElementById(id);
    const figure = canvas.closest(".chart");
    let note = figure.querySelector(".no-data");
    if (emptyMessage) {
      if (!note) {
        note = document.createElement("p");
        note.className = "no-data";
        canvas.parentElement.after(note);
      }
      note.textContent = emptyMessage;
      canvas.parentElement.hidden = true;
      figure.dataset.empty = "true";
      return;
    }
    if (note) note.remove();
    canvas.parentElement.hidden = false;
    delete figure.dataset.empty;
    charts[id] = new Chart(canvas, config);
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
    const finishedNone = m.finished.length === 0;

    // Cumulative flow: done at the bottom, backlog on top, as the eye reads a CFD.
    const columns = m.cfd.columns.slice().reverse();
    const colours = columnColours(m.cfd.columns).reverse();
    const anyCard = columns.some((c) => c.counts.some((n) => n > 0));
    draw("chart-cfd", {
      type: "line",
      data: {
        labels: m.cfd.days.map(dayLabel),
        datasets: columns.map((c, i) => ({
          label: c.name, data: c.counts, fill: i === 0 ? "origin" : "-1",
          backgroundColor: colours[i] + "cc", borderColor: colours[i], borderWidth: 1, pointRadius: 0,
        })),
      },
      options: { scales: { y: { stacked: true, beginAtZero: true, title: axis("cards (at the end of the day)"), ticks: { precision: 0 } },
                           x: { title: axis("day"), ticks: { maxTicksLimit: 10 } } },
                 plugins: { legend: { position: "bottom", reverse: true, title: { display: true, text: "Columns" } } },
                 interaction: { mode: "index", intersect: false } },
    }, anyCard ? null : "Not enough data yet — add a few cards and move them along to see how work flows through the columns.");

    // Lead-time scatter with percentile lines.
    const start = Date.parse(m.window.from + "T00:00:00Z");
    const points = m.finished.map((f) => ({ x: (Date.parse(f.finished_at) - start) / 864e5, y: f.lead_days, title: f.title }));
    const span = (Date.parse(m.window.to + "T00:00:00Z") - start) / 864e5 + 1;
    const line = (value, label, colour) => ({
      type: "line", label: label + " " + fmt(value) + " days", data: value === null ? [] : [{ x: 0, y: value }, { x: span, y: value }],
      borderColor: colour, backgroundColor: colour, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0,
    });
    draw("chart-lead", {
      type: "scatter",
      data: { datasets: [
        { label: "a finished card", data: points, backgroundColor: "#2563eb99", borderColor: "#2563eb", pointRadius: 3 },
        line(m.lead_time.p50, "50 % within", "#10b981"), line(m.lead_time.p85, "85 % within", "#f59e0b"), line(m.lead_time.p95, "95 % within", "#ef4444"),
      ] },
      options: {
        scales: {
          x: { min: 0, max: span, title: axis("finished on (day)"),
               ticks: { maxTicksLimit: 6, includeBounds: false, callback: (v) => dayLabel(new Date(start + v * 864e5).toISOString()) } },
          y: { beginAtZero: true, title: axis("lead time (days)") },
        },
        plugins: { legend: { position: "bottom" },
                   tooltip: { callbacks: { label: (ctx) => (ctx.raw.title ? ctx.raw.title + ": " : "") + fmt(ctx.raw.y) + " days" } } },
      },
    }, finishedNone ? "Not enough data yet — finish a few cards to see their lead times and the percentiles to forecast with." : null);

    draw("chart-throughput", {
      type: "bar",
      data: { labels: m.throughput.map((w) => weekLabel(w.week)),
              datasets: [{ label: "cards finished in the week", data: m.throughput.map((w) => w.count), backgroundColor: "#10b981" }] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: axis("cards finished") },
                           x: { title: axis("week starting Monday"), ticks: { maxTicksLimit: 7 } } },
                 plugins: { legend: { position: "bottom" } } },
    }, finishedNone && !m.throughput.some((w) => w.count > 0)
      ? "Not enough data yet — finish a few cards to see how many the team finishes each week." : null);

    // Ageing WIP: columns of the wait and active stages, one dot per card.
    const wipColumns = m.wip.filter((c) => c.stage === "wait" || c.stage === "active");
    const index = Object.fromEntries(wipColumns.map((c, i) => [c.column, i]));
    const ageing = m.ageing.filter((a) => a.column in index)
      .map((a) => ({ x: index[a.column] + (Math.random() - 0.5) * 0.5, y: a.age_days, title: a.title, blocked: a.blocked }));
    const datasets = [
      { label: "a card in progress", data: ageing.filter((a) => !a.blocked), pointRadius: 4, backgroundColor: "#2563eb99", borderColor: "#2563eb" },
      { label: "a blocked card", data: ageing.filter((a) => a.blocked), pointRadius: 4, backgroundColor: "#ef4444cc", borderColor: "#ef4444" },
    ];
    if (ageingAfter !== null) {
      datasets.push({ type: "line", label: "ageing after " + fmt(ageingAfter) + " days (p85)",
        data: [{ x: -0.5, y: ageingAfter }, { x: wipColumns.length - 0.5, y: ageingAfter }],
        borderColor: "#f59e0b", backgroundColor: "#f59e0b", borderDash: [6, 4], pointRadius: 0 });
    }
    draw("chart-ageing", {
      type: "scatter",
      data: { datasets },
      options: {
        scales: {
          x: { min: -0.5, max: Math.max(wipColumns.length - 0.5, 0.5), title: axis("column"),
               afterBuildTicks: (axis) => { axis.ticks = wipColumns.map((_, i) => ({ value: i })); },
               ticks: { callback: (v) => (wipColumns[v] ? wipColumns[v].name : "") }, grid: { display: false } },
          y: { beginAtZero: true, title: axis("age (days)") },
        },
        plugins: { legend: { position: "bottom" },
                   tooltip: { callbacks: { label: (ctx) => (ctx.raw.title || "") + ": " + fmt(ctx.raw.y) + " days" } } },
      },
    }, ageing.length ? null : "No work in progress — pull a card into a waiting or active column to see how long it has been there.");

    // Work in progress: the committed, unfinished columns (backlog and done are not WIP).
    // Two bar series, so that the legend names both colours: within the limit, over it.
    const inProgress = m.wip.filter((c) => c.stage === "wait" || c.stage === "active");
    const over = (c) => c.wip_limit && c.wip > c.wip_limit;
    draw("chart-wip", {
      type: "bar",
      data: { labels: inProgress.map((c) => c.name), datasets: [
        { label: "cards (within the limit)", data: inProgress.map((c) => (over(c) ? null : c.wip)), backgroundColor: "#3b82f6", stack: "wip" },
        { label: "cards (over the limit)", data: inProgress.map((c) => (over(c) ? c.wip : null)), backgroundColor: "#ef4444", stack: "wip" },
        { type: "line", label: "WIP limit", data: inProgress.map((c) => c.wip_limit), borderColor: "#0f172a", backgroundColor: "#0f172a", showLine: false,
          pointStyle: "line", pointRadius: 18, pointHoverRadius: 18, pointBorderWidth: 3 },
      ] },
      options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: axis("cards") }, x: { title: axis("column") } },
                 plugins: { legend: { position: "bottom" } } },
    }, inProgress.length ? null : "No waiting or active column on this board: add one in its settings to see work in progress.");
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
