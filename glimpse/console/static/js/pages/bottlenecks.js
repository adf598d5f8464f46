// Bottlenecks: operations ranked by their share of critical-path time across traces,
// per endpoint (top-down) and shared by endpoints (bottom-up), with the patterns found.
import { href } from "../router.js";
import { api, bar, dataTable, fmtCount, fmtNs, fmtPct, h, notice, serviceChip, serviceColor, stat, traceLink } from "../components/util.js";

const PATTERNS = {
  n_plus_one: ["N+1 calls", "the same operation called one after another; batch them"],
  sequential_calls: ["Sequential calls", "independent calls made one after another; run them in parallel"],
  uninstrumented_gap: ["Uninstrumented gap", "time inside a span that no child covers; instrument or investigate"],
  retries: ["Retries", "failed attempts followed by another"],
  fan_out: ["Fan-out", "a span with very many direct children"],
  slow_handoff: ["Slow hand-off", "a consumer starting long after its producer ended"],
};

/** "frontend GET /checkout" (a top-down key) -> "frontend:GET /checkout" (the endpoint parameter). */
function endpointParam(key) {
  const space = key.indexOf(" ");
  return space < 0 ? key : `${key.slice(0, space)}:${key.slice(space + 1)}`;
}

export async function render(root, ctx) {
  const endpoint = ctx.params.get("endpoint") || "";
  const data = await api("/api/bottlenecks", { since: ctx.window.since, until: ctx.window.until, endpoint, limit: 25 });
  const pick = h("select", { "aria-label": "endpoint", id: "endpoint" }, h("option", { value: "" }, "All endpoints (root operations)"),
    Object.keys(data.top_down).map((key) => h("option", { value: endpointParam(key), selected: endpointParam(key) === endpoint }, key)));
  pick.addEventListener("change", () => { location.hash = href("bottlenecks", { endpoint: pick.value }); });
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Bottlenecks"),
    h("span", { class: "sub" }, "critical-path time per operation across traces (CRISP): what to make faster first"), h("div", { class: "spacer" }), pick),
  h("div", { class: "card" }, h("div", { class: "stats" }, stat(fmtCount(data.traces), "traces analysed"), stat(fmtCount(data.spans), "spans"),
    stat(fmtNs(data.critical_ns), "critical-path time"), stat(data.sampled_fraction < 1 ? fmtPct(data.sampled_fraction) : "all", "traces sampled"),
    stat(String(data.patterns.found.length), "patterns found"))));
  if (!data.traces) {
    root.append(h("div", { class: "card" }, notice("No traces in this window", "Pick a wider window.")));
    return;
  }
  const ranking = data.ranking.map((cost, i) => ({ ...cost, rank: i + 1 }));
  const maxShare = Math.max(...ranking.map((c) => c.share), 1e-9);
  const table = dataTable([
    { key: "rank", label: "#", num: true },
    { key: "operation", label: "Operation", sort: (c) => `${c.service} ${c.operation}`, render: (c) => h("span", {}, serviceChip(c.service), " ", h("strong", {}, c.operation)) },
    { key: "share", label: "Share of critical path", num: true, render: (c) => h("div", { style: { display: "flex", gap: "8px", alignItems: "center", justifyContent: "flex-end" } },
      h("span", {}, fmtPct(c.share)), h("div", { style: { width: "140px" } }, bar(c.share / maxShare, serviceColor(c.service)))) },
    { key: "total_ns", label: "Critical time", num: true, render: (c) => fmtNs(c.total_ns) },
    { key: "traces", label: "Traces", num: true, render: (c) => fmtCount(c.traces) },
    { key: "p50_ns", label: "p50 / trace", num: true, render: (c) => fmtNs(c.p50_ns) },
    { key: "p95_ns", label: "p95", num: true, render: (c) => fmtNs(c.p95_ns) },
    { key: "p99_ns", label: "p99", num: true, render: (c) => fmtNs(c.p99_ns) },
    { key: "endpoints", label: "Endpoints slowed", sort: (c) => c.endpoints.length, render: (c) => h("span", { class: "muted" }, c.endpoints.slice(0, 3).join(", "), c.endpoints.length > 3 ? ` +${c.endpoints.length - 3}` : "") },
    { key: "examples", label: "Slowest traces", sort: false, render: (c) => h("span", {}, c.example_trace_ids.slice(0, 3).map((id, i) => [i ? " " : "", traceLink(id, id.slice(0, 8))])) },
  ], ranking, { sortKey: "share" });
  table.id = "bottleneck-ranking";
  root.append(h("div", { class: "card flush" }, table));

  const found = data.patterns.found;
  root.append(h("h2", { style: { marginTop: "18px" } }, "Patterns", h("span", { class: "muted", style: { fontWeight: 400 } }, ` in the first ${fmtCount(data.patterns.traces_scanned)} traces, largest estimated saving first`)));
  if (!found.length) root.append(h("div", { class: "card" }, notice("No pattern found", "No N+1, sequential calls, gaps, retries, fan-out or slow hand-offs.")));
  else {
    root.append(h("div", { class: "card flush" }, h("table", { class: "data", id: "patterns" },
      h("thead", {}, h("tr", {}, h("th", {}, "Pattern"), h("th", {}, "Where"), h("th", { class: "num" }, "Occurrences"), h("th", { class: "num" }, "Traces"),
        h("th", { class: "num" }, "Estimated saving"), h("th", {}, "Examples"))),
      h("tbody", {}, found.map((f) => h("tr", {},
        h("td", {}, h("span", { class: "badge accent", title: (PATTERNS[f.pattern] || [])[1] }, (PATTERNS[f.pattern] || [f.pattern])[0]),
          h("div", { class: "muted", style: { fontSize: "12px" } }, (PATTERNS[f.pattern] || [])[1] || "")),
        h("td", {}, serviceChip(f.service), " ", f.operation),
        h("td", { class: "num" }, fmtCount(f.occurrences)), h("td", { class: "num" }, fmtCount(f.traces)),
        h("td", { class: "num" }, fmtNs(f.estimated_saving_ns)),
        h("td", {}, f.examples.slice(0, 3).map((e) => h("div", {},
          h("a", { href: href("trace", { span: e.span_ids }, e.trace_id), class: "mono" }, e.trace_id.slice(0, 8)),
          h("span", { class: "muted" }, ` ${e.note || ""} (saves ${fmtNs(e.saving_ns)})`))))))))));
  }

  const shared = data.bottom_up;
  if (shared.length) {
    root.append(h("h2", { style: { marginTop: "18px" } }, "Shared by several endpoints", h("span", { class: "muted", style: { fontWeight: 400 } }, " (bottom-up: fixing one helps many)")),
      h("div", { class: "card flush" }, dataTable([
        { key: "operation", label: "Operation", render: (c) => h("span", {}, serviceChip(c.service), " ", c.operation) },
        { key: "endpoints", label: "Endpoints", sort: (c) => c.endpoints.length, render: (c) => c.endpoints.join(", ") },
        { key: "share", label: "Share", num: true, render: (c) => fmtPct(c.share) },
        { key: "total_ns", label: "Critical time", num: true, render: (c) => fmtNs(c.total_ns) },
      ], shared, { sortKey: "endpoints" })));
  }
}
