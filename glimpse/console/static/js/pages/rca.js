// Root causes: the probable causes of an incident, ranked, each with its evidence, and the
// incident highlighted on the service map.
import { fetchOr404, fmtValue, unavailable } from "../components/analysis.js";
import { drawGraph } from "../components/graph.js";
import { api, bar, fmtNs, fmtTime, fromLocalInput, h, notice, serviceChip, stat, toLocalInput, traceLink } from "../components/util.js";
import { href } from "../router.js";

export async function render(root, ctx) {
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
