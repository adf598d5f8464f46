// The span-time window picker in the top bar: presets relative to the newest span in the
// store (analysis is in span time), or a custom range.
import { WINDOW_KEYS } from "../router.js";
import { fmtTime, fromLocalInput, h, toLocalInput } from "./util.js";

const RANGES = [["all", "All data"], ["5m", "Last 5 min"], ["15m", "Last 15 min"], ["1h", "Last hour"],
  ["6h", "Last 6 hours"], ["24h", "Last 24 hours"], ["custom", "Custom…"]];

/** Fill #window-picker for the page being shown (ctx: page, arg, params, extent, window). */
export function windowPicker(ctx) {
  const box = document.getElementById("window-picker");
  const { extent, window: win } = ctx;
  const select = h("select", { "aria-label": "time window", id: "range" },
    RANGES.map(([value, label]) => h("option", { value, selected: value === win.range }, label)));
  const since = h("input", { type: "datetime-local", step: 1, value: win.since ? toLocalInput(win.since) : extent.first_ns ? toLocalInput(extent.first_ns) : "" });
  const until = h("input", { type: "datetime-local", step: 1, value: win.until ? toLocalInput(win.until) : extent.last_ns ? toLocalInput(BigInt(extent.last_ns) + 1_000_000_000n) : "" });
  const custom = h("span", { style: { display: win.range === "custom" ? "inline-flex" : "none", gap: "6px" } }, since, "→", until,
    h("button", { class: "btn small", onclick: () => apply("custom") }, "Apply"));
  function apply(range) {
    const params = Object.fromEntries(ctx.params);
    for (const key of WINDOW_KEYS) delete params[key];
    if (range === "custom") Object.assign(params, { range, since: fromLocalInput(since.value), until: fromLocalInput(until.value) });
    else params.range = range; // "all" too: without a range the page takes the store's default
    location.hash = `#/${ctx.page}${ctx.arg ? "/" + encodeURIComponent(ctx.arg) : ""}?${new URLSearchParams(params)}`;
  }
  select.addEventListener("change", () => {
    if (select.value === "custom") custom.style.display = "inline-flex"; else apply(select.value);
  });
  const span = extent.first_ns === null ? "no data yet"
    : `data ${fmtTime(extent.first_ns, { millis: false })} → ${fmtTime(extent.last_ns, { date: false, millis: false })}`;
  box.replaceChildren(h("span", { class: "extent", title: "span time of the oldest and newest span in the store" }, span), select, custom);
}
