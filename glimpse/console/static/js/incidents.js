// Anomalies (timeline, each signal against its baseline band, correlation heatmap) and
// root causes (ranked candidates with evidence, the incident highlighted on the map).
import { href } from "./app.js";
import { timeChart } from "./charts.js";
import { drawGraph } from "./map.js";
import { api, ApiError, bar, fmtNs, fmtTime, fromLocalInput, h, mix, notice, s, serviceChip, stat, toLocalInput, traceLink } from "./util.js";

function unavailable(what, path) {
  return h("div", { class: "card", id: "not-available" }, notice(`${what} is not available`,
    h("span", {}, `This glimpse server has no ${path} endpoint yet (it answered 404). `,
      "The page fills in as soon as the server provides it; the other pages work meanwhile.")));
}

/** The endpoint's answer; null when the server has no such route; {missing: message} for its own 404. */
async function fetchOr404(path, params) {
  try {
    return await api(path, params);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    return /^(404 )?Not Found$/.test(error.message) ? null : { missing: error.message };
  }
}

function fmtValue(v) {
  if (v === null || v === undefined) return "–";
  if (typeof v !== "number") return String(v);
  const abs = Math.abs(v);
  if (abs === 0) return "0";
  return abs >= 100 ? v.toFixed(0) : abs >= 10 ? v.toFixed(1) : abs >= 1 ? v.toFixed(2) : String(Number(v.toPrecision(3)));
}
// Scores are 0..1 (the detectors' confidence): amber when weak, red when strong.
const scoreColor = (score) => mix("#e9b018", "#e5484d", Math.max(0, Math.min(1, ((score || 0) - 0.3) / 0.6)));

// ---- anomalies ------------------------------------------------------------------------

export async function renderAnomalies(root, ctx) {
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

// ---- root causes ----------------------------------------------------------------------

export async function renderRootCauses(root, ctx) {
  const p = ctx.params;
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Root causes"),
    h("span", { class: "sub" }, "probable causes of an incident, ranked, each with its evidence")));
  const params = { since: ctx.window.since, until: ctx.window.until, baseline_since: p.get("baseline_since"), baseline_until: p.get("baseline_until"), service: p.get("service") };
  root.append(rcaForm(ctx));
  const data = await fetchOr404("/api/rca", params);
  if (data === null) { root.append(unavailable("Root-cause analysis", "/api/rca")); return; }
  if (data.missing) { root.append(h("div", { class: "card", id: "no-incident" }, notice("No incident to explain", data.missing))); return; }
  const incident = data.incident || {};
  const candidates = data.candidates || [];
  const start = incident.start ?? incident.start_ns, end = incident.end ?? incident.end_ns;
  const services = incident.services || incident.entities || [];
  const base = data.baseline || {};
  root.append(h("div", { class: "card", id: "incident" }, h("h2", {}, incident.id !== undefined ? `Incident #${incident.id}` : "Incident"),
    h("div", { class: "stats" },
      stat(start ? fmtTime(start, { millis: false }) : "–", "from"), stat(end ? fmtTime(end, { millis: false }) : "–", "to"),
      start && end ? stat(fmtNs(Number(end) - Number(start)), "lasted") : "",
      stat(fmtValue(incident.score), "score"), incident.anomalies !== undefined ? stat(String(incident.anomalies), "anomalous signals") : "",
      stat(String(candidates.length), "candidates")),
    services.length ? h("div", { style: { marginTop: "8px" } }, h("span", { class: "muted" }, "affected: "), services.map((e) => serviceChip(String(e)))) : "",
    base.start_ns || base.start ? h("div", { class: "muted", style: { marginTop: "6px", fontSize: "12px" } },
      `compared with the baseline ${fmtTime(base.start_ns ?? base.start, { millis: false })} → ${fmtTime(base.end_ns ?? base.end, { millis: false })}`) : ""));
  if (!candidates.length) {
    root.append(h("div", { class: "card" }, notice("No candidate", "Nothing in this window stands out against the baseline.")));
    return;
  }
  const mapBox = h("div", { class: "map-canvas small", id: "rca-map" });
  root.append(h("div", { class: "card" }, h("h2", {}, "The incident on the map"),
    h("p", { class: "muted" }, "Ringed in red: the affected services and the candidates, with their rank (#1 is the most probable cause)."), mapBox));
  const top = Math.max(...candidates.map((c) => c.score || 0), 1e-9);
  root.append(h("h2", { style: { marginTop: "18px" } }, "Candidates"), h("div", { id: "candidates" }, candidates.map((c) => h("div", { class: "card candidate" },
    h("div", { style: { display: "flex", alignItems: "center", gap: "10px" } },
      h("span", { class: "stat" }, h("span", { class: "v" }, `#${c.rank}`)), h("span", { class: "badge accent" }, c.kind), h("strong", { style: { fontSize: "15px" } }, c.name),
      c.service && c.service !== c.name ? h("span", { class: "muted" }, `in ${c.service}`) : "", h("div", { class: "spacer" }),
      h("span", { class: "num" }, `score ${fmtValue(c.score)}`), h("div", { style: { width: "160px" } }, bar((c.score || 0) / top, "#e5484d"))),
    h("ul", { class: "evidence" }, (c.evidence || []).map(evidenceItem)),
    c.remediation ? h("div", { class: "remediation" }, h("strong", {}, "What to do: "), c.remediation) : ""))));
  const graph = await api("/api/graph", { format: "cytoscape", since: start ?? ctx.window.since, until: end ?? ctx.window.until });
  const ranks = new Map();
  for (const c of candidates) for (const name of [c.name, c.service]) if (name && !ranks.has(name)) ranks.set(name, c.rank);
  const elements = [...graph.elements.nodes.map((n) => ({ data: { ...n.data, label: ranks.has(n.data.id) ? `#${ranks.get(n.data.id)}  ${n.data.id}` : n.data.id }, classes: n.data.kind })),
    ...graph.elements.edges.map((e) => ({ data: { ...e.data, label: "" } }))];
  if (!elements.length) { mapBox.append(notice("No calls in the incident window", "")); return; }
  const highlight = [...new Set([...services.map(String), ...ranks.keys()])];
  const cy = drawGraph(mapBox, elements, { highlight });
  // anomalous calls ("edge:a -> b" entities of the incident) in red too
  const incidents = (await api("/api/anomalies", { since: ctx.window.since, until: ctx.window.until }).catch(() => ({ incidents: [] }))).incidents || [];
  const match = incidents.find((i) => Number(i.start) === Number(start)) || incidents[0];
  for (const entity of (match && match.entities) || []) {
    const edge = /^edge:(.+) -> (.+)$/.exec(entity);
    if (edge) cy.getElementById(`${edge[1]}->${edge[2]}`).addClass("highlight");
  }
  cy.nodes().filter((n) => !highlight.includes(n.id())).style("opacity", 0.55);
  window.glimpseRcaMap = cy;
}

/** The baseline window and the service to explain (both optional). */
function rcaForm(ctx) {
  const p = ctx.params;
  const since = h("input", { type: "datetime-local", step: 1, value: p.get("baseline_since") ? toLocalInput(p.get("baseline_since")) : "" });
  const until = h("input", { type: "datetime-local", step: 1, value: p.get("baseline_until") ? toLocalInput(p.get("baseline_until")) : "" });
  const service = h("select", { "aria-label": "service" }, h("option", { value: "" }, "Any service"),
    (ctx.extent.service_names || []).map((name) => h("option", { value: name, selected: name === p.get("service") }, name)));
  const form = h("form", { class: "toolbar", id: "rca-form" },
    h("label", { class: "field" }, "Baseline from (default: before the incident)", since), h("label", { class: "field" }, "Baseline to", until),
    h("label", { class: "field" }, "Explain the incident of", service), h("button", { class: "btn", type: "submit" }, "Analyse"),
    h("span", { class: "muted", style: { alignSelf: "center" } }, "The time picker sets the incident window; without one, the latest incident is found."));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = Object.fromEntries(p);
    Object.assign(params, { baseline_since: fromLocalInput(since.value) || "", baseline_until: fromLocalInput(until.value) || "", service: service.value });
    location.hash = href("rca", params);
  });
  return form;
}

function evidenceItem(evidence) {
  if (typeof evidence !== "object" || evidence === null) return h("li", {}, String(evidence));
  const { trace_ids: traceIds, detail, summary, before, after, signal, unit, ...rest } = evidence;
  const text = detail || summary || rest.description;
  delete rest.description;
  const compare = before && after && typeof before === "object"
    ? Object.keys({ ...before, ...after }).map((key) => h("span", { class: "chip" }, h("span", { class: "muted" }, key), ` ${fmtValue(before[key])} → `, h("strong", {}, fmtValue(after[key]))))
    : before !== undefined || after !== undefined ? [h("span", { class: "chip" }, `${fmtValue(before)} → `, h("strong", {}, fmtValue(after)))] : [];
  return h("li", { class: "evidence-item" },
    h("div", {}, signal ? h("span", { class: "badge" }, signal + (unit ? ` (${unit})` : "")) : "", " ", text || ""),
    h("div", { class: "evidence-facts" }, compare,
      Object.entries(rest).map(([key, value]) => h("span", { class: "chip" }, h("span", { class: "muted" }, key.replace(/_/g, " ")), " ", typeof value === "object" ? JSON.stringify(value) : fmtValue(value))),
      traceIds && traceIds.length ? h("span", { class: "chip" }, "traces ", traceIds.slice(0, 5).map((id, i) => [i ? ", " : "", traceLink(id, id.slice(0, 8))])) : ""));
}
