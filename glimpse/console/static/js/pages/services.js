// Services: rate, errors and duration (RED) per service, with sparklines, filter and sort.
import { href } from "../router.js";
import { chartBox, timeChart } from "../components/charts.js";
import {
  api, bar, dataTable, errorColor, fmtCount, fmtMs, fmtPct, fmtRate, h, notice, serviceColor, sparkline, stat,
} from "../components/util.js";

export async function render(root, ctx) {
  const data = await api("/api/services", { since: ctx.window.since, until: ctx.window.until });
  const services = data.services;
  const requests = services.reduce((sum, s) => sum + s.requests, 0);
  const errors = services.reduce((sum, s) => sum + s.errors, 0);
  const seconds = (data.window.until_ns - data.window.since_ns) / 1e9;
  const filter = h("input", { type: "search", placeholder: "Filter services…", "aria-label": "filter services", value: ctx.params.get("q") || "" });
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, "Services"),
      h("span", { class: "sub" }, `requests are server and consumer spans · ${data.bucket_s} s buckets`)),
    h("div", { class: "card" }, h("div", { class: "stats" },
      stat(String(services.length), "services"),
      stat(fmtRate(requests / Math.max(seconds, 1e-9)), "requests (all services)"),
      stat(h("span", { class: errors ? "bad" : "" }, fmtPct(requests ? errors / requests : 0)), "error rate"),
      stat(fmtCount(requests), "requests in window"))),
  );
  if (!services.length) {
    root.append(h("div", { class: "card" }, notice("No spans in this window", "Send OTLP to glimpse, or pick a wider window.")));
    return;
  }
  const maxRate = Math.max(...services.map((s) => s.rate_per_s), 1e-9);
  const table = dataTable([
    { key: "service", label: "Service", render: (s) => h("span", { class: "chip", style: { background: "none" } },
      h("span", { class: "dot", style: { background: serviceColor(s.service) } }), h("strong", {}, s.service)) },
    { key: "rate_per_s", label: "Rate", num: true, render: (s) => fmtRate(s.rate_per_s) },
    { key: "rate_spark", label: "Rate over time", sort: false, render: (s) => sparkline(s.series.rate_per_s, { color: serviceColor(s.service) }) },
    { key: "error_rate", label: "Errors", num: true, render: (s) => h("span", { class: s.error_rate > 0.01 ? "bad" : s.error_rate > 0 ? "warn" : "" }, fmtPct(s.error_rate)) },
    { key: "err_spark", label: "Errors over time", sort: false, render: (s) => sparkline(s.series.error_rate, { color: "#e5484d", max: Math.max(0.05, ...s.series.error_rate.filter((v) => v !== null)) }) },
    { key: "p50_ms", label: "p50", num: true, render: (s) => fmtMs(s.p50_ms) },
    { key: "p95_ms", label: "p95", num: true, render: (s) => fmtMs(s.p95_ms) },
    { key: "p99_ms", label: "p99", num: true, render: (s) => fmtMs(s.p99_ms) },
    { key: "p95_spark", label: "p95 over time", sort: false, render: (s) => sparkline(s.series.p95_ms, { color: "#9b59b6" }) },
    { key: "load", label: "Share of requests", sort: (s) => s.rate_per_s, render: (s) => bar(s.rate_per_s / maxRate, serviceColor(s.service)) },
    { key: "span_count", label: "Spans", num: true, render: (s) => fmtCount(s.span_count) },
    { key: "links", label: "", sort: false, render: (s) => h("span", { style: { whiteSpace: "nowrap" } },
      h("a", { href: href("traces", { service: s.service }) }, "traces"), " · ",
      h("a", { href: href("map", { focus: s.service }) }, "map")) },
  ], services, {
    sortKey: "rate_per_s",
    filter: (s) => s.service,
    rowClass: () => "service-row",
    detail: (s) => serviceDetail(s, ctx),
  });
  table.id = "services-table";
  filter.addEventListener("input", () => table.setFilter(filter.value));
  if (filter.value) table.setFilter(filter.value);
  root.append(h("div", { class: "toolbar" }, filter, h("span", { class: "muted" }, "Click a row for its charts and operations.")),
    h("div", { class: "card flush" }, table));
}

function serviceDetail(service, ctx) {
  const box = h("div", {}, h("div", { class: "muted" }, "Loading…"));
  const { t, rate_per_s: rate, error_rate: errors, p50_ms: p50, p95_ms: p95, p99_ms: p99 } = service.series;
  const color = serviceColor(service.service);
  const charts = h("div", { class: "grid3" });
  const parts = [
    ["Requests per second", [{ label: "rate", values: rate, color, fill: color + "22" }], fmtRate],
    ["Error rate", [{ label: "errors", values: errors, color: "#e5484d" }], (v) => fmtPct(v)],
    ["Duration", [{ label: "p50", values: p50, color: "#17a589" }, { label: "p95", values: p95, color: "#9b59b6" },
      { label: "p99", values: p99, color: "#e67e22", dash: [4, 3] }], fmtMs],
  ];
  box.replaceChildren(charts, h("h3", {}, "Operations"), h("div", { class: "ops muted" }, "Loading…"));
  requestAnimationFrame(() => {
    for (const [title, series, format] of parts) {
      const { box: chart, holder } = chartBox(title);
      charts.append(chart);
      timeChart(holder, { t, series, yFormat: format, height: 150 });
    }
  });
  api("/api/services", { since: ctx.window.since, until: ctx.window.until, service: service.service }).then((detail) => {
    const ops = dataTable([
      { key: "operation", label: "Operation", render: (o) => h("a", { href: href("traces", { service: service.service, operation: o.operation }) }, o.operation) },
      { key: "kind", label: "Kind", render: (o) => h("span", { class: "badge" }, o.kind) },
      { key: "rate_per_s", label: "Rate", num: true, render: (o) => fmtRate(o.rate_per_s) },
      { key: "error_rate", label: "Errors", num: true, render: (o) => h("span", { style: { color: o.error_rate ? errorColor(o.error_rate) : "" } }, fmtPct(o.error_rate)) },
      { key: "p50_ms", label: "p50", num: true, render: (o) => fmtMs(o.p50_ms) },
      { key: "p95_ms", label: "p95", num: true, render: (o) => fmtMs(o.p95_ms) },
      { key: "p99_ms", label: "p99", num: true, render: (o) => fmtMs(o.p99_ms) },
    ], detail.operations, { sortKey: "rate_per_s" });
    box.querySelector(".ops").replaceWith(h("div", { class: "card flush" }, ops));
  }).catch((error) => { box.querySelector(".ops").textContent = error.message; });
  return box;
}
