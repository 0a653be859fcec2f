// The improvements page's XmR charts: each reviewed improvement's target metric week by week,
// the baseline weeks then the weeks since the start (a dashed line between them), with the
// baseline's centre line and natural process limits; weeks outside the limits in purple. The
// data is the canvas' data-xmr JSON (boards/kaizen/pages.py). Chart.js is the classic script
// before this module, as on the metrics page.
const Chart = window.Chart;

if (Chart) {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = "#475569";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;
  document.querySelectorAll("canvas[data-xmr]").forEach(draw);
}

function draw(canvas) {
  const d = JSON.parse(canvas.dataset.xmr);
  const weeks = [...d.before, ...d.after];
  const scale = d.percent ? 100 : 1;
  const shown = (v) => (v === null || v === undefined ? null : v * scale);
  const labels = weeks.map((w) => w.start.slice(5));
  const flat = (v) => weeks.map(() => shown(v));
  const outside = new Set(d.outside);
  const colours = weeks.map((w, i) => (i >= d.before.length && outside.has(w.start) ? "#7c3aed" : "#2563eb"));
  const unit = d.percent ? "%" : d.unit;
  const limitLine = { borderColor: "#ef4444", borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, fill: false };
  const startLine = {
    id: "xmrStart",
    afterDatasetsDraw(chart) {
      if (!d.after.length) return;
      const x = chart.scales.x.getPixelForValue(d.before.length - 0.5);
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.strokeStyle = "#7c3aed";
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, chartArea.top);
      ctx.lineTo(x, chartArea.bottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.fillStyle = "#7c3aed";
      ctx.font = "600 11px " + Chart.defaults.font.family;
      ctx.textBaseline = "top";
      ctx.fillText("start", x + 4, chartArea.top + 2);
      ctx.restore();
    },
  };
  new Chart(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        { label: d.label + (unit ? " (" + unit + ")" : ""), data: weeks.map((w) => shown(w.value)),
          borderColor: "#2563eb", pointBackgroundColor: colours, pointBorderColor: colours, pointRadius: 4, spanGaps: true },
        { label: "centre line", data: flat(d.centre), borderColor: "#10b981", borderDash: [2, 3], borderWidth: 1.5, pointRadius: 0 },
        { label: "natural process limits", data: flat(d.upper), ...limitLine },
        { label: "", data: flat(d.lower), ...limitLine },
      ],
    },
    options: {
      scales: { y: { beginAtZero: true, title: { display: true, text: unit || "" } }, x: { title: { display: true, text: "week from" } } },
      plugins: { legend: { position: "bottom", labels: { filter: (item) => item.text !== "" } } },
      interaction: { mode: "index", intersect: false },
    },
    plugins: [startLine],
  });
  canvas.closest(".xmr").dataset.rendered = "true";
}
