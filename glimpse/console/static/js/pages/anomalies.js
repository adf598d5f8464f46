// Anomalies: a timeline of the signals that left their baseline, grouped into incidents, each
// signal against its baseline band, and the correlation heatmap across services.
import { fetchOr404, fmtValue, unavailable } from "../components/analysis.js";
import { timeChart } from "../components/charts.js";
import { fmtTime, h, mix, notice, s, serviceChip, stat } from "../components/util.js";
import { href } from "../router.js";

// Scores are 0..1 (the detectors' confidence): amber when weak, red when strong.
const scoreColor = (score) => mix("#e9b018", "#e5484d", Math.max(0, Math.min(1, ((score || 0) - 0.3) / 0.6)));

export async function render(root, ctx) {
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Anomalies and incidents"),
    h("span", { class: "sub" }, "signals that left their baseline, grouped into incidents")));
  const data = await fetchOr404("/api/anomalies", { since: ctx.window.since, until: ctx.window.until });
  if (data === null) { root.append(unavailable("Anomaly detection", "/api/anomalies")); return; }
  if (data.missing) { root.append(h("div", { class: "card" }, notice("Nothing found", data.missing))); return; }
  const anomalies = data.anomalies || [], incidents = data.incidents || [];
  root.append(h("div", { class: "card" }, h("div", { class: "stats" }, stat(String(incidents.length), "incidents"), stat(String(anomalies.length), "anomalous signals"),
    stat(String(new Set(anomalies.map((a) => a.entity)).size), "entities affected"))));
  if (!anomalies.length) {
    root.append(h("div", { class: "card" }, notice("Nothing anomalous in this window", "Every signal stayed within its baseline.")));
  } else {
    root.append(h("div", { class: "card", id: "anomaly-timeline" }, h("h2", {}, "Timeline"), timeline(anomalies, incidents, ctx)));
    if (incidents.length) root.append(h("div", { class: "card flush" }, h("table", { class: "data", id: "incidents" },
      h("thead", {}, h("tr", {}, h("th", {}, "Incident"), h("th", {}, "From"), h("th", {}, "To"), h("th", {}, "Entities"), h("th", { class: "num" }, "Score"), h("th", {}, ""))),
      h("tbody", {}, incidents.map((inc) => h("tr", {}, h("td", {}, h("strong", {}, `#${inc.id}`)), h("td", {}, fmtTime(inc.start, { millis: false })), h("td", {}, fmtTime(inc.end, { millis: false })),
        h("td", {}, (inc.services || []).map((e) => serviceChip(String(e))), h("span", { class: "muted" }, ` ${(inc.entities || []).length} entities · ${inc.anomalies ?? ""} signals`)),
        h("td", { class: "num" }, fmtValue(inc.score)),
        h("td", {}, h("a", { href: href("rca", { since: String(inc.start), until: String(inc.end), range: "custom" }) }, "root causes →"))))))));
    const charts = h("div", { class: "grid2", id: "anomaly-charts" });
    root.append(h("h2", { style: { marginTop: "18px" } }, "Signals against their baselines"), charts);
    const sorted = [...anomalies].sort((a, b) => (b.score || 0) - (a.score || 0));
    const first = 8;
    const more = h("button", { class: "btn", id: "more-signals", style: { marginBottom: "14px" } }, `Show all ${sorted.length} signals`);
    more.addEventListener("click", () => { more.remove(); sorted.slice(first).forEach((a) => charts.append(anomalyCard(a, anomalies.indexOf(a)))); });
    if (sorted.length > first) root.append(more);
    requestAnimationFrame(() => sorted.slice(0, first).forEach((a) => charts.append(anomalyCard(a, anomalies.indexOf(a)))));
  }
  if (data.correlation && data.correlation.entities && data.correlation.entities.length) {
    root.append(h("div", { class: "card", id: "correlation" }, h("h2", {}, "Correlation across services"),
      h("p", { class: "muted" }, "How the entities' anomalous signals move together in this window (1: together, −1: opposite)."), heatmap(data.correlation)));
  }
}

function timeline(anomalies, incidents, ctx) {
  const starts = [...anomalies.map((a) => a.start), ...incidents.map((i) => i.start)].map(Number);
  const ends = [...anomalies.map((a) => a.end), ...incidents.map((i) => i.end)].map(Number);
  const t0 = Number(ctx.window.since ?? ctx.extent.first_ns ?? Math.min(...starts));
  const t1 = Number(ctx.window.until ?? ctx.extent.last_ns ?? Math.max(...ends));
  const ordered = [...anomalies].sort((a, b) => Number(a.start) - Number(b.start) || (b.score || 0) - (a.score || 0));
  const rows = [...new Set(ordered.map((a) => `${a.entity} · ${a.signal}`))];
  const width = 1100, left = 300, rowH = 22, top = 22, height = top + rows.length * rowH + 24;
  const x = (t) => left + ((Number(t) - t0) / Math.max(t1 - t0, 1)) * (width - left - 10);
  const parts = [];
  for (const inc of incidents) {
    parts.push(s("rect", { x: x(inc.start), y: 0, width: Math.max(2, x(inc.end) - x(inc.start)), height: height - 20, fill: "#e5484d", "fill-opacity": 0.08, stroke: "#e5484d", "stroke-opacity": 0.4 }),
      s("text", { x: x(inc.start) + 4, y: 14, "font-size": 11, fill: "#e5484d" }, `incident #${inc.id}`));
  }
  rows.forEach((label, i) => {
    const y = top + i * rowH;
    parts.push(s("text", { x: left - 8, y: y + 14, "text-anchor": "end", "font-size": 12, fill: "currentColor" }, s("title", {}, label), label.length > 40 ? label.slice(0, 39) + "…" : label),
      s("line", { x1: left, x2: width - 10, y1: y + rowH - 2, y2: y + rowH - 2, stroke: "currentColor", "stroke-opacity": 0.08 }));
  });
  anomalies.forEach((a, i) => {
    const y = top + rows.indexOf(`${a.entity} · ${a.signal}`) * rowH;
    parts.push(s("rect", { x: x(a.start), y: y + 4, width: Math.max(3, x(a.end) - x(a.start)), height: rowH - 8, rx: 3, fill: scoreColor(a.score), class: "anomaly-bar",
      onclick: () => { document.getElementById("more-signals")?.click(); requestAnimationFrame(() => document.getElementById(`anomaly-${i}`)?.scrollIntoView({ behavior: "smooth", block: "center" })); } },
    s("title", {}, `${a.entity_kind} ${a.entity}: ${a.signal}\nscore ${fmtValue(a.score)} · observed ${fmtValue(a.observed)} vs baseline ${fmtValue(a.baseline)}`)));
  });
  [0, 0.25, 0.5, 0.75, 1].forEach((f) => parts.push(s("text", { x: left + f * (width - left - 10), y: height - 6, "font-size": 11, fill: "currentColor", opacity: 0.6,
    "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle" }, fmtTime(t0 + f * (t1 - t0), { date: false, millis: false }))));
  return s("svg", { class: "timeline", viewBox: `0 0 ${width} ${height}` }, parts);
}

function anomalyCard(a, index) {
  const holder = h("div", {});
  const card = h("div", { class: "card anomaly", id: `anomaly-${index}` },
    h("div", { style: { display: "flex", justifyContent: "space-between", gap: "8px" } },
      h("div", {}, h("span", { class: "badge" }, a.entity_kind), " ", h("strong", {}, a.entity), h("span", { class: "muted" }, ` · ${a.signal}`)),
      h("span", { class: "badge bad", style: { background: scoreColor(a.score), color: "#fff" } }, `score ${fmtValue(a.score)}`)),
    h("div", { class: "muted", style: { fontSize: "12px", margin: "4px 0 8px" } },
      `${fmtTime(a.start, { millis: false })} → ${fmtTime(a.end, { date: false, millis: false })} · observed ${fmtValue(a.observed)} vs baseline ${fmtValue(a.baseline)}`),
    holder);
  const series = a.series;
  if (series && series.t && series.t.length) {
    requestAnimationFrame(() => timeChart(holder, {
      t: series.t, height: 170, yFormat: fmtValue, legend: false, highlight: [a.start, a.end],
      band: series.baseline_low && series.baseline_high ? { low: series.baseline_low, high: series.baseline_high, label: "baseline", color: "#4f7cff" } : null,
      series: [{ label: a.signal, values: series.value, color: "#e5484d", width: 2, spanGaps: true, points: true }],
    }));
  } else holder.append(h("div", { class: "muted" }, "No series for this signal."));
  return card;
}

function heatmap({ entities, matrix }) {
  const cell = (v) => {
    const value = Number(v);
    const color = value >= 0 ? mix("#f4f5f7", "#e5484d", Math.min(1, value)) : mix("#f4f5f7", "#3d6bff", Math.min(1, -value));
    return h("td", { style: { background: color, color: Math.abs(value) > 0.6 ? "#fff" : "#1d2330" }, title: value.toFixed(3) }, value.toFixed(2));
  };
  return h("div", { style: { overflowX: "auto" } }, h("table", { class: "heat" },
    h("thead", {}, h("tr", {}, h("th", {}), entities.map((e) => h("th", { class: "col" }, e)))),
    h("tbody", {}, entities.map((e, i) => h("tr", {}, h("th", { style: { textAlign: "right" } }, e), (matrix[i] || []).map(cell))))));
}
