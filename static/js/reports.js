// Report pages: draws the report's chart with Chart.js (static/vendor/chartjs) from the JSON the
// page carries (#report-data, the same envelope as GET /api/v1/reports/<name>). The table
// under the chart holds the same figures, so the page is complete without this file.
document.addEventListener("DOMContentLoaded", () => {
  const source = document.getElementById("report-data");
  const canvas = document.getElementById("report-chart");
  if (!source || !canvas || typeof window.Chart === "undefined") return;
  const report = JSON.parse(source.textContent);

  const colors = { blue: "#2456d6", green: "#067647", orange: "#c4600a", red: "#b42318",
                   grey: "#5b6470", purple: "#6941c6" };
  const hours = (minutes) => (minutes === null ? null : Math.round(minutes / 6) / 10);
  const periods = (report.series || []).map((bucket) => bucket.period);
  const bars = (label, data, color, extra = {}) => ({ type: "bar", label, data,
    backgroundColor: color, borderColor: color, ...extra });
  const line = (label, data, color, extra = {}) => ({ type: "line", label, data,
    borderColor: color, backgroundColor: color, tension: 0.2, spanGaps: true, ...extra });
  const targetLabels = { first_reply: "First reply", next_reply: "Next reply",
                         resolution: "Resolution" };

  const charts = {
    volume: () => ({
      labels: periods,
      datasets: [
        bars("Created", report.series.map((b) => b.created), colors.blue),
        bars("Solved", report.series.map((b) => b.solved), colors.green),
        bars("Reopened", report.series.map((b) => b.reopened), colors.orange),
        line("Backlog at end", report.series.map((b) => b.backlog), colors.grey),
      ],
      y: "Tickets",
    }),
    "first-response": () => ({
      labels: periods,
      datasets: [
        line("First reply, median", report.series.map((b) => hours(b.first_reply_median_minutes)),
             colors.blue),
        line("Next reply, median", report.series.map((b) => hours(b.next_reply_median_minutes)),
             colors.purple),
      ],
      y: "Business hours",
    }),
    resolution: () => ({
      labels: periods,
      datasets: [line("Resolution, median", report.series.map((b) => hours(b.median_minutes)),
                      colors.blue)],
      y: "Business hours",
    }),
    sla: () => ({
      labels: report.targets.map((t) => targetLabels[t.target] || t.target),
      datasets: [
        bars("Achieved", report.targets.map((t) => t.achieved), colors.green, { stack: "sla" }),
        bars("Breached", report.targets.map((t) => t.breached), colors.red, { stack: "sla" }),
      ],
      y: "Replies and tickets",
      stacked: true,
    }),
    agents: () => ({
      labels: report.agents.map((a) => a.name),
      datasets: [
        bars("Tickets solved", report.agents.map((a) => a.tickets_solved), colors.green),
        bars("Replies", report.agents.map((a) => a.replies), colors.blue),
        bars("Open now", report.agents.map((a) => a.open_load), colors.orange),
      ],
      y: "Count",
    }),
  };
  const build = charts[report.report];
  if (!build) return;
  const { labels, datasets, y, stacked } = build();

  new window.Chart(canvas, {
    data: { labels, datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: Boolean(stacked) },
        y: { beginAtZero: true, stacked: Boolean(stacked), title: { display: true, text: y } },
      },
      plugins: { legend: { position: "bottom" } },
    },
  });
});
