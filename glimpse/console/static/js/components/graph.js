// Service graphs drawn with Cytoscape.js and the dagre layout: the map page's and the root
// causes' (the incident on the map). Error rate as colour, peers (databases, queues, external
// APIs, outside callers) styled by kind.
import cytoscape from "cytoscape";
import dagre from "cytoscape-dagre";
import { cssVar, errorColor, mix } from "./util.js";

export const KIND_SHAPES = { service: "round-rectangle", database: "barrel", messaging: "rhomboid", external: "round-hexagon", user: "ellipse" };
export const KIND_LABELS = { service: "service", database: "database", messaging: "queue / topic", external: "external API", user: "users (outside callers)" };

function style() {
  const text = cssVar("--text"), muted = cssVar("--muted"), panel = cssVar("--panel");
  const widen = { external: 1.4, messaging: 1.3, user: 1.2 };
  const widthOf = (ele) => Math.max(70, Math.max(...ele.data("label").split("\n").map((l) => l.length)) * 7.4 + 22) * (widen[ele.data("kind")] || 1);
  return [
    { selector: "node", style: {
      label: "data(label)", "text-wrap": "wrap", "text-valign": "center", "text-halign": "center", "font-size": 12,
      "font-family": "system-ui, sans-serif", color: text, "background-color": panel, "border-width": 2.5,
      "border-color": (ele) => errorColor(ele.data("error_rate")), shape: (ele) => KIND_SHAPES[ele.data("kind")] || "round-rectangle",
      width: widthOf, height: (ele) => (ele.data("kind") === "service" ? 46 : 36), "line-height": 1.35 } },
    { selector: "node.service", style: { "font-weight": 600, "background-color": (ele) => mixPanel(errorColor(ele.data("error_rate")), panel) } },
    { selector: "node.database, node.messaging, node.external, node.user", style: {
      "border-style": "dashed", "border-color": (ele) => (ele.data("error_rate") ? errorColor(ele.data("error_rate")) : muted), color: muted } },
    { selector: "node.user", style: { "border-style": "dotted" } },
    { selector: "edge", style: {
      "curve-style": "bezier", "target-arrow-shape": "triangle", "arrow-scale": 0.9,
      width: (ele) => 1 + Math.min(5, Math.log10(1 + ele.data("calls"))),
      "line-color": (ele) => edgeColor(ele.data("error_rate"), muted, panel),
      "target-arrow-color": (ele) => edgeColor(ele.data("error_rate"), muted, panel),
      label: "", "font-size": 10, color: muted, "text-background-color": panel, "text-background-opacity": 0.9,
      "text-background-padding": 2, "text-rotation": "autorotate" } },
    { selector: "edge.labelled", style: { label: "data(label)" } },
    { selector: "edge[connection_type = 'messaging']", style: { "line-style": "dashed" } },
    { selector: ":selected", style: { "overlay-color": cssVar("--accent"), "overlay-opacity": 0.18, "overlay-padding": 6 } },
    { selector: ".faded", style: { opacity: 0.18 } },
    { selector: ".highlight", style: { "border-width": 5, "border-color": cssVar("--bad"), "underlay-color": cssVar("--bad"), "underlay-opacity": 0.25, "underlay-padding": 8 } },
    { selector: "edge.highlight", style: { "line-color": cssVar("--bad"), "target-arrow-color": cssVar("--bad"), width: 5 } },
    { selector: ".added", style: { "border-color": "#2fb26b", "line-color": "#2fb26b", "target-arrow-color": "#2fb26b", "border-width": 4 } },
    { selector: ".vanished", style: { opacity: 0.45, "line-style": "dashed", "border-style": "dashed", "border-color": muted, "line-color": muted } },
    { selector: "edge.changed", style: { "line-color": "#e67e22", "target-arrow-color": "#e67e22", width: 5, label: "data(change)", color: "#e67e22", "font-weight": 600 } },
  ];
}

// Calls are grey until 0.5 % fail, then amber to red (5 % and more).
function edgeColor(rate, muted, panel) {
  return rate >= 0.005 ? mix("#e9b018", "#e5484d", Math.min(1, (rate - 0.005) / 0.045)) : mixPanel(muted, panel, 0.55);
}

function mixPanel(color, panel, amount = 0.12) {
  if (!/^#[0-9a-f]{6}$/i.test(panel)) return panel;
  const a = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
  const b = [1, 3, 5].map((i) => parseInt(panel.slice(i, i + 2), 16));
  return "#" + b.map((v, i) => Math.round(v + (a[i] - v) * amount).toString(16).padStart(2, "0")).join("");
}

let layoutRegistered = false; // cytoscape.use(dagre) on the first drawing, not at import

/** Draw a graph in `container`; returns the Cytoscape instance. */
export function drawGraph(container, elements, { onSelect, highlight = [], edgeLabels = false } = {}) {
  if (!layoutRegistered) {
    cytoscape.use(dagre);
    layoutRegistered = true;
  }
  const cy = cytoscape({
    container, elements, style: style(), minZoom: 0.15, maxZoom: 4,
    layout: { name: "dagre", rankDir: "LR", nodeSep: 28, rankSep: 90, edgeSep: 12, padding: 24 },
  });
  cy.edges().toggleClass("labelled", edgeLabels);
  const marked = new Set(highlight);
  cy.nodes().filter((n) => marked.has(n.id())).addClass("highlight");
  cy.on("tap", "node, edge", (event) => onSelect && onSelect(event.target));
  cy.on("tap", (event) => { if (event.target === cy && onSelect) onSelect(null); });
  const retheme = () => cy.style(style());
  window.addEventListener("glimpse-theme", retheme);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", retheme);
  container.dataset.nodes = String(cy.nodes().length);
  container.dataset.edges = String(cy.edges().length);
  return cy;
}
