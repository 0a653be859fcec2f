// The metrics page's improvement markers: a dashed vertical line, with the improvement's title,
// at the start day of each improvement (boards/kaizen/) on the time charts (cumulative flow,
// lead-time scatter, weekly throughput). A Chart.js plugin registered globally before
// metrics.js draws (module scripts run in document order), so metrics.js needs no change; the
// markers come from the page's "improvement-markers" JSON, each with its x in every chart's
// own terms (day_index: days from the window's first day; week_index: the ISO week's bar).
const data = document.getElementById("improvement-markers");
const markers = data ? JSON.parse(data.textContent) : [];
const xOf = {
  "chart-cfd": (m) => m.day_index,
  "chart-lead": (m) => m.day_index,
  // A bar spans its week, Monday to Sunday: a Monday start is the bar's left edge.
  "chart-throughput": (m) => m.week_index + (m.weekday - 3.5) / 7,
};

if (window.Chart && markers.length) {
  window.Chart.register({
    id: "improvementMarkers",
    afterDatasetsDraw(chart) {
      const x = xOf[chart.canvas.id];
      const scale = chart.scales.x;
      if (!x || !scale) return;
      const { ctx, chartArea } = chart;
      ctx.save();
      ctx.font = "600 11px " + window.Chart.defaults.font.family;
      ctx.textBaseline = "top";
      markers.forEach((m, i) => {
        const px = scale.getPixelForValue(x(m));
        if (!Number.isFinite(px) || px < chartArea.left - 1 || px > chartArea.right + 1) return;
        ctx.strokeStyle = "#7c3aed";
        ctx.lineWidth = 1.5;
        ctx.setLineDash([4, 3]);
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        ctx.setLineDash([]);
        const label = m.title.length > 28 ? m.title.slice(0, 27) + "…" : m.title;
        const width = ctx.measureText(label).width;
        // Right of the line, or left of it near the right edge; stacked when there are several;
        // on a white ground, to stay readable over the bars and bands.
        const left = px + 4 + width > chartArea.right ? px - 4 - width : px + 4;
        const top = chartArea.top + 2 + (i % 3) * 14;
        ctx.fillStyle = "rgba(255, 255, 255, 0.85)";
        ctx.fillRect(left - 2, top - 1, width + 4, 13);
        ctx.fillStyle = "#7c3aed";
        ctx.fillText(label, left, top);
      });
      ctx.restore();
    },
  });
  document.querySelector(".metrics")?.setAttribute("data-markers", String(markers.length));
}
