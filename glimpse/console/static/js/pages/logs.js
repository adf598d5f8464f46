// Logs: search log records by service, severity, template, trace, span and text, newest first,
// each linked to its trace (the waterfall with its span opened); or the window's templates with
// their counts, each linked to its records.
import { href } from "../router.js";
import { api, errorBox, fmtCount, fmtTime, h, notice, serviceChip, severityBadge } from "../components/util.js";

const SEARCH_KEYS = ["service", "severity", "template", "trace_id", "span_id", "text", "limit"];
const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

export async function render(root, ctx) {
  const p = ctx.params;
  const view = p.get("view") === "templates" ? "templates" : "records";
  const field = (label, input, wide) => h("label", { class: "field", style: wide ? { gridColumn: "span 2" } : undefined }, label, input);
  const names = h("datalist", { id: "log-services" }, (ctx.extent.service_names || []).map((name) => h("option", { value: name })));
  const inputs = {
    service: h("input", { name: "service", list: "log-services", placeholder: "any service", value: p.get("service") || "" }),
    severity: h("select", { name: "severity" }, h("option", { value: "" }, "Any severity"),
      LEVELS.map((level) => h("option", { value: level, selected: level === (p.get("severity") || "").toUpperCase() }, `${level} and above`))),
    template: h("input", { name: "template", placeholder: "template id, or text with <*>", value: p.get("template") || "" }),
    trace_id: h("input", { name: "trace_id", class: "mono", placeholder: "32 hex digits", value: p.get("trace_id") || "" }),
    span_id: h("input", { name: "span_id", class: "mono", placeholder: "16 hex digits", value: p.get("span_id") || "" }),
    text: h("input", { name: "text", placeholder: "any case", value: p.get("text") || "" }),
    limit: h("select", { name: "limit" }, ["50", "100", "500", "1000"].map((n) => h("option", { value: n, selected: n === (p.get("limit") || "100") }, `${n} ${view}`))),
  };
  const form = h("form", { class: "search-form", id: "log-search" }, names,
    field("Service", inputs.service), field("Severity", inputs.severity), field("Template", inputs.template, true),
    field("Trace ID", inputs.trace_id, true), field("Span ID", inputs.span_id), field("Message contains", inputs.text),
    field("Limit", inputs.limit), h("button", { class: "btn primary", type: "submit" }, view === "templates" ? "List templates" : "Find records"));
  const search = (overrides = {}) => {
    const params = {};
    for (const key of ["range", "since", "until"]) if (p.get(key)) params[key] = p.get(key);
    for (const key of SEARCH_KEYS) params[key] = inputs[key].value.trim();
    params.view = view === "templates" ? "templates" : "";
    return href("logs", Object.assign(params, overrides));
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = search();
  });
  const toggle = h("div", { class: "toolbar", style: { marginBottom: 0 } },
    h("a", { class: "btn-link", id: "log-view-records", "aria-current": view === "records" ? "page" : undefined, href: search({ view: "" }) }, "Records"),
    h("a", { class: "btn-link", id: "log-view-templates", "aria-current": view === "templates" ? "page" : undefined, href: search({ view: "templates" }) }, "Templates"));
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Logs"), h("span", { class: "sub" },
    "log records in record time; templates are mined (drain3) from the window's masked messages"), h("div", { class: "spacer" }), toggle),
  h("div", { class: "card" }, form));

  const query = { since: ctx.window.since, until: ctx.window.until };
  for (const key of SEARCH_KEYS) if (p.get(key)) query[key] = p.get(key);
  if (!query.limit) query.limit = "100";
  const results = h("div", { id: "log-results" }, h("p", { class: "muted" }, "Searching…"));
  root.append(results);
  let found;
  try {
    found = await api(view === "templates" ? "/api/logs/templates" : "/api/logs", query);
  } catch (error) {
    results.replaceChildren(errorBox(error));
    return;
  }
  const filters = Object.fromEntries(SEARCH_KEYS.filter((key) => key !== "limit" && p.get(key)).map((key) => [key, p.get(key)]));
  if (view === "templates") results.replaceChildren(templateTable(found, filters));
  else results.replaceChildren(recordTable(found, filters));
}

function recordTable(found, filters) {
  if (!found.records.length) return h("div", { class: "card" }, notice("No log record matches", "Widen the time window or remove a filter."));
  const rows = found.records.map((record) => h("tr", { class: "log-row", dataset: { traceId: record.trace_id, spanId: record.span_id } },
    h("td", { class: "num muted" }, fmtTime(record.time_ns)),
    h("td", {}, serviceChip(record.service), record.instance ? h("div", { class: "muted small" }, record.instance) : ""),
    h("td", {}, severityBadge(record.severity, `${record.severity_text || "no text"} (${record.severity_number})`)),
    h("td", {}, record.template_id ? h("a", { class: "mono template-link", title: record.template, href: href("logs", { ...filters, template: record.template_id }) }, record.template_id) : ""),
    h("td", { class: "log-message" }, h("div", { class: "mono" }, record.message), record.location ? h("div", { class: "muted small" }, record.location) : ""),
    h("td", {}, record.trace_id
      ? h("a", { class: "mono trace-link", title: `open trace ${record.trace_id}${record.span_id ? ` at span ${record.span_id}` : ""}`,
        href: href("trace", record.span_id ? { span: record.span_id } : {}, record.trace_id) }, `${record.trace_id.slice(0, 12)}…`)
      : h("span", { class: "muted" }, "–"))));
  return h("div", {},
    h("div", { class: "card flush" }, h("table", { class: "data", id: "log-table" },
      h("thead", {}, h("tr", {}, ["Time", "Service", "Severity", "Template", "Message", "Trace"].map((label) => h("th", {}, label)))),
      h("tbody", {}, rows))),
    h("p", { class: "muted" }, `${found.records.length}${found.truncated ? "+" : ""} records, newest first`,
      found.truncated ? "; raise the limit or narrow the search for more." : "."));
}

function templateTable(found, filters) {
  if (!found.templates.length) return h("div", { class: "card" }, notice("No template", "No log record matches in this window."));
  const rows = found.templates.map((entry) => h("tr", { class: "template-row", dataset: { templateId: entry.template_id } },
    h("td", {}, h("div", { class: "mono" }, entry.template), h("div", { class: "muted small" }, "e.g. ", entry.example,
      entry.location ? ` (${entry.location})` : "")),
    h("td", {}, h("a", { class: "mono template-link", href: href("logs", { ...filters, template: entry.template_id }) }, entry.template_id)),
    h("td", { class: "num" }, fmtCount(entry.count)),
    h("td", {}, Object.entries(entry.severities).map(([level, count]) => h("span", { class: "sev-count" }, severityBadge(level), ` ${fmtCount(count)}`))),
    h("td", {}, Object.entries(entry.services).map(([name, count]) => serviceChip(name, h("span", { class: "muted" }, fmtCount(count))))),
    h("td", { class: "num muted" }, fmtTime(entry.first_ns), h("br"), fmtTime(entry.last_ns))));
  return h("div", {},
    h("div", { class: "card flush" }, h("table", { class: "data", id: "template-table" },
      h("thead", {}, h("tr", {}, ["Template", "ID", "Records", "Severities", "Services", "First / last seen"]
        .map((label, i) => h("th", { class: i === 2 ? "num" : "" }, label)))),
      h("tbody", {}, rows))),
    h("p", { class: "muted" }, `${found.templates.length}${found.truncated ? "+" : ""} templates over ${found.record_sample ? "about " : ""}${fmtCount(found.records)} records, most frequent first.`,
      found.record_sample ? ` Below ${found.record_sample.levels_below}, 1 record in ${fmtCount(found.record_sample.one_in)} was read and counts are estimated; narrow the window for exact counts.` : ""));
}
