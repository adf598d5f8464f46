// Service map: the dependency graph, statistics and neighbours on click, and a diff between
// windows (new, vanished and changed calls).
import { drawGraph, KIND_LABELS, KIND_SHAPES } from "../components/graph.js";
import {
  api, errorColor, fmtCount, fmtMs, fmtPct, fmtRate, fmtTime, fromLocalInput, h, notice, stat, toLocalInput,
} from "../components/util.js";
import { href } from "../router.js";

const KIND_CAPTIONS = { database: "database", messaging: "queue", external: "external", user: "outside callers" };

/** Cytoscape elements from the API's cytoscape export (plus labels). */
function elementsOf(graph, classes = "") {
  const nodes = graph.elements.nodes.map((n) => ({ data: { ...n.data, label: nodeLabel(n.data) }, classes: `${n.data.kind} ${classes}` }));
  const edges = graph.elements.edges.map((e) => ({ data: { ...e.data, label: edgeLabel(e.data) }, classes }));
  return { nodes, edges };
}

function nodeLabel(d) {
  const name = d.id;
  if (d.kind !== "service") return KIND_CAPTIONS[d.kind] ? `${name}\n${KIND_CAPTIONS[d.kind]}` : name;
  const parts = [fmtRate(d.request_rate)];
  if (d.error_rate) parts.push(`${fmtPct(d.error_rate)} err`);
  if (d.p95_ms !== null && d.p95_ms !== undefined) parts.push(`p95 ${fmtMs(d.p95_ms)}`);
  return `${name}\n${parts.join(" · ")}`;
}

function edgeLabel(d) {
  const p95 = d.client_p95_ms ?? d.server_p95_ms;
  return `${fmtCount(d.calls)}${d.error_rate ? ` · ${fmtPct(d.error_rate)} err` : ""}${p95 !== null && p95 !== undefined ? ` · ${fmtMs(p95)}` : ""}`;
}

function legend() {
  const shape = (kind) => h("span", {}, h("span", { class: "badge" }, KIND_SHAPES[kind].replace("round-", "")), " ", KIND_LABELS[kind]);
  return h("div", { class: "legend" }, ["service", "database", "messaging", "external", "user"].map(shape),
    h("span", {}, "error rate 0", h("span", { class: "ramp" }), "≥ 5 %"),
    h("span", {}, "dashed edge = messaging"));
}

export async function render(root, ctx) {
  const p = ctx.params;
  const mode = p.get("diff") || "";
  const win = ctx.window;
  const head = h("div", { class: "page-head" }, h("h1", {}, "Service map"),
    h("span", { class: "sub" }, "scroll to zoom · drag to pan or move a service · click a service or a call for details"));
  const labels = h("input", { type: "checkbox", checked: p.get("labels") === "1" });
  const compare = h("select", { "aria-label": "diff mode", id: "diff-mode" },
    [["", "No comparison"], ["prev", "Compare with the previous period"], ["halves", "Compare first half → second half"], ["custom", "Compare with a custom baseline…"]]
      .map(([value, label]) => h("option", { value, selected: value === mode }, label)));
  const dsince = h("input", { type: "datetime-local", step: 1, value: p.get("dsince") ? toLocalInput(p.get("dsince")) : "" });
  const duntil = h("input", { type: "datetime-local", step: 1, value: p.get("duntil") ? toLocalInput(p.get("duntil")) : "" });
  const customBox = h("span", { style: { display: mode === "custom" ? "inline-flex" : "none", gap: "6px", alignItems: "center" } },
    "baseline", dsince, "→", duntil, h("button", { class: "btn small", onclick: () => setParams({ diff: "custom", dsince: fromLocalInput(dsince.value), duntil: fromLocalInput(duntil.value) }) }, "Apply"));
  const fit = h("button", { class: "btn small" }, "Fit");
  const relayout = h("button", { class: "btn small" }, "Re-layout");
  function setParams(extra) {
    const params = Object.fromEntries(ctx.params);
    for (const key of ["diff", "dsince", "duntil"]) delete params[key];
    location.hash = href("map", { ...params, ...extra });
  }
  compare.addEventListener("change", () => {
    if (compare.value === "custom") customBox.style.display = "inline-flex";
    else setParams({ diff: compare.value });
  });
  labels.addEventListener("change", () => cy && cy.edges().toggleClass("labelled", labels.checked));
  const canvas = h("div", { class: "map-canvas", id: "service-map" });
  const side = h("div", { class: "card side", id: "map-side" });
  root.append(head,
    h("div", { class: "toolbar" }, compare, customBox, h("label", { class: "check" }, labels, "edge labels"), fit, relayout),
    h("div", { class: "map-layout" }, canvas, side), h("div", { class: "card", style: { marginTop: "14px" } }, legend()));

  // windows: current (and baseline in diff mode)
  let current = { since: win.since, until: win.until };
  let baseline = null;
  if (mode) {
    const since = BigInt(win.since ?? ctx.extent.first_ns ?? 0);
    const until = BigInt(win.until ?? (ctx.extent.last_ns !== null ? BigInt(ctx.extent.last_ns) + 1n : 1n));
    if (mode === "prev") baseline = { since: String(2n * since - until), until: String(since) };
    else if (mode === "halves") {
      const middle = (since + until) / 2n;
      baseline = { since: String(since), until: String(middle) };
      current = { since: String(middle), until: String(until) };
    } else baseline = { since: p.get("dsince"), until: p.get("duntil") };
  }
  const graph = await api("/api/graph", { format: "cytoscape", ...current });
  const elements = elementsOf(graph);
  let diff = null;
  if (baseline) {
    const [before, changes] = await Promise.all([
      api("/api/graph", { format: "cytoscape", ...baseline }),
      api("/api/graph/diff", { since: current.since, until: current.until, diff_since: baseline.since, diff_until: baseline.until }),
    ]);
    diff = changes;
    mergeDiff(elements, elementsOf(before, "vanished"), changes);
  }
  if (!elements.nodes.length) {
    canvas.append(notice("No calls in this window", "The map is drawn from spans: pick a wider window."));
    side.append(h("div", { class: "muted" }, "Nothing to show."));
    return;
  }
  const focus = p.get("focus");
  let cy = null;
  const select = (target) => showSelection(side, cy, target, ctx, graph, diff, baseline, current);
  cy = drawGraph(canvas, [...elements.nodes, ...elements.edges], { onSelect: select, edgeLabels: labels.checked });
  window.glimpseMap = cy;
  canvas.dataset.graphNodes = String(graph.elements.nodes.length);
  canvas.dataset.graphEdges = String(graph.elements.edges.length);
  fit.addEventListener("click", () => cy.fit(undefined, 24));
  relayout.addEventListener("click", () => cy.layout({ name: "dagre", rankDir: "LR", nodeSep: 28, rankSep: 90, padding: 24 }).run());
  if (focus && cy.getElementById(focus).length) {
    const node = cy.getElementById(focus);
    node.select();
    select(node);
  } else select(null);
}

function mergeDiff(elements, before, changes) {
  const nodeIds = new Set(elements.nodes.map((n) => n.data.id));
  const edgeKey = (d) => `${d.source}->${d.target}`;
  const edgeIds = new Set(elements.edges.map((e) => edgeKey(e.data)));
  const newNodes = new Set(changes.new_nodes);
  const newEdges = new Set(changes.new_edges.map((e) => `${e.client}->${e.server}`));
  for (const node of elements.nodes) if (newNodes.has(node.data.id)) node.classes += " added";
  for (const edge of elements.edges) if (newEdges.has(edgeKey(edge.data))) edge.classes += " added";
  for (const node of before.nodes) if (!nodeIds.has(node.data.id)) elements.nodes.push(node);
  for (const edge of before.edges) if (!edgeIds.has(edgeKey(edge.data))) elements.edges.push({ ...edge, data: { ...edge.data, id: `${edge.data.id}#before` } });
  const byKey = new Map(elements.edges.map((e) => [edgeKey(e.data), e]));
  for (const change of changes.changed_edges) {
    const edge = byKey.get(`${change.client}->${change.server}`);
    if (!edge) continue;
    edge.classes += " changed";
    const text = changeText(change);
    edge.data.change = edge.data.change ? `${edge.data.change}; ${text}` : text;
  }
}

function changeText(c) {
  return c.signal === "error_rate" ? `errors ${fmtPct(c.baseline)} → ${fmtPct(c.current)}` : `median ${fmtMs(c.baseline)} → ${fmtMs(c.current)}`;
}

function kv(pairs) {
  return h("div", { class: "kv" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").flatMap(([k, v]) => [h("div", { class: "k" }, k), h("div", { class: "v" }, v)]));
}

function showSelection(side, cy, target, ctx, graph, diff, baseline, current) {
  side.replaceChildren();
  if (diff) side.append(diffSummary(cy, diff, baseline, current));
  if (!target) {
    const services = graph.elements.nodes.filter((n) => n.data.kind === "service");
    side.append(h("h2", {}, "This window"),
      h("div", { class: "stats" }, stat(String(graph.elements.nodes.length), "nodes"), stat(String(graph.elements.edges.length), "calls (edges)"),
        stat(String(services.length), "services")),
      h("p", { class: "muted" }, `${fmtTime(graph.data.since_ns)} → ${fmtTime(graph.data.until_ns)}`),
      h("h3", {}, "Busiest calls"),
      ...[...graph.elements.edges].sort((a, b) => b.data.calls - a.data.calls).slice(0, 8).map((e) =>
        h("div", { class: "neighbour" }, h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); const el = cy.getElementById(e.data.id); cy.elements().unselect(); el.select(); showSelection(side, cy, el, ctx, graph, diff, baseline, current); } },
          `${e.data.source} → ${e.data.target}`), h("span", { class: "num" }, `${fmtCount(e.data.calls)} calls`))));
    cy.elements().removeClass("faded");
    return;
  }
  cy.elements().addClass("faded");
  const d = target.data();
  if (target.isNode()) {
    target.closedNeighborhood().removeClass("faded");
    side.append(h("h2", {}, d.id, " ", h("span", { class: "badge" }, KIND_LABELS[d.kind] || d.kind)));
    if (d.kind === "service") {
      side.append(h("div", { class: "stats" }, stat(fmtRate(d.request_rate), "requests"),
        stat(h("span", { class: d.error_rate ? "bad" : "" }, fmtPct(d.error_rate)), "errors"), stat(fmtMs(d.p95_ms), "p95")),
      kv([["p50", fmtMs(d.p50_ms)], ["p99", fmtMs(d.p99_ms)], ["spans", fmtCount(d.span_count)], ["namespace", d.namespace],
        ["instances", d.instances?.split(",").join("\n")], ["hosts", d.hosts], ["zones", d.zones]]),
      h("p", {}, h("a", { href: href("traces", { service: d.id }) }, "Traces of this service →"), " · ",
        h("a", { href: href("services", { q: d.id }) }, "RED →")));
    }
    const edgeRow = (edge, other) => h("div", { class: "neighbour" },
      h("a", { href: "#", onclick: (ev) => { ev.preventDefault(); cy.elements().unselect(); edge.select(); showSelection(side, cy, edge, ctx, graph, diff, baseline, current); } }, other),
      h("span", { class: "num" }, `${fmtCount(edge.data("calls"))} calls · `, h("span", { style: { color: edge.data("error_rate") ? errorColor(edge.data("error_rate")) : "" } }, fmtPct(edge.data("error_rate"))),
        ` · p95 ${fmtMs(edge.data("client_p95_ms") ?? edge.data("server_p95_ms"))}`));
    const incoming = target.incomers("edge"), outgoing = target.outgoers("edge");
    side.append(h("h3", {}, `Called by (${incoming.length})`), ...incoming.map((e) => edgeRow(e, e.source().id())),
      h("h3", {}, `Calls (${outgoing.length})`), ...outgoing.map((e) => edgeRow(e, e.target().id())));
  } else {
    target.removeClass("faded");
    target.connectedNodes().removeClass("faded");
    side.append(h("h2", {}, `${d.source} → ${d.target}`),
      h("div", { class: "stats" }, stat(fmtCount(d.calls), "calls"),
        stat(h("span", { class: d.error_rate ? "bad" : "" }, fmtPct(d.error_rate)), `errors (${fmtCount(d.errors)})`),
        stat(fmtMs(d.client_p95_ms ?? d.server_p95_ms), "p95")),
      kv([["connection", d.connection_type], ["client p50/p95/p99", triple(d.client_p50_ms, d.client_p95_ms, d.client_p99_ms)],
        ["server p50/p95/p99", triple(d.server_p50_ms, d.server_p95_ms, d.server_p99_ms)],
        ["network gap (mean)", d.gap_mean_ms !== null ? fmtMs(d.gap_mean_ms) : null], ["hand-off (mean)", d.handoff_mean_ms !== null ? fmtMs(d.handoff_mean_ms) : null],
        ["first seen", d.first_seen], ["last seen", d.last_seen], ["change", d.change]]),
      h("p", {}, h("a", { href: href("traces", { service: d.source }) }, `Traces from ${d.source} →`)));
  }
}

function triple(a, b, c) {
  return a === null || a === undefined ? null : `${fmtMs(a)} / ${fmtMs(b)} / ${fmtMs(c)}`;
}

function diffSummary(cy, diff, baseline, current) {
  const items = [
    ...diff.new_nodes.map((n) => h("div", { class: "neighbour" }, h("span", { class: "ok" }, `+ ${n}`), "new node")),
    ...diff.vanished_nodes.map((n) => h("div", { class: "neighbour" }, h("span", { class: "muted" }, `− ${n}`), "vanished")),
    ...diff.new_edges.map((e) => h("div", { class: "neighbour" }, h("span", { class: "ok" }, `+ ${e.client} → ${e.server}`), "new call")),
    ...diff.vanished_edges.map((e) => h("div", { class: "neighbour" }, h("span", { class: "muted" }, `− ${e.client} → ${e.server}`), "vanished")),
    ...diff.changed_edges.map((c) => h("div", { class: "neighbour" }, h("span", { class: "warn" }, `${c.client} → ${c.server}`),
      h("span", { title: `${c.test}, p = ${c.p_value.toExponential(2)}` }, changeText(c)))),
  ];
  return h("div", { class: "diff-summary" }, h("h2", {}, "Changes"),
    h("p", { class: "muted" }, `baseline ${fmtTime(baseline.since, { millis: false })} → ${fmtTime(baseline.until, { millis: false })}`, h("br"),
      `current ${current.since ? fmtTime(current.since, { millis: false }) : "start"} → ${current.until ? fmtTime(current.until, { millis: false }) : "end"}`),
    items.length ? items : h("p", { class: "muted" }, "No significant change (Fisher's exact test for errors, Mann-Whitney U for latency, p < 0.01)."),
    h("hr", { style: { border: 0, borderTop: "1px solid var(--border)" } }));
}
