// SQL: read-only queries over the store, a table of the rows, CSV download.
import { errorBox, download, fmtCount, h, postJson } from "../components/util.js";

const EXAMPLES = [
  ["Spans per service", "SELECT service_name, count(*) AS spans, round(avg(duration) / 1e6, 2) AS avg_ms\nFROM otel_traces\nGROUP BY ALL\nORDER BY spans DESC"],
  ["Slowest operations", "SELECT service_name, span_name, count(*) AS calls,\n       round(quantile_cont(duration, 0.95) / 1e6, 2) AS p95_ms\nFROM otel_traces\nGROUP BY ALL\nORDER BY p95_ms DESC\nLIMIT 20"],
  ["Errors", "SELECT timestamp, service_name, span_name, status_message, trace_id\nFROM otel_traces\nWHERE status_code = 'Error'\nORDER BY timestamp DESC\nLIMIT 100"],
  ["Calls between services", "SELECT client_service, server_service, count(*) AS calls,\n       round(avg(client_duration) / 1e6, 2) AS avg_ms\nFROM otel_calls\nGROUP BY ALL\nORDER BY calls DESC"],
  ["Trace summaries", "SELECT * FROM otel_trace_summary ORDER BY duration DESC LIMIT 50"],
];

const STORAGE_KEY = "glimpse-sql";

export function toCsv(columns, rows) {
  const cell = (value) => {
    if (value === null || value === undefined) return "";
    const text = typeof value === "object" ? JSON.stringify(value) : String(value);
    return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
  };
  return [columns.map(cell).join(","), ...rows.map((row) => row.map(cell).join(","))].join("\r\n") + "\r\n";
}

export async function render(root, ctx) {
  const initial = ctx.params.get("q") || localStorage.getItem(STORAGE_KEY) || EXAMPLES[0][1];
  const editor = h("textarea", { class: "sql", id: "sql-input", spellcheck: "false", "aria-label": "SQL" }, initial);
  const maxRows = h("select", { "aria-label": "row cap" }, ["100", "1000", "10000", "100000"].map((n) => h("option", { value: n, selected: n === "1000" }, `${fmtCount(Number(n))} rows max`)));
  const run = h("button", { class: "btn primary", id: "sql-run" }, "Run  ⌘/Ctrl+Enter");
  const csv = h("button", { class: "btn", id: "sql-csv", disabled: true }, "Download CSV");
  const output = h("div", { id: "sql-output" });
  let last = null;
  root.append(h("div", { class: "page-head" }, h("h1", {}, "SQL"), h("span", { class: "sub" }, "read-only DuckDB SQL over otel_traces, otel_logs, otel_metrics_*, otel_calls, otel_trace_summary")),
    h("div", { class: "card" }, editor,
      h("div", { class: "toolbar", style: { marginTop: "10px", marginBottom: 0 } }, run, maxRows, csv, h("div", { class: "spacer" }),
        h("span", { class: "muted" }, "Examples: "), EXAMPLES.map(([label, sql]) => h("button", { class: "btn small", onclick: () => { editor.value = sql; execute(); } }, label)))),
    output);
  async function execute() {
    localStorage.setItem(STORAGE_KEY, editor.value);
    run.disabled = true;
    output.replaceChildren(h("p", { class: "muted" }, "Running…"));
    try {
      last = await postJson("/api/sql", { sql: editor.value, max_rows: Number(maxRows.value) });
      csv.disabled = false;
      output.replaceChildren(resultTable(last));
    } catch (error) {
      last = null;
      csv.disabled = true;
      output.replaceChildren(errorBox(error));
    } finally {
      run.disabled = false;
    }
  }
  run.addEventListener("click", execute);
  editor.addEventListener("keydown", (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); execute(); } });
  csv.addEventListener("click", () => last && download("glimpse-query.csv", toCsv(last.columns, last.rows)));
  await execute();
}

function resultTable(result) {
  const render = (value) => (value === null ? h("span", { class: "muted" }, "NULL") : typeof value === "object" ? JSON.stringify(value) : String(value));
  return h("div", { class: "card flush" },
    h("div", { class: "pad muted", style: { padding: "8px 12px" }, id: "sql-summary" },
      `${fmtCount(result.rows.length)} row${result.rows.length === 1 ? "" : "s"} in ${result.elapsed_ms} ms`, result.truncated ? " · truncated at the row cap" : ""),
    h("div", { class: "sql-result" }, h("table", { class: "data", id: "sql-table" },
      h("thead", {}, h("tr", {}, result.columns.map((name, i) => h("th", {}, name, h("span", { class: "type" }, result.types[i].toLowerCase()))))),
      h("tbody", {}, result.rows.map((row) => h("tr", {}, row.map((value) => h("td", { title: typeof value === "object" && value !== null ? JSON.stringify(value) : String(value) }, render(value)))))))));
}
